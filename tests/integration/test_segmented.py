"""One blob over several ranged connections (issue 13, part 1), against the real registry.

The thresholds are lowered for these tests (a few MiB instead of tens), so the blobs stay small;
the code paths are the ones a large blob takes. The registry sits behind the fault proxy, which
counts connections, cuts them and, where a test needs connections to overlap, paces each one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import dxf
import dxf.segments
from dxf.main import run_command
from dxf.transfer import NETWORK_FAILURES
from harness.blobserver import BlobServer
from harness.hooks import Exchanges
from harness.proxy import FaultProxy

MiB = 1024 * 1024
BLOB = os.urandom(8 * MiB + 12345)
DIGEST = dxf.hash_bytes(BLOB)


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segment blobs of a few MiB, in 2 MiB segments (two reads of ``READ_SIZE`` each), whatever
    the speed of the first connection (:func:`test_a_fast_first_connection_carries_the_blob_alone`
    checks the default)."""
    monkeypatch.setattr(dxf.segments, "MIN_SEGMENTED_BYTES", 2 * MiB)
    monkeypatch.setattr(dxf.segments, "MIN_SEGMENT", 2 * MiB)
    monkeypatch.setattr(dxf.segments, "FAST_CONNECTION", float("inf"))  # every link counts as slow


def _segment_count() -> int:
    return len(dxf.segments.plan(0, len(BLOB), 4))


@pytest.fixture
def pushed(proxy: FaultProxy, repo_name: str) -> Iterator[dxf.DXF]:
    """A client of the proxied registry (4 connections per blob) whose repository holds :data:`BLOB`."""
    with dxf.DXF(proxy.host, repo_name, insecure=True, connections=4) as client:
        client.push_blob(data=BLOB, digest=DIGEST)
        yield client


def _ranges(exchanges: Exchanges, host: str) -> list[str]:
    return [e.request_headers.get("Range", "") for e in exchanges.to(host) if e.method == "GET"]


def test_a_large_blob_arrives_over_several_connections_at_once(
    pushed: dxf.DXF, proxy: FaultProxy, exchanges: Exchanges, tmp_path: Path
) -> None:
    proxy.shape(rate=16 * MiB)  # each connection takes a while, so they overlap
    exchanges.clear()
    target = tmp_path / "blob"
    assert pushed.pull_blob_to_file(DIGEST, str(target)) == len(BLOB)
    assert target.read_bytes() == BLOB
    ranges = _ranges(exchanges, proxy.host)
    assert ranges[0] == ""  # the first GET serves the first segment(s) as it is
    assert _segment_count() == 5
    # The first GET goes on while the next segment is free; the helpers range-request the rest.
    assert 3 <= len(ranges) - 1 <= _segment_count() - 1, ranges
    assert all(re.fullmatch(r"bytes=\d+-\d+", r) for r in ranges[1:]), ranges
    assert proxy.peak_active >= 4


@pytest.mark.parametrize(("rate", "segmented"), [(None, False), (8 * MiB, True)])
def test_a_fast_first_connection_carries_the_blob_alone(
    pushed: dxf.DXF,
    proxy: FaultProxy,
    exchanges: Exchanges,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rate: float | None,
    segmented: bool,
) -> None:
    """Unshaped loopback is far faster than ``FAST_CONNECTION`` (its default): one stream carries the
    blob; a link capped below it gets the other connections after the first segment."""
    monkeypatch.undo()
    monkeypatch.setattr(dxf.segments, "MIN_SEGMENTED_BYTES", 2 * MiB)
    monkeypatch.setattr(dxf.segments, "MIN_SEGMENT", 2 * MiB)
    proxy.shape(rate=rate)
    exchanges.clear()
    assert pushed.pull_blob_to_file(DIGEST, str(tmp_path / "blob")) == len(BLOB)
    assert (tmp_path / "blob").read_bytes() == BLOB
    ranged = [r for r in _ranges(exchanges, proxy.host) if r]
    assert (len(ranged) > 0) is segmented, ranged


def test_one_connection_when_asked(
    proxy: FaultProxy, repo_name: str, exchanges: Exchanges, tmp_path: Path
) -> None:
    with dxf.DXF(proxy.host, repo_name, insecure=True, connections=1) as client:
        client.push_blob(data=BLOB, digest=DIGEST)
        exchanges.clear()
        client.pull_blob_to_file(DIGEST, str(tmp_path / "blob"))
    assert _ranges(exchanges, proxy.host) == [""]
    assert (tmp_path / "blob").read_bytes() == BLOB


def test_pull_blobs_segments_each_blob(
    pushed: dxf.DXF, proxy: FaultProxy, exchanges: Exchanges, tmp_path: Path
) -> None:
    exchanges.clear()
    (path,) = pushed.pull_blobs([DIGEST], str(tmp_path / "out"))
    assert Path(path).read_bytes() == BLOB
    assert len([r for r in _ranges(exchanges, proxy.host) if r]) >= 1


