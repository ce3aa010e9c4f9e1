"""Downloads never leave a wrong file under the target's name, and ``-o PATH`` means what it means
to curl and wget (issue #8: items 1, 2, 3, 12, 13, 14).

Failures of the command are checked through a child process (``python -m dxf``): the exit status and
the one line on stderr are the command's contract.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import dxf
from dxf import exceptions as ex
from dxf.digest import Digest
from dxf.download import partial_path
from dxf.main import doit
from dxf.manifest import DOCKER_MANIFEST_V2
from harness.blobserver import BlobServer
from harness.proxy import FaultProxy
from harness.registry import RegistryProcess, harness_env

MiB = 1024 * 1024
SIZE = 24 * MiB
WAIT = 30.0  # upper bound for an event that normally arrives within milliseconds


def _client(host: str, repo: str) -> dxf.DXF:
    return dxf.DXF(host, repo, insecure=True, retries=0)


@pytest.fixture
def pushed(registry_plain: RegistryProcess, repo_name: str) -> tuple[str, bytes]:
    data = os.urandom(SIZE)
    digest = _client(registry_plain.host, repo_name).push_blob(data=[data], digest=dxf.hash_bytes(data))
    return digest, data


@pytest.fixture
def env(registry_plain: RegistryProcess) -> dict[str, str]:
    return {**harness_env(registry_plain), "DXF_RETRIES": "0"}


def dxf_command(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m dxf`` with only ``env`` (plus PATH and PYTHONPATH) in its environment."""
    inherited = {key: os.environ[key] for key in ("PATH", "PYTHONPATH") if key in os.environ}
    return subprocess.run(
        [sys.executable, "-m", "dxf", *args],
        env={**inherited, **env},
        capture_output=True,
        timeout=60,
        check=False,
    )


def one_line_failure(result: subprocess.CompletedProcess[bytes], code: int = 1) -> str:
    err = result.stderr.decode()
    assert result.returncode == code, err
    assert len(err.splitlines()) == 1 and err.startswith("dxf: ") and "Traceback" not in err, err
    return err


# -- 1. concurrent resumable downloads to one target ------------------------------------------------


