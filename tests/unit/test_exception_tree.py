"""Every exception the library can let escape is in :mod:`dxf.exceptions` and drawn in its tree."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import dxf
import dxf.exceptions

CLI = {"cli_args", "cli_env", "cli_errors", "main", "progress", "__main__", "cli"}


def _library_modules() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(dxf.__path__) if m.name not in CLI]


def test_no_library_module_defines_a_public_exception_of_its_own() -> None:
    elsewhere = []
    for name in _library_modules():
        module = importlib.import_module(f"dxf.{name}")
        for attr, value in vars(module).items():
            is_exception = inspect.isclass(value) and issubclass(value, BaseException)
            if is_exception and value.__module__ == module.__name__ and name != "exceptions":
                elsewhere.append(f"dxf.{name}.{attr}")
    assert elsewhere == []


def test_every_exception_class_is_drawn_in_the_tree() -> None:
    tree = dxf.exceptions.__doc__ or ""
    ours = [
        name
        for name, value in vars(dxf.exceptions).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == "dxf.exceptions"
    ]
    assert "DXFSessionLostError" in ours and "DXFTransferCancelledError" in ours
    assert [name for name in ours if name not in tree] == []
