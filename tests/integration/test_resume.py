"""Resuming a download in a later call (or process): ``pull_blob_to_file(resume=True)``, ``--resume``."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import dxf
from dxf.digest import Digest
from dxf.download import partial_path
from dxf.main import doit
from harness.proxy import FaultProxy
from harness.registry import RegistryProcess, harness_env

MiB = 1024 * 1024
SIZE = 24 * MiB


@pytest.fixture
def proxy(registry_plain: RegistryProcess) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", registry_plain.port) as p:
        yield p


@pytest.fixture
def pushed(registry_plain: RegistryProcess, repo_name: str) -> tuple[str, bytes]:
    data = os.urandom(SIZE)
    digest = dxf.DXF(registry_plain.host, repo_name, insecure=True).push_blob(
        data=[data], digest=dxf.hash_bytes(data)
    )
    return digest, data


def _client(host: str, repo: str, retries: int) -> dxf.DXF:
    return dxf.DXF(host, repo, insecure=True, retries=retries)


def test_broken_download_resumes_in_a_later_call(
    proxy: FaultProxy, repo_name: str, pushed: tuple[str, bytes], tmp_path: Path
) -> None:
    digest, data = pushed
    target = tmp_path / "out.bin"
    part = Path(partial_path(str(target), Digest.parse(digest)))
    proxy.cut_after(10 * MiB, "downstream")
    with pytest.raises(requests.exceptions.RequestException):
        _client(proxy.host, repo_name, retries=0).pull_blob_to_file(digest, str(target), resume=True)
    assert not target.exists()
    held = part.stat().st_size
    assert 0 < held <= 10 * MiB
    assert part.read_bytes() == data[:held]  # what was kept is exactly the blob's beginning

    before = proxy.bytes_downstream
    size = _client(proxy.host, repo_name, retries=0).pull_blob_to_file(digest, str(target), resume=True)
    assert size == SIZE and target.read_bytes() == data and not part.exists()
    # Only the rest came over the wire the second time (plus HTTP heads).
    assert proxy.bytes_downstream - before < SIZE - held + 64 * 1024


def test_without_resume_a_broken_download_leaves_nothing(
    proxy: FaultProxy, repo_name: str, pushed: tuple[str, bytes], tmp_path: Path
) -> None:
    digest, _ = pushed
    proxy.cut_after(5 * MiB, "downstream")
    with pytest.raises(requests.exceptions.RequestException):
        _client(proxy.host, repo_name, retries=0).pull_blob_to_file(digest, str(tmp_path / "out.bin"))
    assert os.listdir(tmp_path) == []


def test_a_corrupt_partial_file_is_rejected_and_removed(
    registry_plain: RegistryProcess, repo_name: str, pushed: tuple[str, bytes], tmp_path: Path
) -> None:
    digest, data = pushed
    target = tmp_path / "out.bin"
    part = Path(partial_path(str(target), Digest.parse(digest)))
    part.write_bytes(b"X" + data[1 : 3 * MiB])  # right length, wrong first byte
    with pytest.raises(dxf.exceptions.DXFDigestMismatchError):
        _client(registry_plain.host, repo_name, retries=0).pull_blob_to_file(digest, str(target), resume=True)
    assert os.listdir(tmp_path) == []


def test_a_complete_partial_file_needs_no_more_bytes(
    registry_plain: RegistryProcess, repo_name: str, pushed: tuple[str, bytes], tmp_path: Path
) -> None:
    digest, data = pushed
    target = tmp_path / "out.bin"
    Path(partial_path(str(target), Digest.parse(digest))).write_bytes(data)
    client = _client(registry_plain.host, repo_name, retries=0)
    assert client.pull_blob_to_file(digest, str(target), resume=True) == SIZE
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest[7:]
    assert os.listdir(tmp_path) == ["out.bin"]


def test_cli_resume(
    registry_plain: RegistryProcess,
    proxy: FaultProxy,
    repo_name: str,
    pushed: tuple[str, bytes],
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    digest, data = pushed
    target = tmp_path / "cli.bin"
    env = {**harness_env(registry_plain), "DXF_HOST": proxy.host, "DXF_RETRIES": "0"}
    proxy.cut_after(7 * MiB, "downstream")
    assert doit(["pull-blob", repo_name, digest, "-o", str(target), "--resume"], env) == 1
    assert not target.exists() and len(os.listdir(tmp_path)) == 1  # the partial file, hidden
    assert doit(["pull-blob", repo_name, digest, "-o", str(target), "--resume"], env) == 0
    assert target.read_bytes() == data and os.listdir(tmp_path) == ["cli.bin"]
    capsysbinary.readouterr()
    assert doit(["pull-blob", repo_name, digest, "--resume"], env) == 2
    assert b"--resume needs -o" in capsysbinary.readouterr().err