def test_two_threads_resuming_into_one_target_cannot_corrupt_it(
    registry_plain: RegistryProcess, repo_name: str, pushed: tuple[str, bytes], tmp_path: Path
) -> None:
    """The first download is held mid-way (its progress callback waits); a second one into the same
    target must fail at once, and the first then completes a correct file."""
    digest, data = pushed
    target = tmp_path / "out.bin"
    started, release = threading.Event(), threading.Event()
    outcome: list[object] = []

    def hold(_digest: str, chunk: bytes, _total: int | None) -> None:
        if chunk and not started.is_set():
            started.set()
            release.wait(WAIT)

    def first() -> None:
        try:
            client = _client(registry_plain.host, repo_name)
            outcome.append(client.pull_blob_to_file(digest, str(target), hold, resume=True))
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert started.wait(WAIT)
        with pytest.raises(OSError) as info:
            _client(registry_plain.host, repo_name).pull_blob_to_file(digest, str(target), resume=True)
        assert info.value.errno == errno.EBUSY and info.value.filename == str(target)
        assert not target.exists()
    finally:
        release.set()
        thread.join(WAIT)
    assert outcome == [SIZE]
    assert target.read_bytes() == data
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_second_process_fails_while_the_part_file_is_locked(
    pushed: tuple[str, bytes], repo_name: str, env: dict[str, str], tmp_path: Path
) -> None:
    """The test holds the part file's lock as a running dxf would: ``--resume`` in another process
    fails with one line and touches nothing; once the lock is released it continues from the part."""
    digest, data = pushed
    target = tmp_path / "out.bin"
    part = Path(partial_path(str(target), Digest.parse(digest)))
    part.write_bytes(data[:MiB])
    argv = ["pull-blob", repo_name, digest, "-o", str(target), "--resume"]
    with open(part, "ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        err = one_line_failure(dxf_command(argv, env))
        assert f"{target}: another download to this file is in progress" in err
        assert not target.exists() and part.read_bytes() == data[:MiB]
    assert dxf_command(argv, env).returncode == 0
    assert target.read_bytes() == data and os.listdir(tmp_path) == ["out.bin"]


def test_bytes_another_program_wrote_into_the_part_file_are_caught(
    registry_plain: RegistryProcess, repo_name: str, pushed: tuple[str, bytes], tmp_path: Path
) -> None:
    """What is verified is the file, not only the stream: a writer that ignores the lock and changes
    one byte of the part file mid-download (same length) makes the download fail, leaving no target."""
    digest, _ = pushed
    target = tmp_path / "out.bin"
    part = partial_path(str(target), Digest.parse(digest))
    tampered = False

    def tamper(_digest: str, chunk: bytes, _total: int | None) -> None:
        nonlocal tampered
        if chunk and not tampered:
            with open(part, "r+b") as f:
                f.write(b"\0" if chunk[:1] != b"\0" else b"\1")
            tampered = True

    with pytest.raises(ex.DXFDigestMismatchError):
        _client(registry_plain.host, repo_name).pull_blob_to_file(digest, str(target), tamper, resume=True)
    assert tampered and os.listdir(tmp_path) == []


# -- 2. what -o PATH is -------------------------------------------------------------------------------


def test_a_symlink_is_followed_and_stays_a_link(
    registry_plain: RegistryProcess, repo_name: str, pushed: tuple[str, bytes], tmp_path: Path
) -> None:
    digest, data = pushed
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "file.bin"
    real.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    dangling = tmp_path / "dangling.bin"
    dangling.symlink_to(tmp_path / "real" / "new.bin")
    client = _client(registry_plain.host, repo_name)
    assert client.pull_blob_to_file(digest, str(link)) == SIZE
    assert link.is_symlink() and real.read_bytes() == data
    client.pull_blob_to_file(digest, str(dangling), resume=True)
    assert dangling.is_symlink() and (tmp_path / "real" / "new.bin").read_bytes() == data
    assert sorted(os.listdir(tmp_path / "real")) == ["file.bin", "new.bin"]


def test_an_existing_file_keeps_its_mode(
    registry_plain: RegistryProcess, repo_name: str, env: dict[str, str], tmp_path: Path
) -> None:
    data = os.urandom(50_000)
    client = _client(registry_plain.host, repo_name)
    digest = client.push_blob(data=data, digest=dxf.hash_bytes(data))
    private = tmp_path / "private.bin"
    private.write_bytes(b"old")
    private.chmod(0o600)
    assert doit(["pull-blob", repo_name, digest, "-o", str(private)], env) == 0
    assert private.read_bytes() == data and stat.S_IMODE(private.stat().st_mode) == 0o600
    # pull-blobs follows the same rules for the files it writes
    out = tmp_path / "out"
    out.mkdir()
    named = out / digest.replace(":", "-")
    named.write_bytes(b"old")
    named.chmod(0o640)
    client.pull_blobs([digest], str(out))
    assert named.read_bytes() == data and stat.S_IMODE(named.stat().st_mode) == 0o640


def test_a_fifo_is_written_into(
    registry_plain: RegistryProcess, repo_name: str, pushed: tuple[str, bytes], tmp_path: Path
) -> None:
    digest, data = pushed
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = bytearray()

    def read_all() -> None:
        with open(fifo, "rb") as f:
            while chunk := f.read(MiB):
                received.extend(chunk)

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    try:
        assert _client(registry_plain.host, repo_name).pull_blob_to_file(digest, str(fifo)) == SIZE
    finally:
        if reader.is_alive() and stat.S_ISFIFO(os.lstat(fifo).st_mode):
            # let a reader still waiting for a writer go (ENXIO: it already finished and closed)
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(WAIT)
    assert bytes(received) == data
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]