def test_a_broken_segment_is_retried_alone_from_its_own_next_byte(
    pushed: dxf.DXF, proxy: FaultProxy, exchanges: Exchanges, tmp_path: Path
) -> None:
    exchanges.clear()
    proxy.cut_after(3 * MiB // 2)  # the next connection to send data breaks inside its segment
    target = tmp_path / "blob"
    pushed.pull_blob_to_file(DIGEST, str(target))
    assert target.read_bytes() == BLOB
    assert proxy.cuts == 1
    starts = [int(r[6:].partition("-")[0]) for r in _ranges(exchanges, proxy.host) if r]
    assert any(start % (2 * MiB) for start in starts), starts  # one continued mid-segment
    assert proxy.bytes_downstream < 2 * len(BLOB)


def test_a_fast_stream_that_breaks_goes_on_with_ranged_requests(
    pushed: dxf.DXF, proxy: FaultProxy, exchanges: Exchanges, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One fast connection (no helpers) cut in its second segment: the rest comes by ranged GETs,
    the broken segment from its own next byte, without a wait per segment."""
    monkeypatch.setattr(dxf.segments, "FAST_CONNECTION", 0)  # every link counts as fast
    sleeps: list[float] = []
    pushed._transport.sleep = sleeps.append
    exchanges.clear()
    proxy.cut_after(3 * MiB)
    pushed.pull_blob_to_file(DIGEST, str(tmp_path / "blob"))
    assert (tmp_path / "blob").read_bytes() == BLOB
    assert proxy.cuts == 1 and len(sleeps) == 1, sleeps
    ranges = [r for r in _ranges(exchanges, proxy.host) if r]
    assert ranges[0].startswith(f"bytes={2 * MiB + MiB}-") or ranges[0].startswith(f"bytes={2 * MiB}-"), (
        ranges
    )
    assert len(ranges) == _segment_count() - 1, ranges


def test_a_broken_off_download_keeps_a_gap_free_beginning_to_resume(
    proxy: FaultProxy, repo_name: str, tmp_path: Path
) -> None:
    with dxf.DXF(proxy.host, repo_name, insecure=True, connections=4, retries=0) as client:
        client.push_blob(data=BLOB, digest=DIGEST)
        proxy.shape(rate=32 * MiB)
        proxy.cut_after(3 * MiB // 2, times=1)
        target = tmp_path / "blob"
        with pytest.raises(NETWORK_FAILURES):
            client.pull_blob_to_file(DIGEST, str(target), resume=True)
        part = Path(dxf.download.partial_path(str(target), dxf.digest.Digest.parse(DIGEST)))
        held = part.read_bytes()
        assert held == BLOB[: len(held)]
        proxy.shape()
        assert client.pull_blob_to_file(DIGEST, str(target), resume=True) == len(BLOB)
    assert target.read_bytes() == BLOB
    assert not part.exists()


def test_a_server_that_claims_ranges_but_ignores_them_falls_back_to_one_connection(
    tmp_path: Path,
) -> None:
    with BlobServer(BLOB, "claims-ranges") as server:
        with dxf.DXF(server.host, "some/repo", insecure=True, connections=4) as client:
            assert client.pull_blob_to_file(DIGEST, str(tmp_path / "blob")) == len(BLOB)
        ranged = [h.get("Range") for _m, h in server.blob_requests() if h.get("Range")]
    assert (tmp_path / "blob").read_bytes() == BLOB
    assert len(server.blob_requests()) <= 1 + 4 + 1  # the first GET, one per worker, the fallback
    assert ranged  # it was tried, and the answers were not taken for ranges


def test_a_server_without_ranges_gets_one_request(tmp_path: Path) -> None:
    with BlobServer(BLOB, "plain") as server:
        with dxf.DXF(server.host, "some/repo", insecure=True, connections=4) as client:
            client.pull_blob_to_file(DIGEST, str(tmp_path / "blob"))
        assert [h.get("Range") for _m, h in server.blob_requests()] == [None]
    assert (tmp_path / "blob").read_bytes() == BLOB


@pytest.mark.usefixtures("clean_dxf_environment")
@pytest.mark.parametrize(
    ("option", "environment", "segmented"),
    [
        ([], {}, True),
        (["--connections", "1"], {}, False),
        ([], {"DXF_CONNECTIONS": "1"}, False),
        (["--connections", "2"], {"DXF_CONNECTIONS": "1"}, True),
    ],
)
def test_the_command_takes_connections_from_its_option_or_environment(
    pushed: dxf.DXF,
    repo_name: str,
    proxy: FaultProxy,
    exchanges: Exchanges,
    tmp_path: Path,
    option: list[str],
    environment: dict[str, str],
    segmented: bool,
) -> None:
    exchanges.clear()
    target = tmp_path / "blob"
    env = {"DXF_HOST": proxy.host, "DXF_INSECURE": "1", **environment}
    code = run_command(["pull-blob", *option, "-o", str(target), repo_name, DIGEST], env)
    assert code == 0
    assert target.read_bytes() == BLOB
    assert (len([r for r in _ranges(exchanges, proxy.host) if r]) > 0) is segmented


@pytest.mark.usefixtures("clean_dxf_environment")
def test_a_bad_connection_count_is_one_line(capsys: pytest.CaptureFixture[str], proxy: FaultProxy) -> None:
    env = {"DXF_HOST": proxy.host, "DXF_INSECURE": "1", "DXF_CONNECTIONS": "0"}
    assert run_command(["pull-blob", "-o", "x", "some/repo", DIGEST], env) != 0
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("dxf: pull-blob ")
    assert line.endswith(": DXF_CONNECTIONS must be a positive integer, not '0'")


def test_progress_never_counts_a_byte_twice_when_ranges_stop_being_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first ranged segment (2 MiB) arrives and is reported; then the server ignores ranges and
    the rest comes over one connection from the hashed prefix: those 2 MiB must not count again."""
    monkeypatch.setattr(dxf.segments, "PROBE_BYTES", 256 * 1024)  # judged after the first read
    counted: list[int] = []
    with BlobServer(BLOB, "one-range") as server:
        with dxf.DXF(server.host, "some/repo", insecure=True, connections=2, retries=0) as client:
            size = client.pull_blob_to_file(
                DIGEST, str(tmp_path / "blob"), lambda _d, chunk, _s: counted.append(len(chunk))
            )
        assert server.ranges_honoured == 1 and server.range_ignored.is_set()
    assert size == len(BLOB)
    assert (tmp_path / "blob").read_bytes() == BLOB
    assert sum(counted) == len(BLOB)
