"""``push-blob`` of a file that changes during the upload, and of a fifo.

A file is read twice (to hash it, to send it): one that changes in between must fail with one clear
``DXFFileChangedError`` and leave nothing at the registry, not the registry's "digest did not match".
The change is made certain, without sleeps, by the progress callback: it modifies the file when the
first chunk has been read for sending. A fifo can be read only once: it is streamed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import dxf
from dxf import exceptions as ex
from dxf.upload import OVERLAP_THRESHOLD
from harness.registry import RegistryProcess, harness_env

DXF_SCRIPT = Path(sys.executable).parent / "dxf"
MIB = 1024 * 1024


def _overwrite_tail(path: Path) -> None:
    with open(path, "r+b") as f:
        f.seek(-MIB, os.SEEK_END)
        f.write(os.urandom(MIB))


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _append(path: Path) -> None:
    with open(path, "ab") as f:
        f.write(b"more")


CHANGES = {"overwrite-tail": _overwrite_tail, "truncate": _truncate, "append": _append}


def _change_after_first_chunk(path: Path, change: Callable[[Path], None]) -> Callable[..., None]:
    done = False

    def progress(_digest: str, chunk: bytes, _total: int | None = None) -> None:
        nonlocal done
        if chunk and not done:
            done = True
            change(path)

    return progress


@pytest.mark.parametrize("size", [3 * MIB + 5, OVERLAP_THRESHOLD + 3 * MIB], ids=["one-put", "overlapped"])
@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_file_changed_during_upload_fails_and_stores_nothing(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path, size: int, change: str
) -> None:
    path = tmp_path / "changing.bin"
    path.write_bytes(os.urandom(size))
    before = dxf.hash_file(str(path))
    client = dxf.DXF(registry_plain.host, repo_name, insecure=True, upload_chunk_size=4 * MIB)
    with pytest.raises(ex.DXFFileChangedError) as info:
        client.push_blob(str(path), _change_after_first_chunk(path, CHANGES[change]))
    assert str(info.value) == f"file changed during upload: {path}"
    after = dxf.hash_file(str(path))
    assert before != after
    for digest in (before, after):
        with pytest.raises(ex.DXFNotFoundError):
            client.blob_size(digest)
    # Unchanged, the same file uploads fine.
    assert client.push_blob(str(path)) == after


def test_push_blob_streams_a_fifo(registry_plain: RegistryProcess, repo_name: str, tmp_path: Path) -> None:
    """``dxf push-blob REPO FIFO @alias`` reads the fifo once (it used to wait forever for a second
    writer); a writer thread feeds it. The child process has a timeout, so a hang fails the test."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = os.urandom(3 * MIB + 11)

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    env = _child_env(registry_plain, tmp_path)
    try:
        done = subprocess.run(
            [str(DXF_SCRIPT), "push-blob", repo_name, str(fifo), "@piped"],
            capture_output=True,
            env=env,
            timeout=60,
        )
    finally:
        if writer.is_alive():  # the child never opened the fifo: release the writer
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join()
    assert done.returncode == 0, done.stderr
    digest = dxf.hash_bytes(data)
    assert done.stdout.decode() == digest + "\n"
    client = dxf.DXF(registry_plain.host, repo_name, insecure=True)
    assert client.get_alias("piped") == [digest]
    assert b"".join(client.pull_blob(digest)) == data  # type: ignore[arg-type]


def test_resume_of_a_fifo_is_refused(registry_plain: RegistryProcess, repo_name: str, tmp_path: Path) -> None:
    """``--resume`` needs a file that can be read again: a fifo gets one line, exit 1 (it used to wait
    forever hashing a fifo nobody writes to; the child's timeout turns a hang into a failure)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done = subprocess.run(
        [str(DXF_SCRIPT), "push-blob", "--resume", repo_name, str(fifo)],
        capture_output=True,
        text=True,
        env=_child_env(registry_plain, tmp_path),
        timeout=30,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "not a regular file" in done.stderr


def _child_env(registry: RegistryProcess, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXF_")}
    env.update(harness_env(registry))
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env
