"""Ctrl-C during ``push_blobs``/``pull_blobs`` stops the transfers at once (issue #8, item 10).

A batch of a small blob and a large one runs in parallel. When the large one is under way (its first
progress report), its progress callback sends SIGINT to the main thread, as Ctrl-C does, and lets
the transfer go on. The large transfer must then stop within a chunk or so: the call raises
``KeyboardInterrupt`` long before the blob could have moved, the blob is not completed on the
registry (pushes) and leaves no file (pulls). What moves after the interrupt is counted from the
progress for downloads, and for uploads (whose progress catches up on bytes sent before the digest
was known) at a proxy in front of the registry; the latter includes what the sockets had buffered.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import dxf
from dxf import exceptions as ex
from harness.figures import Record
from harness.proxy import FaultProxy
from harness.registry import RegistryProcess

MiB = 1024 * 1024
SIZE = 48 * MiB
BOUND = 5.0  # seconds; the large transfer alone takes longer than this would allow to finish here


class CtrlC:
    """Progress callback: on the large blob's first bytes, interrupt the main thread and wait until
    its handler has run; then count the bytes the large blob still reports.

    Waiting for the handler makes the count measure our cancellation, not how long the interpreter
    took to run a signal handler in the main thread (under load that alone let 12 MiB through on
    loopback). Use it as a context manager: it installs that handler for SIGINT, Ctrl-C's own
    behaviour (``KeyboardInterrupt``) plus the event, and restores the previous one after."""

    def __init__(self, large: str, proxy: FaultProxy | None = None) -> None:
        self.large = large
        self.proxy = proxy
        self.sent = False
        self.after = 0
        self.upstream_at_interrupt = 0
        self.handled = threading.Event()
        self._previous: Any = None

    def _on_sigint(self, _signum: int, _frame: object) -> None:
        self.handled.set()
        raise KeyboardInterrupt

    def __enter__(self) -> CtrlC:
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *_: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def __call__(self, digest: str, chunk: bytes, _total: int | None = None) -> None:
        if digest != self.large or not chunk:
            return
        if self.sent:
            self.after += len(chunk)
            return
        self.sent = True
        if self.proxy is not None:
            self.upstream_at_interrupt = self.proxy.bytes_upstream
        main = threading.main_thread().ident
        assert main is not None
        signal.pthread_kill(main, signal.SIGINT)
        assert self.handled.wait(BOUND), "the main thread never ran its SIGINT handler"


def test_ctrl_c_stops_pull_blobs(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path, record_property: Record
) -> None:
    client = dxf.DXF(registry_plain.host, repo_name, insecure=True, retries=0, jobs=2)
    blobs = [os.urandom(1000), os.urandom(SIZE)]
    digests = [client.push_blob(data=b, digest=dxf.hash_bytes(b)) for b in blobs]
    out = tmp_path / "out"
    out.mkdir()
    start = time.monotonic()
    with CtrlC(digests[1]) as progress, pytest.raises(KeyboardInterrupt):
        client.pull_blobs(digests, str(out), jobs=2, progress=progress)
    assert time.monotonic() - start < BOUND
    record_property("bytes received after Ctrl-C", f"{progress.after / MiB:.1f} of {SIZE // MiB} MiB")
    assert progress.sent and progress.after < SIZE // 4, progress.after
    assert digests[1].replace(":", "-") not in os.listdir(out)
    assert not [name for name in os.listdir(out) if name.startswith(".")]


def test_ctrl_c_stops_push_blobs_and_completes_nothing(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path, record_property: Record
) -> None:
    small, large = tmp_path / "small", tmp_path / "large"
    small.write_bytes(os.urandom(1000))
    large.write_bytes(os.urandom(SIZE))
    digest = dxf.hash_file(str(large))
    with FaultProxy("127.0.0.1", registry_plain.port) as proxy:
        client = dxf.DXF(proxy.host, repo_name, insecure=True, retries=0, jobs=2)
        start = time.monotonic()
        with CtrlC(digest, proxy) as progress, pytest.raises(KeyboardInterrupt):
            client.push_blobs([str(small), str(large)], jobs=2, progress=progress)
        assert time.monotonic() - start < BOUND
        sent_after = proxy.bytes_upstream - progress.upstream_at_interrupt
    assert progress.sent and sent_after < SIZE // 3, sent_after
    record_property("bytes sent after Ctrl-C", f"{sent_after / MiB:.1f} of {SIZE // MiB} MiB")
    with pytest.raises(ex.DXFNotFoundError):
        dxf.DXF(registry_plain.host, repo_name, insecure=True).blob_size(digest)
