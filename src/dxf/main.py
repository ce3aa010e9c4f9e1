"""The ``dxf`` command: python-dxf 12.1.1's command-line tool, over our library.

``dxf <command> <repo> [args...]`` (also ``python -m dxf``). Two entry points, as in python-dxf:

* :func:`doit` ``(argv, environ)`` keeps python-dxf's contract for code that calls it directly: it
  returns ``0`` on success, ``13`` (``errno.EACCES``) after :class:`~dxf.exceptions.DXFUnauthorizedError`
  and ``2`` (``errno.ENOENT``) after a 404, printing one line for those two; it raises every other
  failure to its caller (``requests`` connection and TLS errors, ``DXFDigestMismatchError``, other HTTP
  errors, a bad environment variable (:class:`ConfigError`), ``KeyboardInterrupt``...), and
  ``SystemExit(2)`` after printing the usage for a command-line mistake, as argparse does.
* :func:`main` (the console script) runs the same thing through :func:`run_command`, which turns every
  failure into one line, ``dxf: <command> <repo> <args...>: <reason>``, and an exit status (no
  traceback unless ``--debug`` or ``DXF_DEBUG``), and makes SIGTERM and SIGHUP clean up as Ctrl-C does.

Both write to ``sys.stdout`` / ``sys.stderr`` as they are when called and read only the environment
they are given. This module holds only those entry points; the command itself is the :mod:`dxf.cli`
package: :mod:`~dxf.cli.table` (every command's facts), :mod:`~dxf.cli.grammar` (help, parsing,
argument checks), :mod:`~dxf.cli.environment` (``DXF_*`` settings), :mod:`~dxf.cli.commands` (running
them), :mod:`~dxf.cli.errors` (exception -> exit status and one line, credential redaction, signals)
and :mod:`~dxf.cli.progress` (progress bars).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Mapping, Sequence

import requests

from . import exceptions as dxf_exceptions
from .cli.commands import execute
from .cli.environment import ConfigError
from .cli.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_OK,
    EXIT_USAGE,
    classify,
    describe,
    fail,
    http_status,
    interruption_reason,
    interruption_status,
    redact,
    report,
    terminating_signals,
)
from .cli.grammar import Invocation, parse_argv
from .cli.table import COMMANDS

__all__ = [
    "COMMANDS",
    "ConfigError",
    "Invocation",
    "classify",
    "describe",
    "doit",
    "main",
    "parse_argv",
    "redact",
    "run_command",
]


def doit(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """Run ``dxf`` with ``argv`` (without the program name) and ``environ``, as python-dxf's ``doit``.

    Returns 0 on success, 13 (``EACCES``) when the registry refused the credentials and 2
    (``ENOENT``) for a 404, after printing one line; raises every other failure, and ``SystemExit(2)``
    (usage printed) for a command-line mistake. :func:`run_command` is the variant that never raises.
    """
    parsed = parse_argv(argv)
    if isinstance(parsed, int):
        return parsed
    return _doit_parsed(parsed, environ)


def _doit_parsed(inv: Invocation, environ: Mapping[str, str]) -> int:
    """:func:`doit` after parsing: python-dxf's two statuses returned, everything else raised."""
    try:
        execute(inv, environ)
    except dxf_exceptions.DXFUnauthorizedError as e:
        return fail(inv, e, environ)
    except requests.exceptions.HTTPError as e:
        if http_status(e) != 404:
            raise
        return fail(inv, e, environ)
    return EXIT_OK


def run_command(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    """:func:`doit`, with every failure turned into one line and an exit status: what the ``dxf``
    command does (see the README's exit statuses). Never raises, except for ``SystemExit`` from
    ``sys.exit`` elsewhere; argparse's is returned as its status."""
    inv: Invocation | None = None
    try:
        parsed = parse_argv(argv)
        if isinstance(parsed, int):
            return parsed
        inv = parsed
        return _doit_parsed(inv, environ)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    except KeyboardInterrupt as e:  # Ctrl-C, and SIGTERM/SIGHUP through terminating_signals()
        report(describe(inv) if inv is not None else "", interruption_reason(e), environ)
        return interruption_status(e)
    except BrokenPipeError:  # the reader went away (dxf pull-blob ... | head): nothing to say
        return EXIT_BROKEN_PIPE
    except ConfigError as e:
        report(describe(inv) if inv is not None else "", str(e), environ)
        return EXIT_USAGE
    except Exception as e:
        return fail(inv, e, environ)


def main() -> None:
    """Console entry point (``dxf`` and ``python -m dxf``): :func:`run_command` on ``sys.argv``.

    The objects every import made (modules, classes, functions: most of the process's objects) are
    moved out of the cyclic garbage collector's reach first (:func:`gc.freeze`): they live until the
    process ends anyway, and the collection the interpreter runs at exit no longer walks them. Measured
    on the project's 2-core machine: about 0.02 s less per command (of ~0.12 s start-up and teardown).
    """
    gc.freeze()
    with terminating_signals():
        code = run_command(sys.argv[1:], os.environ)
        code = _flush_stdout(code)
    sys.exit(code)


def _flush_stdout(code: int) -> int:
    """Flush standard output now, so that a reader that went away (``dxf pull-blob ... | head``)
    ends the command quietly instead of making the interpreter's exit complain."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
        return code
    except (BrokenPipeError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return code if code != EXIT_OK else EXIT_BROKEN_PIPE
