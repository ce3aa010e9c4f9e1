"""Resuming a download in a later call (or process): ``pull_blob_to_file(resume=True)``, ``--resume``."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import requests

import dxf
from dxf.digest import Digest
from dxf.download import partial_path
from dxf.main import run_command
from harness.hooks import Exchanges
from harness.proxy import FaultProxy
from harness.registry import RegistryProcess, harness_env

MiB = 1024 * 1024
SIZE = 24 * MiB


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
    assert run_command(["pull-blob", repo_name, digest, "-o", str(target), "--resume"], env) == 1
    assert not target.exists() and len(os.listdir(tmp_path)) == 1  # the partial file, hidden
    assert run_command(["pull-blob", repo_name, digest, "-o", str(target), "--resume"], env) == 0
    assert target.read_bytes() == data and os.listdir(tmp_path) == ["cli.bin"]
    capsysbinary.readouterr()
    assert run_command(["pull-blob", repo_name, digest, "--resume"], env) == 2
    assert b"--resume needs -o" in capsysbinary.readouterr().err


# -- uploads continued by a later run --------------------------------------------------------------


def _upload_methods(exchanges: Exchanges, host: str) -> list[str]:
    """The method of every request sent to an upload URL on ``host``."""
    return [e.method for e in exchanges.to(host) if "/blobs/uploads/" in e.url]


def test_failed_upload_is_continued_by_a_later_run(
    registry_plain: RegistryProcess, proxy: FaultProxy, repo_name: str, tmp_path: Path, exchanges: Exchanges
) -> None:
    """8 MiB PATCHes, no retries: the 4th PATCH is refused (503) and the push fails, leaving its session
    in the journal. The next call with ``resume`` takes the session up where the registry stands (24 MiB)
    and sends only the rest: no new session, five PATCHes."""
    data = os.urandom(SIZE + 40 * MiB)  # 64 MiB
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    state = tmp_path / "state"
    first = dxf.DXF(proxy.host, repo_name, insecure=True, retries=0, upload_chunk_size=8 * MiB)
    proxy.inject_status(503, method="PATCH", skip=3)
    with pytest.raises(dxf.exceptions.DXFHTTPError) as info:
        first.push_blob(str(path), resume=True, state_dir=str(state))
    assert info.value.status_code == 503
    assert len(os.listdir(state)) == 1
    digest = dxf.hash_bytes(data)
    with pytest.raises(dxf.exceptions.DXFNotFoundError):
        _client(registry_plain.host, repo_name, retries=0).blob_size(digest)

    second = dxf.DXF(proxy.host, repo_name, insecure=True, retries=0, upload_chunk_size=8 * MiB)
    exchanges.clear()
    before = proxy.bytes_upstream
    assert second.push_blob(str(path), resume=True, state_dir=str(state)) == digest
    methods = _upload_methods(exchanges, proxy.host)
    assert methods.count("POST") == 0 and methods.count("PATCH") == 5, methods
    assert proxy.bytes_upstream - before < 40 * MiB + MiB
    assert os.listdir(state) == []
    assert _client(registry_plain.host, repo_name, retries=0).blob_size(digest) == len(data)


def test_without_resume_a_failed_upload_is_cancelled(
    proxy: FaultProxy, repo_name: str, tmp_path: Path, exchanges: Exchanges
) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(20 * MiB))
    client = dxf.DXF(proxy.host, repo_name, insecure=True, retries=0, upload_chunk_size=8 * MiB)
    proxy.inject_status(503, method="PATCH", skip=1)
    with pytest.raises(dxf.exceptions.DXFHTTPError):
        client.push_blob(str(path), check_exists=False)
    assert _upload_methods(exchanges, proxy.host)[-1] == "DELETE"


def test_a_journal_pointing_elsewhere_is_not_followed(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    """A tampered journal naming another host is dropped: the push starts a new session at the
    registry, and the other host is never contacted."""
    import socket

    from dxf.journal import UploadJournal

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.01)
    try:
        path = tmp_path / "big.bin"
        data = os.urandom(20 * MiB)
        path.write_bytes(data)
        client = _client(registry_plain.host, repo_name, retries=0)
        journal = UploadJournal(str(tmp_path / "state"))
        elsewhere = f"http://127.0.0.1:{listener.getsockname()[1]}/v2/{repo_name}/blobs/uploads/x"
        journal.save(client._registry.base_url, client._path, Digest.parse(dxf.hash_bytes(data)), elsewhere)
        assert client.push_blob(str(path), resume=True, state_dir=str(tmp_path / "state")) == dxf.hash_bytes(
            data
        )
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_cli_push_resume(
    registry_plain: RegistryProcess,
    repo_name: str,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(MiB))
    env = {**harness_env(registry_plain), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert run_command(["push-blob", repo_name, str(path), "--resume"], env) == 0
    assert capsysbinary.readouterr().out.decode().strip() == dxf.hash_file(str(path))
    assert os.listdir(tmp_path / "cache" / "dxf" / "uploads") == []
    assert run_command(["push-blob", repo_name, "-", "--resume"], env) == 2
    assert b"--resume needs a file" in capsysbinary.readouterr().err
