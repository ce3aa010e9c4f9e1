"""One blob over several connections: ranged segments written at their offsets, hashed in order.

Across the internet one TCP connection is often capped far below the link (long round trips,
per-connection limits of object stores and CDNs); several ranged GETs of one blob add up. The blob
(from the byte the caller already holds) is cut into segments; up to ``connections`` workers claim
them in order, each asks for its segment with ``Range: bytes=a-b`` (RFC 9110 14.2) and hands what
arrives to a *sink*: :class:`FileSink` writes it at its offset in the output file (``pwrite``);
:class:`dxf.ordered.MemorySink` keeps it in memory until a stream can take it in order, and bounds
how far ahead the workers may fetch. Everything else (claiming, the slow-start judgement, retries,
the fall-back) is the same for both.

The GET that found the blob goes on serving segments, in order, for as long as the next one is not
taken, so no round trip is spent on probing. And the other connections are only opened when that
first one proves slow: if its first :data:`PROBE_BYTES` arrived faster than
:data:`FAST_CONNECTION`, one connection is not what limits the download (on loopback or a fast LAN
the CPU is, and more connections only add work), and it carries the whole blob alone. A slow link
gets its other connections after a fraction of a second.

For a file, hashing follows the *contiguous prefix*: a thread hashes the file's bytes from the start
as soon as every segment before them is written, reading them back from the file (the page cache).
So memory stays bounded (one read buffer) however far a fast segment runs ahead of a slow one, and
verification ends right after the last byte arrives instead of re-reading the whole file afterwards.

Each segment is retried alone and continues from its own last byte (``Range: bytes=<next>-b``).
Every request goes to the registry, which redirects to storage afresh, so an expired presigned URL is
never reused. A server that answers a segment's range with anything but a 206 for exactly that range
means ranges are not honoured: the workers stop and the rest of the blob is fetched by one connection
from the hashed prefix on (the ordinary resumable path).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import requests

from . import statuses
from .digest import READ_SIZE, Digest
from .exceptions import (
    DXFDigestMismatchError,
    DXFRangeIgnoredError,
    DXFSizeMismatchError,
    DXFTransferCancelledError,
)
from .limits import content_range

if TYPE_CHECKING:
    import hashlib

    from .remote import RemoteRepository

#: Connections per blob unless the caller says otherwise (measured: bench/run.py --only wan).
DEFAULT_CONNECTIONS = 4
#: Blobs with fewer bytes left than this use one connection. Chosen, not measured: at a 16 MiB/s
#: cap a 32 MiB blob takes 2 s alone, of which the probe and the other connections' first round
#: trips are a small share; for smaller blobs the saving shrinks towards those fixed costs.
MIN_SEGMENTED_BYTES = 32 * 1024 * 1024
#: Segment sizes: at least a few round trips' worth at a typical per-connection rate, at most small
#: enough that the last segments do not leave the other connections idle for long.
MIN_SEGMENT = 4 * 1024 * 1024
MAX_SEGMENT = 64 * 1024 * 1024
#: A first answer arriving at least this fast (bytes per second) means one connection is not the
#: bottleneck: no other is opened. (Measured here: one loopback connection carries 400+ MiB/s, and a
#: 4-connection loopback pull took 0.75 s against one connection's 0.58 s for 256 MiB; the
#: per-connection caps of object stores and CDNs are far below.)
FAST_CONNECTION = 100 * 1024 * 1024
#: Bytes of the first answer timed to judge its speed (about 0.1 s at a 16 MiB/s cap).
PROBE_BYTES = 2 * 1024 * 1024
#: Segments per connection, so a slow connection's share can be taken over by the faster ones.
SEGMENTS_PER_CONNECTION = 4

Report = Callable[[bytes], None]
#: Why a worker stops when a sibling failed (or ranges turned out unsupported).
_STOPPED = "stopped: another segment of this download failed"


@dataclass
class Segment:
    """Bytes ``start`` to ``end`` (exclusive) of the blob, ``received`` of them written so far."""

    start: int
    end: int
    received: int = 0

    @property
    def position(self) -> int:
        return self.start + self.received

    @property
    def done(self) -> bool:
        return self.position >= self.end


def plan(start: int, size: int, connections: int, longest: int | None = None) -> list[Segment]:
    """Cut bytes ``start`` to ``size`` into segments of one size (the last may be shorter), none
    longer than ``longest`` (default :data:`MAX_SEGMENT`) unless :data:`MIN_SEGMENT` is."""
    remaining = size - start
    wanted = -(-remaining // (connections * SEGMENTS_PER_CONNECTION))
    length = max(MIN_SEGMENT, min(MAX_SEGMENT if longest is None else longest, wanted))
    return [Segment(a, min(a + length, size)) for a in range(start, size, length)]


def worth_segmenting(remaining: int, connections: int) -> bool:
    """Whether ``remaining`` bytes are worth several connections."""
    return connections > 1 and remaining >= MIN_SEGMENTED_BYTES


class Sink(Protocol):
    """Where a segmented download puts the bytes of its segments (:class:`FileSink`, or
    :class:`dxf.ordered.MemorySink` for a stream), and what bounds how far ahead it fetches."""

    def admit(self, segment: Segment) -> None:
        """Return once ``segment`` may be fetched; raise :class:`DXFTransferCancelledError` when
        :meth:`abort` was called meanwhile."""

    def put(self, segment: Segment, piece: bytes) -> None:
        """Keep ``piece``, the next bytes of ``segment`` (at its position), and count them received."""

    def abort(self) -> None:
        """The download stops (a failure, ranges not honoured, a cancellation): wake every waiter."""


class FileSink:
    """Segments written at their offsets of a file (``pwrite``), and the thread that hashes the
    contiguous prefix from the file as it grows (see the module docstring). ``mark`` is called with
    the hashed length as it grows (a resumable download records it, see :mod:`dxf.partmark`)."""

    def __init__(
        self,
        segments: list[Segment],
        fd: int,
        hasher: hashlib._Hash,
        mark: Callable[[int], None] | None = None,
    ) -> None:
        self._segments = segments
        self._fd = fd
        self._hasher = hasher
        self._mark = mark
        self.hashed = segments[0].start
        self._first_open = 0
        self._stopped = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="dxf-hash", daemon=True)
        self._thread.start()

    def admit(self, segment: Segment) -> None:
        """A file holds any segment: no waiting."""

    def put(self, segment: Segment, piece: bytes) -> None:
        os.pwrite(self._fd, piece, segment.position)
        self.advanced(segment, len(piece))

    def abort(self) -> None:
        """Nothing waits on a file (the hashing thread is stopped by :meth:`stop`)."""

    def advanced(self, segment: Segment, count: int) -> None:
        with self._changed:
            segment.received += count
            self._changed.notify()

    def contiguous(self) -> int:
        """The end of the contiguous written prefix."""
        with self._changed:
            return self._front()

    def _front(self) -> int:
        segments = self._segments
        while self._first_open < len(segments) and segments[self._first_open].done:
            self._first_open += 1
        if self._first_open == len(segments):
            return segments[-1].end
        return segments[self._first_open].position

    def _run(self) -> None:
        end = self._segments[-1].end
        while self.hashed < end:
            with self._changed:
                while not self._stopped and (front := self._front()) <= self.hashed:
                    self._changed.wait()
                if self._stopped:
                    return
            while self.hashed < front:
                piece = os.pread(self._fd, min(READ_SIZE, front - self.hashed), self.hashed)
                if not piece:
                    return
                self._hasher.update(piece)
                self.hashed += len(piece)
                if self._mark is not None:
                    self._mark(self.hashed)

    def finish(self) -> None:
        """Wait until every written byte of the prefix is hashed (all segments done)."""
        self._thread.join()

    def stop(self) -> int:
        """Stop hashing; return how many leading bytes the hash has seen."""
        with self._changed:
            self._stopped = True
            self._changed.notify()
        self._thread.join()
        return self.hashed


class SegmentedDownload:
    """Fetch ``segments`` of the blob into ``sink`` over up to ``connections`` connections.

    ``first`` (given to :meth:`start`) is the open response of the GET that found the blob,
    positioned at the first segment's start; it serves the first segment. ``report`` is called with
    every chunk, from one thread at a time. :meth:`run` fetches everything and returns; a caller that
    consumes the bytes as they come (:mod:`dxf.ordered`) calls :meth:`start`, then :meth:`join`.
    """

    def __init__(
        self,
        repo: RemoteRepository,
        digest: Digest,
        segments: list[Segment],
        sink: Sink,
        *,
        connections: int,
        report: Report | None,
    ) -> None:
        self._repo = repo
        self._url = repo.blob_url(digest)
        self._sink = sink
        self.segments = segments
        self._connections = min(connections, len(self.segments))
        self._next = 0
        self._claim_lock = threading.Lock()
        self._report_lock = threading.Lock()
        self._report = report
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        #: While the first answer is being timed: (when timing began, where its bytes began).
        self._probe: tuple[float, int] | None = None
        self._futures: list[Future[None]] = []
        #: Responses being read now (guarded by the claim lock), for :meth:`cancel` to wake.
        self._reading: set[requests.Response] = set()

    def run(self, first: requests.Response) -> None:
        """Download every segment. Raises :class:`DXFRangeIgnoredError` (with the workers stopped)
        when the server does not honour ranges, or a worker's error."""
        self.start(first)
        self.join()

    def start(self, first: requests.Response, *, judged_slow: bool = False) -> None:
        """Start fetching (the first segment from ``first``); returns at once. ``judged_slow``: the
        caller has timed ``first`` already and found it slow, so the other connections open now."""
        self._pool = ThreadPoolExecutor(self._connections, thread_name_prefix="dxf-segment")
        self._futures = [self._pool.submit(self._lead, first, judged_slow)]
        if judged_slow:
            self._start_helpers()

    def join(self) -> None:
        """Wait until every worker is done; raise the first failure (the workers stopped)."""
        assert self._pool is not None
        try:
            self._wait_for_workers()
        except BaseException:
            self.cancel()
            raise
        finally:
            self._pool.shutdown(wait=True)

    def cancel(self) -> None:
        """Stop every worker and wait for them: each stops at its next piece, and a read that waits
        for bytes (a stalled connection) is woken by shutting its socket down, so an interrupt or a
        reader that stops early never waits for a read timeout."""
        self._halt()
        with self._claim_lock:
            reading = list(self._reading)
        for response in reading:
            _wake(response)
        wait(self._all_futures())
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _halt(self) -> None:
        """Tell every worker to stop at its next piece, and wake those waiting for room."""
        self._stop.set()
        self._sink.abort()

    def _all_futures(self) -> list[Future[None]]:
        with self._claim_lock:
            return list(self._futures)

    def _wait_for_workers(self) -> None:
        """Wait until every worker (helpers join while this waits) is done; raise the first failure."""
        while True:
            futures = self._all_futures()
            failed = [f.exception() for f in futures if f.done() and f.exception() is not None]
            if failed:
                self._halt()
                wait(futures)
                raise _first_error([f.exception() for f in self._all_futures()])
            pending = [f for f in futures if not f.done()]
            if not pending:
                return
            wait(pending, return_when=FIRST_EXCEPTION)

    def _start_helpers(self) -> None:
        pool = self._pool
        assert pool is not None
        with self._claim_lock:
            self._futures += [pool.submit(self._work) for _ in range(self._connections - 1)]

    def _judge_first_answer(self, position: int) -> None:
        """Once :data:`PROBE_BYTES` of the first answer are in (or the blob is), start the other
        connections if they came slower than :data:`FAST_CONNECTION`."""
        assert self._probe is not None
        began, start = self._probe
        received = position - start
        if received < PROBE_BYTES and position < self.segments[-1].end:
            return
        self._probe = None
        if received / max(time.monotonic() - began, 1e-9) < FAST_CONNECTION:
            self._start_helpers()

    def _lead(self, response: requests.Response, judged: bool = False) -> None:
        """Serve segments from the first response while they come in order (the other connections
        open once it has proved slow, see :meth:`_judge_first_answer`, unless ``judged`` already)."""
        position = self.segments[0].start
        self._probe = None if judged else (time.monotonic(), position)
        try:
            while (segment := self._claim()) is not None:
                if segment.start != position:  # a helper took the next one: this stream is done
                    response.close()
                    self._fetch(segment, None)
                    self._work()
                    return
                if not self._fetch(segment, response, keep=True):  # the stream broke: ranged GETs on
                    self._probe = None  # (its speed was not judged: it stays the one connection)
                    self._work()
                    return
                position = segment.end
        except BaseException:
            self._halt()
            raise
        finally:
            response.close()

    def _claim(self) -> Segment | None:
        with self._claim_lock:
            if self._next >= len(self.segments):
                return None
            self._next += 1
            return self.segments[self._next - 1]

    def _work(self) -> None:
        try:
            while (segment := self._claim()) is not None:
                self._fetch(segment, None)
        except BaseException:
            self._halt()
            raise

    def _fetch(self, segment: Segment, response: requests.Response | None, *, keep: bool = False) -> bool:
        """Fill one segment (from ``response`` when given, else a ranged GET of its own), retried
        alone from its own next byte after a failure. ``keep``: leave ``response`` open after
        filling the segment (it goes on to the next one). Returns whether the given response is
        still open and positioned at the segment's end."""
        self._sink.admit(segment)
        retrying = self._repo.retrying()
        given = response
        while not segment.done:
            try:
                if response is None:
                    response = self._open(segment)
                self._copy(response, segment)
            except (DXFRangeIgnoredError, DXFTransferCancelledError):
                raise
            except Exception as error:
                if response is not None:
                    response.close()
                response = None
                if self._stop.is_set():  # the download was abandoned (cancel() cut the connection)
                    raise DXFTransferCancelledError(_STOPPED) from error
                if not retrying.again(error, worth_it=_worth_retrying(error)):
                    raise
                continue
            if response is not None and not (keep and response is given):
                response.close()
        return keep and given is not None and response is given

    def _open(self, segment: Segment) -> requests.Response:
        last = segment.end - 1
        headers = {"Accept-Encoding": "identity", "Range": f"bytes={segment.position}-{last}"}
        answers = statuses.BLOB_GET_SEGMENT
        response = self._repo.request(
            "GET", self._url, stream=True, headers=headers, answers=answers, blob_read=True
        )
        partial = answers.of(response) is statuses.Outcome.PARTIAL
        if not partial:
            response.close()
            raise DXFRangeIgnoredError(
                f"asked for bytes {segment.position}-{last}, got {response.status_code}"
            )
        # A 206 for other bytes than asked (or of a blob of another size) would be written at this
        # segment's offset: refused. The one-connection fallback then checks its own answer.
        answered = content_range(response.headers.get("Content-Range"))
        size = self.segments[-1].end
        if answered is None or answered[:2] != (segment.position, last) or answered.total not in (None, size):
            response.close()
            raise DXFRangeIgnoredError(
                f"asked for bytes {segment.position}-{last}, got a 206 for another range"
            )
        return response

    def _copy(self, response: requests.Response, segment: Segment) -> None:
        """Write the response's bytes at the segment's position until the segment is full; never
        reads past it (the first response goes on to the next segment)."""
        raw = response.raw
        with self._claim_lock:
            self._reading.add(response)  # before the first check of _stop: see cancel()
        try:
            while not segment.done:
                if self._stop.is_set():
                    raise DXFTransferCancelledError(_STOPPED)
                self._repo.check_cancelled()
                piece = raw.read(min(READ_SIZE, segment.end - segment.position), decode_content=True)
                if not piece:
                    raise requests.exceptions.ChunkedEncodingError(
                        f"the answer ended {segment.end - segment.position} bytes before its segment did"
                    )
                self._sink.put(segment, piece)
                if self._probe is not None:
                    self._judge_first_answer(segment.position)
                if self._report is not None:
                    with self._report_lock:
                        self._report(piece)
        finally:
            with self._claim_lock:
                self._reading.discard(response)


