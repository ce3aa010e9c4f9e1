"""An interrupted ``push_blobs``/``pull_blobs`` stops at once (issue #8, item 10).

Two blobs move in parallel. Blob A's progress callback raises ``KeyboardInterrupt`` (what Ctrl-C
does) once blob B is under way; B's callback holds B until that has happened, so B is certainly
mid-transfer when the batch is interrupted. Then B must stop within a chunk or so: the call returns
long before B could have finished, B is not completed on the registry (pushes) and leaves no file
(pulls). What B moves after the interrupt is counted from its progress for downloads, and for uploads
(whose progress catches up on bytes sent before the digest was known) at a proxy in front of the
registry.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import dxf
from dxf import exceptions as ex
from harness.proxy import FaultProxy
from harness.registry import RegistryProcess

MiB = 1024 * 1024
SIZE = 48 * MiB
WAIT = 30.0  # bound for an event that normally comes within milliseconds


class Interrupter:
    """Progress callback for two blobs: ``first`` is interrupted once ``second`` has started; counts
    the bytes ``second`` moves after the interrupt."""

    def __init__(self, first: str, proxy: FaultProxy | None = None) -> None:
        self.first = first
        self.proxy = proxy
        self.upstream_at_interrupt = 0
        self.second_started = threading.Event()
        self.interrupted = threading.Event()
        self.second_after = 0

    def __call__(self, digest: str, chunk: bytes, _total: int | None = None) -> None:
        if not chunk:
            return
        if digest == self.first:
            assert self.second_started.wait(WAIT)
            if self.proxy is not None:
                self.upstream_at_interrupt = self.proxy.bytes_upstream
            self.interrupted.set()
            raise KeyboardInterrupt
        if self.interrupted.is_set():
            self.second_after += len(chunk)
        elif not self.second_started.is_set():
            self.second_started.set()
            assert self.interrupted.wait(WAIT)


def _client(registry: RegistryProcess, repo: str) -> dxf.DXF:
    return dxf.DXF(registry.host, repo, insecure=True, retries=0, jobs=2)


def test_interrupted_pull_blobs_stops_the_other_download(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    client = _client(registry_plain, repo_name)
    blobs = [os.urandom(SIZE), os.urandom(SIZE)]
    digests = [client.push_blob(data=b, digest=dxf.hash_bytes(b)) for b in blobs]
    progress = Interrupter(digests[0])
    out = tmp_path / "out"
    out.mkdir()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        client.pull_blobs(digests, str(out), jobs=2, progress=progress)
    elapsed = time.monotonic() - start
    assert progress.second_after < SIZE // 4, progress.second_after
    assert os.listdir(out) == []
    assert elapsed < 5.0


def test_interrupted_push_blobs_stops_and_cancels_the_other_upload(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    proxy = FaultProxy("127.0.0.1", registry_plain.port)
    client = dxf.DXF(proxy.host, repo_name, insecure=True, retries=0, jobs=2)
    files = []
    for i in range(2):
        path = tmp_path / f"f{i}"
        path.write_bytes(os.urandom(SIZE))
        files.append(path)
    digests = [dxf.hash_file(str(f)) for f in files]
    progress = Interrupter(digests[0], proxy)
    with proxy:
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            client.push_blobs([str(f) for f in files], jobs=2, progress=progress)
        elapsed = time.monotonic() - start
        sent_after = proxy.bytes_upstream - progress.upstream_at_interrupt
    assert sent_after < SIZE // 4, sent_after
    client = _client(registry_plain, repo_name)
    for digest in digests:
        with pytest.raises(ex.DXFNotFoundError):
            client.blob_size(digest)
    assert elapsed < 5.0
