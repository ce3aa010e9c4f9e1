"""A multi-connection ``dxf pull-blob`` killed or stopped mid-transfer, as a real child process.

The child cannot have its thresholds lowered, so the blob is large enough to be segmented (just over
:data:`dxf.segments.MIN_SEGMENTED_BYTES`) and the proxy's link slow enough (16 MiB/s per connection)
for the other connections to open. The first connection is held by the proxy's stall while the others
run ahead; the tests wait for what they can observe (the stall counter, the part file and its mark,
bytes on standard output), never for a fixed time.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from test_cli import DXF_SCRIPT, child_env

import dxf
from dxf import partmark
from dxf.digest import Digest
from dxf.download import partial_path
from dxf.main import run_command
from dxf.segments import MIN_SEGMENTED_BYTES
from harness.command import wait_for
from harness.figures import Record
from harness.proxy import FaultProxy

MiB = 1024 * 1024
BLOB = os.urandom(MIN_SEGMENTED_BYTES + 8 * MiB)
DIGEST = dxf.hash_bytes(BLOB)
pytestmark = pytest.mark.usefixtures("clean_dxf_environment")


@pytest.fixture
def pushed(proxy: FaultProxy, repo_name: str) -> str:
    with dxf.DXF(proxy.host, repo_name, insecure=True) as client:
        client.push_blob(data=BLOB, digest=DIGEST)
    return repo_name


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _child(proxy: FaultProxy, argv: list[str], stdout: int | None = None) -> subprocess.Popen[bytes]:
    env = {**child_env(None), "DXF_HOST": proxy.host, "DXF_INSECURE": "1", "DXF_RETRIES": "0"}
    return subprocess.Popen(
        [str(DXF_SCRIPT), *argv], env=env, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_a_killed_multi_connection_download_resumes_from_its_gap_free_prefix(
    proxy: FaultProxy, pushed: str, tmp_path: Path, record_property: Record
) -> None:
    target = tmp_path / "blob"
    part = Path(partial_path(str(target), Digest.parse(DIGEST)))
    mark = Path(partmark.mark_path(str(part)))
    proxy.shape(rate=16 * MiB)
    proxy.stall_after(3 * MiB)  # the first connection: the start of the blob
    argv = ["pull-blob", pushed, DIGEST, "-o", str(target), "--resume", "--connections", "4"]
    child = _child(proxy, argv)
    wait_for(
        lambda: (
            child.poll() is not None
            or (proxy.stalls == 1 and _size(part) >= 16 * MiB and (partmark.read(str(part)) or 0) >= 2 * MiB)
        ),
        "the other connections to run ahead of the held one",
    )
    assert child.poll() is None, child.communicate()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    prefix = partmark.read(str(part))
    assert prefix is not None and 2 * MiB <= prefix < _size(part)  # holes past the prefix
    assert part.read_bytes()[:prefix] == BLOB[:prefix]

    proxy.release_stalls()
    proxy.shape()
    wait_for(lambda: proxy.stats()["active"] == 0, "the killed child's connections to close")
    before = proxy.bytes_downstream
    env = {"DXF_HOST": proxy.host, "DXF_INSECURE": "1"}
    # One connection: a segmented run closes its first answer early, and what the proxy had already
    # pushed into the socket then counts as sent though dxf never read it (more so on a busy machine).
    assert run_command([*argv[:-1], "1"], env) == 0
    assert target.read_bytes() == BLOB
    assert not part.exists() and not mark.exists()
    fetched = proxy.bytes_downstream - before
    assert fetched <= len(BLOB) - prefix + 64 * 1024  # only what was past the prefix, and heads
    record_property("blob", f"{len(BLOB) / MiB:.0f} MiB")
    record_property("marked prefix kept", f"{prefix / MiB:.1f} MiB")
    record_property("fetched by the resume", f"{fetched / MiB:.1f} MiB")


def test_sigterm_stops_a_multi_connection_pull_to_stdout_promptly(
    proxy: FaultProxy, pushed: str, tmp_path: Path
) -> None:
    """The first connection held, the others waiting for room or running: SIGTERM ends it all."""
    out = tmp_path / "out"
    proxy.shape(rate=16 * MiB)
    proxy.stall_after(3 * MiB)
    with out.open("wb") as sink:
        child = _child(proxy, ["pull-blob", pushed, DIGEST, "--connections", "4"], stdout=sink.fileno())
        wait_for(
            lambda: child.poll() is not None or (proxy.stalls == 1 and _size(out) > 0),
            "bytes on standard output",
        )
        assert child.poll() is None, child.communicate()
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=10)
    assert child.returncode == 143
    assert err.count(b"\n") <= 1
    assert 0 < _size(out) < len(BLOB)
