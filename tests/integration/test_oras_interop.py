"""Interop with oras-py (PyPI ``oras``), against the plain registry: what oras-py pushes, dxf pulls
under the same file names, and what dxf pushes, oras-py pulls under the same file names -- plain
files and a directory (packed as a tar, unpacked on pull) alike."""

from __future__ import annotations

from pathlib import Path

import oras.client
import pytest

import dxf
from harness.registry import RegistryProcess

FILES = {"a.txt": b"alpha\n", "model.bin": bytes(range(256)) * 40}
TREE = {"tree/one.txt": b"1", "tree/sub/two.txt": b"22"}


def make_inputs(root: Path) -> None:
    for name, content in {**FILES, **TREE}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)


def files_in(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def oras_client() -> oras.client.OrasClient:
    return oras.client.OrasClient(insecure=True)


def test_dxf_pulls_what_oras_pushes(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_inputs(src)
    monkeypatch.chdir(src)  # oras-py takes file names relative to the working directory as titles
    oras_client().push(target=f"{registry_plain.host}/{repo_name}:v1", files=["a.txt", "model.bin", "tree"])
    out = tmp_path / "out"
    dxf.DXF(registry_plain.host, repo_name, insecure=True).pull_artifact("v1", str(out))
    assert files_in(out) == {**FILES, **TREE}


def test_oras_pulls_what_dxf_pushes(registry_plain: RegistryProcess, repo_name: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_inputs(src)
    client = dxf.DXF(registry_plain.host, repo_name, insecure=True)
    client.push_artifact("v1", str(src / "a.txt"), str(src / "model.bin"), str(src / "tree"))
    out = tmp_path / "out"
    oras_client().pull(target=f"{registry_plain.host}/{repo_name}:v1", outdir=str(out))
    assert files_in(out) == {**FILES, **TREE}
