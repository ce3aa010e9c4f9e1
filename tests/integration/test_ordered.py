"""One blob over several connections to a stream (``pull_blob(connections=N)``, ``dxf pull-blob`` to
standard output): bytes in order, in bounded memory, against the real registry behind the fault proxy.

As in ``test_segmented``, the thresholds are lowered (blobs of a few MiB in 2 MiB segments, every link
judged slow) so the code paths of a large blob run on small ones. Where a test needs a later segment
to finish first, or a connection to be held, it stalls one connection at the proxy and waits on the
reader's own condition for the state it wants (never for a time).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import cast

import pytest
from test_cli import fails, ok

import dxf
import dxf.segments
from dxf.ordered import MemorySink, OrderedBlobReader
from harness.blobserver import BlobServer
from harness.hooks import Exchanges
from harness.proxy import FaultProxy
from harness.registry import PASSWORD, USERNAME, RegistryProcess

MiB = 1024 * 1024
BLOB = os.urandom(10 * MiB + 12345)  # after the 256 KiB probe, five segments of at most 2 MiB
DIGEST = dxf.hash_bytes(BLOB)
SEGMENT = 2 * MiB
pytestmark = pytest.mark.usefixtures("clean_dxf_environment")


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segment blobs of a few MiB in 2 MiB segments; every link counts as slow once 256 KiB are in."""
    monkeypatch.setattr(dxf.segments, "MIN_SEGMENTED_BYTES", 2 * MiB)
    monkeypatch.setattr(dxf.segments, "MIN_SEGMENT", SEGMENT)
    monkeypatch.setattr(dxf.segments, "FAST_CONNECTION", float("inf"))
    monkeypatch.setattr(dxf.segments, "PROBE_BYTES", 256 * 1024)


def _auth(obj: dxf.DXFBase, response: object) -> None:
    obj.authenticate(USERNAME, PASSWORD, response=response)  # type: ignore[arg-type]


@pytest.fixture(params=["plain", "token"])
def proxied(request: pytest.FixtureRequest, repo_name: str) -> Iterator[tuple[dxf.DXF, FaultProxy]]:
    """A client (4 connections per blob) of a real registry, plain or with token auth over TLS, through
    the fault proxy; its repository holds :data:`BLOB`."""
    registry: RegistryProcess = request.getfixturevalue(f"registry_{request.param}")
    with FaultProxy("127.0.0.1", registry.port) as proxy:
        auth = _auth if request.param == "token" else None
        tls = registry.ca_bundle or True
        with dxf.DXF(
            proxy.host, repo_name, auth, insecure=registry.insecure, tlsverify=tls, connections=4
        ) as client:
            client.push_blob(data=BLOB, digest=DIGEST)
            yield client, proxy


@pytest.fixture
def pushed(proxy: FaultProxy, repo_name: str) -> Iterator[dxf.DXF]:
    """A client of the proxied plain registry whose repository holds :data:`BLOB`."""
    with dxf.DXF(proxy.host, repo_name, insecure=True, connections=4) as client:
        client.push_blob(data=BLOB, digest=DIGEST)
        yield client


def _reader(client: dxf.DXF, connections: int = 4) -> OrderedBlobReader:
    reader = client.pull_blob(DIGEST, connections=connections)
    assert isinstance(reader, OrderedBlobReader)
    return reader


def _ranges(exchanges: Exchanges, host: str) -> list[str]:
    return [e.request_headers.get("Range", "") for e in exchanges.to(host) if e.method == "GET"]


def _started(reader: OrderedBlobReader) -> tuple[Generator[bytes], bytes, MemorySink]:
    """Begin iterating (the first chunk), which starts the segmented download."""
    chunks = cast(Generator[bytes], iter(reader))
    first = next(chunks)
    assert reader.sink is not None
    return chunks, first, reader.sink


def _wait(sink: MemorySink, condition: Callable[[], bool], what: str) -> None:
    with sink.watch():
        assert sink.watch().wait_for(condition, timeout=30), f"timed out waiting for {what}"


def test_bytes_arrive_in_order_over_several_connections(
    proxied: tuple[dxf.DXF, FaultProxy], exchanges: Exchanges
) -> None:
    client, proxy = proxied
    proxy.shape(rate=16 * MiB)  # each connection takes a while, so they overlap
    exchanges.clear()
    reader = _reader(client)
    assert reader.size == len(BLOB)
    assert b"".join(reader) == BLOB
    ranges = [r for r in _ranges(exchanges, proxy.host) if r]
    assert len(ranges) >= 3, ranges
    assert proxy.peak_active >= 4
    assert reader.sink is not None and 0 < reader.sink.peak <= reader.sink.cap


def test_python_dxf_callers_still_get_one_connection_and_their_chunks(
    pushed: dxf.DXF, proxy: FaultProxy, exchanges: Exchanges
) -> None:
    exchanges.clear()
    chunks = list(cast(Iterable[bytes], pushed.pull_blob(DIGEST)))
    assert b"".join(chunks) == BLOB
    assert {len(c) for c in chunks[:-1]} == {8192}
    assert _ranges(exchanges, proxy.host) == [""]