def test_a_device_is_written_into_and_checked_at_the_end(
    registry_plain: RegistryProcess, repo_name: str, pushed: tuple[str, bytes], env: dict[str, str]
) -> None:
    """``-o /dev/null`` writes into the device (it stays a character device); a blob that does not
    match its digest still fails, with one line, though its bytes were written."""
    digest, _ = pushed
    assert _client(registry_plain.host, repo_name).pull_blob_to_file(digest, os.devnull) == SIZE
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    with FaultProxy("127.0.0.1", registry_plain.port) as proxy:
        proxy.corrupt_after(MiB)
        result = dxf_command(
            ["pull-blob", repo_name, digest, "-o", os.devnull], {**env, "DXF_HOST": proxy.host}
        )
    assert "content does not match its digest" in one_line_failure(result)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_dash_means_standard_output(
    registry_plain: RegistryProcess,
    repo_name: str,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    data = os.urandom(70_000)
    digest = _client(registry_plain.host, repo_name).push_blob(data=data, digest=dxf.hash_bytes(data))
    monkeypatch.chdir(tmp_path)
    assert doit(["pull-blob", repo_name, digest, "-o", "-"], env) == 0
    assert capsysbinary.readouterr().out == data
    assert os.listdir(tmp_path) == []


# -- 3. sizes are enforced ------------------------------------------------------------------------------


def test_a_server_streaming_forever_is_stopped_at_the_expected_size(tmp_path: Path) -> None:
    blob = os.urandom(100_000)
    with BlobServer(blob, "forever") as server:
        client = _client(server.host, "team/data")
        with pytest.raises(ex.DXFSizeMismatchError):
            client.pull_blob_to_file(server.digest, str(tmp_path / "out"), expected_size=len(blob))
        with pytest.raises(ex.DXFSizeMismatchError):
            b"".join(client.pull_blob(server.digest, expected_size=len(blob)))  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


@pytest.fixture
def lying_alias(registry_plain: RegistryProcess, repo_name: str) -> str:
    """An alias whose manifest says ``size: 5`` for a 100000-byte blob (distribution stores it)."""
    client = _client(registry_plain.host, repo_name)
    blob = os.urandom(100_000)
    digest = client.push_blob(data=blob, digest=dxf.hash_bytes(blob))
    config = b"{}"
    config_digest = client.push_blob(data=config, digest=dxf.hash_bytes(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST_V2,
        "config": {"mediaType": "application/octet-stream", "size": len(config), "digest": config_digest},
        "layers": [{"mediaType": "application/octet-stream", "size": 5, "digest": digest}],
    }
    client.set_manifest("lying", json.dumps(manifest))
    assert client.get_alias("lying", sizes=True) == [(digest, 5)]
    return digest


def test_a_descriptor_size_that_lies_is_an_error(
    registry_plain: RegistryProcess, repo_name: str, lying_alias: str, env: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(ex.DXFSizeMismatchError):
        _client(registry_plain.host, repo_name).pull_blob(lying_alias, expected_size=5)
    target = tmp_path / "out.bin"
    for args in (["-o", str(target)], ["-o", str(target), "--resume"], []):
        result = dxf_command(["pull-blob", repo_name, "@lying", *args], env)
        assert "expected 5 bytes" in one_line_failure(result) and result.stdout == b""
    result = dxf_command(["pull-blobs", repo_name, "--output-dir", str(tmp_path / "d"), "@lying"], env)
    assert "expected 5 bytes" in one_line_failure(result)
    assert os.listdir(tmp_path) == ["d"] and os.listdir(tmp_path / "d") == []


# -- small ones ----------------------------------------------------------------------------------------


def test_chunked_response_without_length_on_a_stdout_pull(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    blob = os.urandom(200_000)
    with BlobServer(blob, "chunked") as server:
        env = {"DXF_HOST": server.host, "DXF_INSECURE": "1"}
        assert doit(["pull-blob", "team/data", server.digest], env) == 0
        assert capsysbinary.readouterr().out == blob
        chunks, size = _client(server.host, "team/data").pull_blob(server.digest, size=True)
        assert size is None and b"".join(chunks) == blob


def test_a_missing_directory_is_named_as_given(
    pushed: tuple[str, bytes], repo_name: str, env: dict[str, str], tmp_path: Path
) -> None:
    digest, _ = pushed
    for extra in ([], ["--resume"]):
        target = tmp_path / "missing" / "x"
        err = one_line_failure(dxf_command(["pull-blob", repo_name, digest, "-o", str(target), *extra], env))
        assert f"{target}: No such file or directory" in err and ".dxf" not in err


def test_resume_with_the_longest_file_name(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    data = os.urandom(10_000)
    client = _client(registry_plain.host, repo_name)
    digest = client.push_blob(data=data, digest=dxf.hash_bytes(data))
    target = tmp_path / ("n" * 255)
    assert client.pull_blob_to_file(digest, str(target), resume=True) == len(data)
    assert target.read_bytes() == data and os.listdir(tmp_path) == [target.name]


def test_pull_blobs_creates_the_output_directory(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    data = os.urandom(10_000)
    client = _client(registry_plain.host, repo_name)
    digest = client.push_blob(data=data, digest=dxf.hash_bytes(data))
    [path] = client.pull_blobs([digest], str(tmp_path / "new" / "dir"))
    assert Path(path).read_bytes() == data
