"""One blob over several connections to a stream (standard output): segments fetched into memory and
handed on strictly in order, in bounded memory.

A file can take segments at any offset (:class:`dxf.segments.FileSink`); a stream cannot, so here each
segment's bytes wait in memory until every byte before them has been handed on. The connections,
retries, a fresh redirect after a 403 and the fall-back when ranges are not honoured are
:class:`dxf.segments.SegmentedDownload`'s, shared with the file path; this module adds the sink that
keeps the bytes in order (:class:`MemorySink`) and the iterator over them (:class:`OrderedBlobReader`).

The slow-start judgement is made here, before any of that machinery starts: the first
:data:`~dxf.segments.PROBE_BYTES` are read and timed on the open response. When they came fast (on
loopback or a fast LAN), the rest stays on the one-connection reader, whose reused buffers and hashing
thread cost less than a window of in-memory segments (measured: 1.22 s against 1.46 s per GiB to a
file on loopback); when slow, the other connections open at once.

Memory is bounded by a *window*: a connection may start fetching a segment only while that segment
is fewer than ``window`` segments past the one being handed on (the front). Every byte held is in
one of those segments, so at most ``window`` x segment length bytes are buffered, however slow the
front segment or the reader: with the defaults (4 connections, a window of connections + 1, segments
of at most :data:`STREAM_MAX_SEGMENT`) 40 MiB. The slack segment lets a connection that finishes a
little before the front go on at once instead of idling until the front segment is handed on.

The bytes are hashed in order as they are handed on; size and digest are checked after the last
one. As with one connection, what was handed on before a mismatch cannot be taken back: the caller
learns of it by the exception at the end.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from . import segments
from .digest import READ_SIZE
from .download import BlobReader
from .exceptions import DXFRangeIgnoredError, DXFTransferCancelledError
from .segments import Segment, SegmentedDownload, plan, verify_hash, worth_segmenting

if TYPE_CHECKING:
    from .digest import Digest
    from .remote import RemoteRepository

#: Longest segment of a stream: the unit of what waits in memory for the reader. Shorter than a
#: file's (:data:`dxf.segments.MAX_SEGMENT`) to keep the window small; at a 16 MiB/s per-connection
#: cap it is still half a second of transfer per request, against a round trip of tens of ms.
STREAM_MAX_SEGMENT = 8 * 1024 * 1024
#: Segments a connection may fetch beyond one per connection while the front is being handed on.
SLACK_SEGMENTS = 1
#: Why a worker waiting for room stops.
_STOPPED = "stopped: the download was abandoned"


class MemorySink:
    """Segments' bytes kept in memory until the reader takes them, in order (see the module
    docstring). ``buffered``, ``peak`` and ``cap`` are bytes held now, most held at once, and the bound;
    ``waiting`` counts workers waiting for room (for observers such as tests and benchmarks)."""

    def __init__(self, segments: list[Segment], window: int) -> None:
        self.segments = segments
        self._index = {segment.start: i for i, segment in enumerate(segments)}
        self._pieces: list[collections.deque[bytes]] = [collections.deque() for _ in segments]
        self._front = 0
        self.window = max(1, window)
        self.cap = self.window * max(segment.end - segment.start for segment in segments)
        self.buffered = 0
        self.peak = 0
        self.waiting = 0
        self._aborted = False
        self._changed = threading.Condition()

    def admit(self, segment: Segment) -> None:
        """Wait while ``segment`` is ``window`` or more segments past the front."""
        index = self._index[segment.start]
        with self._changed:
            if index >= self._front + self.window and not self._aborted:
                self.waiting += 1
                self._changed.notify_all()
                try:
                    self._changed.wait_for(lambda: self._aborted or index < self._front + self.window)
                finally:
                    self.waiting -= 1
            if self._aborted:
                raise DXFTransferCancelledError(_STOPPED)

    def put(self, segment: Segment, piece: bytes) -> None:
        with self._changed:
            self._pieces[self._index[segment.start]].append(piece)
            segment.received += len(piece)
            self.buffered += len(piece)
            self.peak = max(self.peak, self.buffered)
            self._changed.notify_all()

    def abort(self) -> None:
        with self._changed:
            self._aborted = True
            self._changed.notify_all()

    def take(self) -> bytes | None:
        """The next bytes in order, waiting for them; ``None`` after the last byte, or once the
        download was aborted (its error is then the job's to raise)."""
        segments = self.segments
        with self._changed:
            while self._front < len(segments):
                waiting = self._pieces[self._front]
                if waiting:
                    piece = waiting.popleft()
                    self.buffered -= len(piece)
                    return piece
                if segments[self._front].done:
                    self._front += 1
                    self._changed.notify_all()  # room for one more segment
                    continue
                if self._aborted:
                    return None
                self._changed.wait()
            return None

    def watch(self) -> threading.Condition:
        """The condition notified whenever bytes arrive or a worker starts waiting (for observers)."""
        return self._changed


class OrderedBlobReader:
    """The blob's chunks in order, fetched over up to ``connections`` connections when it is large
    enough and its server serves ranges (else as :class:`dxf.download.BlobReader`, over one).

    Like :class:`~dxf.download.BlobReader`, the GET is sent when the reader is created (a missing blob
    raises at once) and iterating to the end verifies size and digest. Chunks come as they arrived,
    up to :data:`dxf.digest.READ_SIZE` bytes each, whatever ``chunk_size`` (which applies only when
    the blob comes over one connection). ``sink`` is the :class:`MemorySink` once a segmented
    download has started (for observers).
    """

    def __init__(
        self,
        repo: RemoteRepository,
        digest: Digest,
        chunk_size: int | None = None,
        *,
        expected_size: int | None = None,
        connections: int,
    ) -> None:
        self.digest = digest
        self._repo = repo
        self._chunk_size = chunk_size
        self._connections = connections
        self._seed = digest.hasher()
        self._reader = BlobReader(repo, digest, chunk_size, seed=self._seed, expected_size=expected_size)
        self.size = self._reader.size
        self.sink: MemorySink | None = None

    def close(self) -> None:
        """Drop the connection without reading the rest (for a reader that will not be iterated)."""
        self._reader.close()

    def __iter__(self) -> Iterator[bytes]:
        return cast(Iterator[bytes], self._chunks(views=False))  # bytes unless views=True

    def views(self) -> Iterator[bytes | memoryview]:
        """As iterating, but over one connection the chunks are views into the reader's reused
        buffers (see :meth:`dxf.download.BlobReader.views`): valid until the next is asked for."""
        return self._chunks(views=True)

    def _chunks(self, *, views: bool) -> Iterator[bytes | memoryview]:
        size = self.size
        single = self._reader.views() if views else self._reader
        if size is None or not self._reader.accepts_ranges or not worth_segmenting(size, self._connections):
            yield from single
            return
        probe, slow = self._probe(size)
        if slow:
            yield from self._segmented(size, probe)
            return
        # Fast (or the probe's read failed, which the reader's retries take over from where it
        # stopped): one connection carries the blob, on the reader's own path, which reads into
        # reused buffers and hashes on another thread; the machinery of several would cost more.
        yield from probe
        yield from single

    def _probe(self, size: int) -> tuple[list[bytes], bool]:
        """Read the first :data:`~dxf.segments.PROBE_BYTES` of the open response, timed as the file
        path times its first answer: the pieces (hashed, and counted as consumed by the reader), and
        whether they came slower than :data:`~dxf.segments.FAST_CONNECTION`."""
        response = self._reader.detach()
        pieces: list[bytes] = []
        received, failed = 0, False
        wanted = min(segments.PROBE_BYTES, size)
        began = time.monotonic()
        try:
            while received < wanted:
                self._repo.check_cancelled()
                piece = response.raw.read(min(READ_SIZE, wanted - received), decode_content=True)
                if not piece:
                    failed = True
                    break
                pieces.append(piece)
                received += len(piece)
        except DXFTransferCancelledError:
            raise
        except Exception:  # a cut or a stall is no verdict on the speed
            failed = True
        elapsed = max(time.monotonic() - began, 1e-9)
        for piece in pieces:
            self._seed.update(piece)
        self._reader.consumed(received)
        return pieces, not failed and received / elapsed < segments.FAST_CONNECTION

    def _segmented(self, size: int, probe: list[bytes]) -> Iterator[bytes | memoryview]:
        """The rest after ``probe`` over several connections, the first being the probed one."""
        handed = sum(len(piece) for piece in probe)
        planned = plan(handed, size, self._connections, longest=STREAM_MAX_SEGMENT)
        sink = self.sink = MemorySink(planned, self._connections + SLACK_SEGMENTS)
        job = SegmentedDownload(
            self._repo, self.digest, planned, sink, connections=self._connections, report=None
        )
        hasher = self._seed
        job.start(self._reader.detach(), judged_slow=True)
        try:
            yield from probe
            while (piece := sink.take()) is not None:
                hasher.update(piece)
                handed += len(piece)
                yield piece
            job.join()
        except DXFRangeIgnoredError:  # the rest over one connection, from what was handed on
            rest = BlobReader(
                self._repo, self.digest, self._chunk_size, offset=handed, seed=hasher, expected_size=size
            )
            yield from rest
            return
        finally:
            job.cancel()  # the reader stopped early, or a failure: stop the workers (else a no-op)
        verify_hash(hasher, self.digest, handed, size)