def test_a_later_segment_finishing_first_waits_for_the_earlier_ones(
    pushed: dxf.DXF, proxy: FaultProxy
) -> None:
    proxy.stall_after(3 * MiB // 2)  # the first GET (segment 0) is held after its first read
    reader = _reader(pushed)
    chunks, first, sink = _started(reader)
    segments = sink.segments
    _wait(sink, lambda: all(s.done for s in segments[1:]), "the later segments")
    assert not segments[0].done  # every later segment is complete, the first is not
    proxy.release_stalls()
    assert first + b"".join(chunks) == BLOB


def test_the_window_bounds_what_is_fetched_ahead_of_the_reader(
    pushed: dxf.DXF, proxy: FaultProxy, exchanges: Exchanges
) -> None:
    """Two connections: a window of three segments. With the first one held, the other connection
    fetches segments 1 and 2, then waits for room instead of fetching segment 3."""
    proxy.stall_after(3 * MiB // 2)
    exchanges.clear()
    reader = _reader(pushed, connections=2)
    chunks, first, sink = _started(reader)
    segments = sink.segments
    assert sink.window == 3 and sink.cap == 3 * SEGMENT
    _wait(sink, lambda: sink.waiting == 1, "a connection waiting for room")
    assert segments[1].done and segments[2].done
    assert segments[3].received == 0 and segments[4].received == 0
    assert f"bytes={segments[3].start}-" not in " ".join(_ranges(exchanges, proxy.host))
    assert sink.buffered <= sink.cap
    proxy.release_stalls()
    assert first + b"".join(chunks) == BLOB
    assert sink.buffered == 0 and 2 * SEGMENT <= sink.peak <= sink.cap  # segments 1 and 2 held at once


def test_a_cut_segment_is_retried_alone(pushed: dxf.DXF, proxy: FaultProxy, exchanges: Exchanges) -> None:
    exchanges.clear()
    proxy.cut_after(3 * MiB // 2)  # the next connection to send data breaks inside its segment
    reader = _reader(pushed)
    assert b"".join(reader) == BLOB
    assert proxy.cuts == 1
    assert reader.sink is not None
    planned = {segment.start for segment in reader.sink.segments}
    starts = [int(r[6:].partition("-")[0]) for r in _ranges(exchanges, proxy.host) if r]
    assert [start for start in starts if start not in planned], starts  # one continued mid-segment
    assert proxy.bytes_downstream < 2 * len(BLOB)


def test_a_fast_first_connection_carries_the_blob_alone(
    pushed: dxf.DXF, proxy: FaultProxy, exchanges: Exchanges, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its first bytes came fast: no other connection, no in-memory window, and the reader goes on
    with the one-connection path (the probe's bytes first)."""
    monkeypatch.setattr(dxf.segments, "FAST_CONNECTION", 0)  # every link counts as fast
    exchanges.clear()
    reader = _reader(pushed)
    assert b"".join(reader) == BLOB
    assert reader.sink is None
    assert _ranges(exchanges, proxy.host) == [""]


def test_a_cut_during_the_probe_is_resumed_by_the_one_connection_reader(
    pushed: dxf.DXF, proxy: FaultProxy, exchanges: Exchanges
) -> None:
    exchanges.clear()
    proxy.cut_after(100 * 1024)  # inside the first 256 KiB, which are timed
    reader = _reader(pushed)
    assert b"".join(reader) == BLOB
    assert proxy.cuts == 1 and reader.sink is None
    ranges = _ranges(exchanges, proxy.host)
    assert ranges[0] == "" and len(ranges) == 2 and ranges[1].startswith("bytes="), ranges
    assert 0 < int(ranges[1][6:].partition("-")[0]) <= 100 * 1024, ranges


def test_a_server_that_claims_ranges_but_ignores_them_gets_one_connection() -> None:
    with BlobServer(BLOB, "claims-ranges") as server:
        with dxf.DXF(server.host, "some/repo", insecure=True) as client:
            assert b"".join(_reader(client)) == BLOB
        ranged = [h.get("Range") for _m, h in server.blob_requests() if h.get("Range")]
        assert ranged  # tried, and the answers were not taken for ranges
        assert len(server.blob_requests()) <= 1 + 4 + 1  # the first GET, one per worker, the fallback


def test_a_reader_dropped_midway_stops_its_connections(pushed: dxf.DXF, proxy: FaultProxy) -> None:
    proxy.shape(rate=16 * MiB)
    reader = _reader(pushed)
    chunks, _first, sink = _started(reader)
    chunks.close()  # GeneratorExit: the workers stop, nothing waits for room any more
    assert sink.waiting == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("dxf-segment")]


# -- the command ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "environment", "segmented"),
    [
        ([], {}, True),
        (["--connections", "1"], {}, False),
        ([], {"DXF_CONNECTIONS": "1"}, False),
        (["--connections", "3"], {"DXF_CONNECTIONS": "1"}, True),
    ],
)
def test_the_command_pulls_to_stdout_over_its_connections(
    pushed: dxf.DXF,
    repo_name: str,
    proxy: FaultProxy,
    exchanges: Exchanges,
    option: list[str],
    environment: dict[str, str],
    segmented: bool,
) -> None:
    exchanges.clear()
    env = {"DXF_HOST": proxy.host, "DXF_INSECURE": "1", **environment}
    result = ok(["pull-blob", *option, repo_name, DIGEST], env)
    assert result.out == BLOB
    assert (len([r for r in _ranges(exchanges, proxy.host) if r]) > 0) is segmented


def test_a_digest_mismatch_on_stdout_is_one_line_and_a_failure(
    pushed: dxf.DXF, repo_name: str, proxy: FaultProxy, exchanges: Exchanges
) -> None:
    proxy.corrupt_after(MiB)  # the next body (the first GET: segment 0) turns wrong after 1 MiB
    exchanges.clear()
    env = {"DXF_HOST": proxy.host, "DXF_INSECURE": "1"}
    result = fails(["pull-blob", repo_name, DIGEST], env, 1)
    assert proxy.corrupted == 1
    assert "digest" in result.err.lower()
    assert len(result.out) == len(BLOB) and result.out != BLOB  # as with one connection: it was written
    assert [r for r in _ranges(exchanges, proxy.host) if r]