def _wake(response: requests.Response) -> None:
    """Shut the response's socket down, so a read blocked on it in another thread returns now."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _worth_retrying(error: Exception) -> bool | None:
    """A 403 on a segment is worth another (bounded) try: a presigned storage URL the registry
    redirected to may have expired before our request reached it, and the next try asks the registry
    for a fresh one. ``None``: the usual rule (:func:`dxf.transfer.is_resumable`) decides."""
    return True if statuses.may_be_expired_storage_url(error) else None


def _first_error(errors: list[BaseException | None]) -> BaseException:
    """The error worth raising: :class:`DXFRangeIgnoredError` first (it means: fall back), then any
    other failure, and a cancellation (a batch abandoned, or workers stopped by a sibling) only when
    that is all there is."""
    found = [e for e in errors if e is not None]
    ranked = sorted(found, key=lambda e: (not isinstance(e, DXFRangeIgnoredError), _is_cancel(e)))
    return ranked[0] if ranked else DXFTransferCancelledError(_STOPPED)


def _is_cancel(error: BaseException) -> bool:
    return isinstance(error, DXFTransferCancelledError)


def verify_hash(seed: hashlib._Hash, digest: Digest, received: int, size: int) -> None:
    """Size and digest of a segmented download, as :class:`dxf.download.BlobReader` checks them."""
    if received != size:
        raise DXFSizeMismatchError(received, size)
    got = seed.hexdigest()
    if got != digest.hex:
        raise DXFDigestMismatchError(f"{digest.algorithm}:{got}", str(digest))


def unreported(segments: list[Segment], position: int, chunk: bytes | memoryview) -> bytes | memoryview:
    """The bytes of ``chunk`` (the blob's from ``position`` on) that no segment has received: what a
    fallback fetching them again has not yet counted as progress (the segments' bytes were, as they
    arrived). ``segments`` are in order and do not overlap, as :func:`plan` makes them."""
    end = position + len(chunk)
    pieces = []
    cursor = position
    for segment in segments:
        if segment.start >= end:
            break
        if segment.position <= cursor:
            continue
        if segment.start > cursor:
            pieces.append(chunk[cursor - position : segment.start - position])
        cursor = min(segment.position, end)
    if cursor < end:
        pieces.append(chunk[cursor - position :])
    return chunk if len(pieces) == 1 and len(pieces[0]) == len(chunk) else b"".join(pieces)
