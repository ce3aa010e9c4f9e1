"""Blob downloads: streamed, verified, resumed after a broken connection.

The blob's bytes are hashed as they arrive; for large blobs the hashing runs in a second thread
(hashlib releases the GIL), so reading the socket, writing the output and hashing overlap instead of
taking turns. When a connection breaks, the download continues with ``Range: bytes=<received>-``; a
server that ignores the range and sends everything again (200 instead of 206) is handled by
skipping what we already have. Nothing counts as complete until size and digest both match.

Blob GETs ask for ``Accept-Encoding: identity``: a digest names the blob's own bytes, so a proxy that
compresses anyway has its ``Content-Encoding`` undone before hashing (and its ``Content-Length``,
which then counts compressed bytes, is not taken for the blob's size). When the size is known (the
caller's descriptor, or ``Content-Length``), reading stops there: a server that sends more fails at
once instead of filling the disk.

Writing to a file (``-o PATH``) follows curl and wget: a symlink is followed (the file it points to
is replaced, the link stays); a path that exists and is not a regular file (a fifo, a device,
``/dev/stdout``) is written straight into and verified at the end; a regular file is replaced
atomically by a verified temporary file beside it and keeps its permission bits.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import queue
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO, Protocol

import requests

from . import partmark, statuses
from .body import DirectBody, direct_stream
from .digest import READ_SIZE, Digest
from .exceptions import (
    MAX_DETAIL_CHARS,
    DXFContentRangeError,
    DXFDigestMismatchError,
    DXFRangeIgnoredError,
    DXFSizeMismatchError,
    DXFTransferCancelledError,
    printable,
)
from .limits import content_range, header_int
from .segments import FileSink, Segment, SegmentedDownload, plan, unreported, verify_hash, worth_segmenting
from .statuses import Outcome
from .transfer import DEFAULT_DOWNLOAD_CHUNK, Progress, is_resumable

if TYPE_CHECKING:
    from .remote import RemoteRepository

#: Blobs at least this large are hashed in a background thread.
THREADED_HASH_THRESHOLD = 8 * 1024 * 1024
#: Chunks handed to the hashing thread and not yet hashed; bounds memory to this many times the
#: chunk size. Small on purpose: the reader's buffers (one more than this) are then still in the CPU
#: cache when they are refilled; 8 cost about 0.15 CPU s more per GiB than 2 on the project's
#: machine (1 GiB loopback pulls, 7 alternations, 2026-12-01), with no gain in wall time.
HASH_QUEUE_DEPTH = 2
#: Chunks smaller than this are hashed inline: handing 8 KiB pieces to a thread costs more than it saves.
THREADED_HASH_MIN_CHUNK = 256 * 1024
#: Blob GETs ask for the stored bytes as they are (RFC 9110 12.5.3): the digest is over those.
IDENTITY = {"Accept-Encoding": "identity"}
#: NAME_MAX when the file system does not say (POSIX minimum for most Linux file systems).
DEFAULT_NAME_MAX = 255


def _read_umask() -> int:
    """The process umask. Read once at import (setting it back at once), while no other thread can
    create files: ``mkstemp`` makes 0600 files, and a downloaded file should get the usual 0666 & ~umask.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


class _Hasher(Protocol):
    def update(self, chunk: bytes | memoryview) -> None: ...
    def hexdigest(self) -> str: ...
    def close(self) -> None: ...


class _InlineHasher:
    """Hash in the calling thread: cheaper than a thread for small blobs."""

    def __init__(self, hasher: hashlib._Hash) -> None:
        self._hasher = hasher

    def update(self, chunk: bytes | memoryview) -> None:
        self._hasher.update(chunk)

    def hexdigest(self) -> str:
        return self._hasher.hexdigest()

    def close(self) -> None:
        pass


class _BackgroundHasher:
    """Feed chunks to a hash object on another thread; ``hexdigest`` waits for the backlog.

    At most :data:`HASH_QUEUE_DEPTH` chunks are handed over and not yet hashed (``update`` waits for
    a slot): that bounds memory, and lets a reader reuse its buffers, since a chunk more than that
    many updates old has been hashed (:class:`dxf.body.DirectBody` keeps one buffer more).
    """

    def __init__(self, hasher: hashlib._Hash) -> None:
        self._hasher = hasher
        self._queue: queue.SimpleQueue[bytes | memoryview | None] = queue.SimpleQueue()
        self._slots = threading.Semaphore(HASH_QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hasher.update(chunk)
            self._slots.release()

    def update(self, chunk: bytes | memoryview) -> None:
        self._slots.acquire()
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        self.close()
        return self._hasher.hexdigest()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class BlobReader:
    """The chunks of one blob as they arrive, verified at the end (python-dxf's ``pull_blob`` iterator).

    The GET is sent when the reader is created, so a missing blob raises at once, not on iteration.
    Iterating to the end checks the length and digest and raises on a mismatch.

    ``offset`` and ``seed`` continue a download the caller already has the first ``offset`` bytes of
    (``seed`` is a hash object that has seen them): only the rest is requested and yielded, and the
    verification covers the whole blob. ``expected_size`` (a descriptor's size) is checked against
    what the server declares, and no more than that is ever read.
    """

    def __init__(
        self,
        repo: RemoteRepository,
        digest: Digest,
        chunk_size: int | None = None,
        *,
        offset: int = 0,
        seed: hashlib._Hash | None = None,
        expected_size: int | None = None,
    ) -> None:
        self.digest = digest
        self._repo = repo
        self._chunk_size = chunk_size or DEFAULT_DOWNLOAD_CHUNK
        self._url = repo.blob_url(digest)
        self._offset = offset
        self._seed = seed if seed is not None else digest.hasher()
        self._known_size = expected_size
        self._response, self._outcome, declared = self._open(offset)
        try:
            self.size = self._known_size = _agreed_size(declared, expected_size)
        except BaseException:
            self._response.close()
            raise

    def _open(self, offset: int) -> tuple[requests.Response, Outcome, int | None]:
        """GET the blob from ``offset``; returns the response (positioned at ``offset``), what it
        means, and the size the server declares (None when it does not say, or says it only for
        compressed bytes).

        A server that ignores the range (the whole blob follows) has what we already hold skipped;
        :attr:`Outcome.NOTHING_LEFT` means there is nothing past ``offset`` (the caller holds it all).
        """
        headers = {**IDENTITY, "Range": f"bytes={offset}-"} if offset else IDENTITY
        answers = statuses.BLOB_GET_FROM if offset else statuses.BLOB_GET
        response = self._repo.request(
            "GET", self._url, stream=True, headers=headers, answers=answers, blob_read=True
        )
        outcome = answers.of(response)
        if outcome is Outcome.NOTHING_LEFT:
            return response, outcome, offset
        known = declared_length(response)
        if outcome is Outcome.PARTIAL:
            total = _range_total(response, offset, self._known_size)
            size = total if total is not None else (offset + known if known is not None else None)
            return response, outcome, size
        self._discard(response, offset)
        return response, outcome, known

    def close(self) -> None:
        """Drop the connection without reading the rest (for a reader that will not be iterated)."""
        self._response.close()

    @property
    def accepts_ranges(self) -> bool:
        """Whether the server said it serves byte ranges: it answered ours with 206, or declared
        ``Accept-Ranges: bytes`` (RFC 9110 14.3). Storage a registry redirects to answers for itself."""
        if self._outcome is Outcome.PARTIAL:
            return True
        declared = self._response.headers.get("Accept-Ranges", "")
        return "bytes" in (unit.strip().lower() for unit in declared.split(","))

    def consumed(self, count: int) -> None:
        """The caller has read (and hashed into ``seed``) the next ``count`` bytes of the open
        response itself: iterating goes on after them, and a retry asks for what follows them."""
        self._offset += count

    def detach(self) -> requests.Response:
        """The open response, positioned at ``offset``, for a caller that reads it itself (and then
        verifies the blob itself, e.g. :class:`dxf.segments.SegmentedDownload`)."""
        return self._response

    def _discard(self, response: requests.Response, count: int) -> None:
        while count > 0:
            discarded = response.raw.read(min(count, self._chunk_size), decode_content=True)
            if not discarded:
                break
            count -= len(discarded)

    def _hasher(self) -> _Hasher:
        big = self.size is None or self.size >= THREADED_HASH_THRESHOLD
        if big and self._chunk_size >= THREADED_HASH_MIN_CHUNK:
            return _BackgroundHasher(self._seed)
        return _InlineHasher(self._seed)

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks():
            yield chunk if isinstance(chunk, bytes) else bytes(chunk)

    def views(self) -> Iterator[bytes | memoryview]:
        """The same chunks as iterating, verified the same way, but as views into a few reused
        buffers where the body allows (:mod:`dxf.body`): each is valid only until the next is asked
        for, so the caller writes it out (or copies it) before then. Saves a copy and an allocation
        per chunk; for callers that pass chunks straight on (a file, standard output)."""
        return self._chunks()

    def _chunks(self) -> Iterator[bytes | memoryview]:
        hasher = self._hasher()
        received = self._offset
        retrying = self._repo.retrying()
        response, outcome = self._response, self._outcome
        try:
            while outcome is not Outcome.NOTHING_LEFT:
                try:
                    for chunk in self._read(response, received, hasher):
                        self._repo.check_cancelled()
                        if self.size is not None and received + len(chunk) > self.size:
                            raise DXFSizeMismatchError(f"more than {self.size}", self.size)
                        hasher.update(chunk)
                        received += len(chunk)
                        yield chunk
                    break
                except Exception as error:
                    response.close()
                    if not retrying.again(error):
                        raise
                    response, outcome, _ = self._open(received)
        finally:
            response.close()
            hasher.close()
        if self.size is not None and received != self.size:
            raise DXFSizeMismatchError(received, self.size)
        got = hasher.hexdigest()
        if got != self.digest.hex:
            raise DXFDigestMismatchError(f"{self.digest.algorithm}:{got}", str(self.digest))

    def _read(
        self, response: requests.Response, received: int, hasher: _Hasher
    ) -> Iterator[bytes | memoryview]:
        """The body's chunks: read into reused buffers when it is plain bytes of a known length
        (:mod:`dxf.body`), else through urllib3, which undoes a ``Content-Encoding``. Never more
        than one byte past the blob's size, so that a server sending more is caught at once."""
        stream = direct_stream(response)
        if stream is None or self.size is None:
            yield from response.iter_content(self._chunk_size)
            return
        end = self.size + 1  # one byte past the blob: a server sending more is caught
        # one buffer more than the hashing thread may hold (see _BackgroundHasher), else one
        count = HASH_QUEUE_DEPTH + 1 if isinstance(hasher, _BackgroundHasher) else 1
        body = DirectBody(response, stream, max(1, min(self._chunk_size, end - received)), count)
        while chunk := body.read(end - received):
            received += len(chunk)
            yield chunk
        body.finish()


def _range_total(response: requests.Response, offset: int, size: int | None) -> int | None:
    """The blob's size a 206 answer to ``Range: bytes=<offset>-`` declares (None: ``*``), once its
    ``Content-Range`` is shown to start at ``offset``: bytes from anywhere else would be appended
    at the wrong place. A range that does not run to its declared end, or a total other than the
    blob's ``size`` (when known), is refused too: the server is not sending the rest of this blob.
    Raises :class:`DXFContentRangeError` (connection closed)."""
    declared = response.headers.get("Content-Range")
    answered = content_range(declared)
    problem = None
    if answered is None:
        problem = "is not a byte range"
    elif answered.first != offset:
        problem = f"starts at byte {answered.first}"
    elif answered.total is not None and answered.last != answered.total - 1:
        problem = f"ends at byte {answered.last} of {answered.total}"
    elif answered.total is not None and size is not None and answered.total != size:
        problem = f"says the blob has {answered.total} bytes, not {size}"
    if problem is None:
        return answered.total if answered is not None else None
    response.close()
    shown = printable(declared or "", MAX_DETAIL_CHARS) if declared else "(none)"
    raise DXFContentRangeError(
        f"asked for the blob from byte {offset}, the server's Content-Range {shown} {problem}"
    )


def declared_length(response: requests.Response) -> int | None:
    """``Content-Length`` as the blob's size: None when absent, or when it counts the bytes of a
    compressed body (``Content-Encoding`` other than identity) rather than the blob's."""
    length = header_int(response.headers.get("Content-Length"))
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    return length if encoding in ("", "identity") else None


def _agreed_size(declared: int | None, expected: int | None) -> int | None:
    """The blob's size: the caller's expectation, which the server's declaration must not contradict."""
    if expected is None:
        return declared
    if declared is not None and declared != expected:
        raise DXFSizeMismatchError(declared, expected)
    return expected


def partial_path(path: str, digest: Digest) -> str:
    """Where a resumable download of ``digest`` to ``path`` keeps its bytes until verified: beside the
    target, hidden, named after both so two downloads never share one.

    The name adds about 34 characters to the target's; when that would pass the file system's
    NAME_MAX, the target's name is shortened and a hash of it added, so any target name that fits
    has a part name that fits too (the same one in every run).
    """
    directory, name = os.path.split(os.path.abspath(path))
    suffix = f".{digest.algorithm}-{digest.hex[:16]}{partmark.PART_SUFFIX}"
    part = f".{name}{suffix}"
    limit = _name_max(directory)
    if len(os.fsencode(part)) > limit:
        key = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
        suffix = f"~{key}{suffix}"
        while name and len(os.fsencode(f".{name}{suffix}")) > limit:
            name = name[:-1]
        part = f".{name}{suffix}"
    return os.path.join(directory, part)


def _name_max(directory: str) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return DEFAULT_NAME_MAX


def download_to_file(
    repo: RemoteRepository,
    digest: Digest,
    path: str,
    progress: Progress | None = None,
    *,
    resume: bool = False,
    expected_size: int | None = None,
    connections: int = 1,
) -> int:
    """Download a blob into ``path``: into a temporary file beside it, verified, then renamed.

    On failure the temporary file is removed and ``path`` is left as it was. With ``resume``, the
    temporary file has a fixed name (:func:`partial_path`) and is kept after a broken connection or
    an interrupt, so a later call (in another process, too) continues from where it stopped, and
    after a 206 whose ``Content-Range`` is not the range asked for (:class:`DXFContentRangeError`:
    nothing of it was written); after any other failure (a blob that fails verification, one that
    does not exist) it is removed. The
    part file is locked while in use (a second download to the same target fails at once), and what
    the file holds is verified, not only what this call received, before it gets the target's name.
    A symlink, a fifo or a device as ``path``: see the module docstring. (No fsync: the rename
    guarantees no reader ever sees a partial file; durability across power loss is the filesystem's.)

    ``connections`` > 1 lets a large blob whose server serves ranges arrive over that many
    connections at once (:mod:`dxf.segments`); a broken-off segmented download keeps only its
    gap-free beginning (when killed, a mark beside the part file says where it ends:
    :mod:`dxf.partmark`), so resuming works as with one connection.
    """
    if _exists_as_non_regular(path):
        if resume:
            raise ValueError(f"{path}: resuming needs a regular file as the target")
        return _download_in_place(repo, digest, path, progress, expected_size)
    target = os.path.realpath(path) if os.path.islink(path) else path
    mode = _mode_for(target)
    if resume:
        tmp = partial_path(target, digest)
        out = _open_locked(tmp, path)
        partmark.trim(tmp, out.fileno())
        out.seek(0, os.SEEK_END)
    else:
        out, tmp = _open_temporary(target, path)
    with out:
        try:
            size = _fill(repo, digest, out, tmp, progress, expected_size, connections, marked=resume)
            _verify_file(out, tmp, digest, size, rehash=resume)
            os.fchmod(out.fileno(), mode)
            os.replace(tmp, target)  # still holding the lock: nobody appends between check and rename
        except BaseException as error:
            interrupted = isinstance(error, (KeyboardInterrupt, DXFTransferCancelledError)) or is_resumable(
                error, repo.retry
            )
            # A lying Content-Range is refused before any of its bytes are written: the part stays good.
            if not (resume and (interrupted or isinstance(error, DXFContentRangeError))):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            raise
    return size


def _fill(
    repo: RemoteRepository,
    digest: Digest,
    out: BinaryIO,
    tmp: str,
    progress: Progress | None,
    expected_size: int | None,
    connections: int = 1,
    *,
    marked: bool = False,
) -> int:
    """Append the rest of the blob to ``out`` (which may hold its beginning); return the blob's size.
    ``marked``: a segmented download keeps a :class:`dxf.partmark.Mark` beside ``tmp``."""
    seed = digest.hasher()
    held = out.tell()
    reader = BlobReader(repo, digest, offset=held, seed=seed, expected_size=expected_size)
    report = _reporter(progress, digest, reader)
    if report is not None:
        report(b"")
    if held:
        _hash_existing(tmp, held, seed, report)
    size = reader.size
    if size is not None and reader.accepts_ranges and worth_segmenting(size - held, connections):
        out.flush()
        _fill_segmented(repo, digest, reader, tmp, held, size, seed, report, connections, marked=marked)
        return size
    for chunk in reader.views():
        out.write(chunk)
        if report is not None:
            report(chunk)
    out.flush()
    return reader.size if reader.size is not None else out.tell()


def _reporter(
    progress: Progress | None, digest: Digest, reader: BlobReader
) -> Callable[[bytes | memoryview], None] | None:
    """``progress(digest, chunk, size)`` for each chunk; the caller's function gets ``bytes`` it may
    keep (the chunks of :meth:`BlobReader.views` live in buffers that are reused)."""
    if progress is None:
        return None
    name = str(digest)
    return lambda chunk: progress(name, chunk if isinstance(chunk, bytes) else bytes(chunk), reader.size)


def _fill_segmented(
    repo: RemoteRepository,
    digest: Digest,
    reader: BlobReader,
    tmp: str,
    held: int,
    size: int,
    seed: hashlib._Hash,
    report: Callable[[bytes | memoryview], None] | None,
    connections: int,
    *,
    marked: bool,
) -> None:
    """Write bytes ``held`` to ``size`` of the blob into ``tmp`` over several connections, verified.

    Where the server turns out not to honour ranges, the rest comes over one connection from the
    hashed prefix on. On failure the file is cut back to its gap-free beginning, which is what a
    resumed download continues from; with ``marked``, a mark beside it says where that beginning
    ends while the download runs, for a process killed before it could cut the file back.
    """
    fd = os.open(tmp, os.O_RDWR)  # not the caller's O_APPEND descriptor: pwrite must honour offsets
    mark = partmark.Mark(tmp) if marked else None
    try:
        if mark is not None:
            mark.record(held)  # before any byte lands past the gap-free beginning
        segments = plan(held, size, connections)
        sink = FileSink(segments, fd, seed, mark.record if mark is not None else None)
        job = SegmentedDownload(repo, digest, segments, sink, connections=connections, report=report)
        try:
            job.run(reader.detach())
        except DXFRangeIgnoredError:
            hashed = sink.stop()
            os.ftruncate(fd, hashed)
            _fill_rest_at(repo, digest, fd, hashed, size, seed, _unreported_only(report, segments))
            return
        except BaseException:
            sink.stop()
            os.ftruncate(fd, sink.contiguous())
            raise
        sink.finish()
        verify_hash(seed, digest, sink.hashed, size)
    finally:
        if mark is not None:
            mark.discard()  # the file is complete, or cut back to its gap-free beginning
        os.close(fd)


def _unreported_only(
    report: Callable[[bytes | memoryview], None] | None, segments: list[Segment]
) -> Callable[[int, bytes | memoryview], None] | None:
    """Progress for bytes fetched again from ``position``: only those no segment had received (and
    reported) already, so the total never passes the blob's size."""
    if report is None:
        return None
    callback = report

    def again(position: int, chunk: bytes | memoryview) -> None:
        fresh = unreported(segments, position, chunk)
        if fresh:
            callback(fresh)

    return again


def _fill_rest_at(
    repo: RemoteRepository,
    digest: Digest,
    fd: int,
    start: int,
    size: int,
    seed: hashlib._Hash,
    report: Callable[[int, bytes | memoryview], None] | None,
) -> None:
    """Bytes ``start`` on over one connection, written at their offsets and verified (``seed`` has
    hashed the bytes before ``start``); ``report`` gets each chunk with its offset."""
    position = start
    try:
        for chunk in BlobReader(repo, digest, offset=start, seed=seed, expected_size=size).views():
            os.pwrite(fd, chunk, position)
            if report is not None:
                report(position, chunk)
            position += len(chunk)
    except BaseException:
        os.ftruncate(fd, position)
        raise


def _verify_file(out: BinaryIO, tmp: str, digest: Digest, size: int, *, rehash: bool) -> None:
    """Check the file itself, not only the bytes this call sent to it: its length, and with ``rehash``
    its digest (a part file has a well-known name that another program may have written to)."""
    actual = os.fstat(out.fileno()).st_size
    if actual != size:
        raise DXFSizeMismatchError(actual, size)
    if rehash:
        got = Digest.of_file(tmp, digest.algorithm)
        if got != digest:
            raise DXFDigestMismatchError(str(got), str(digest))


def _download_in_place(
    repo: RemoteRepository, digest: Digest, path: str, progress: Progress | None, expected_size: int | None
) -> int:
    """Write straight into an existing fifo or device (it cannot be replaced, and should not be):
    verified at the end like any download, but what was written cannot be taken back."""
    reader = BlobReader(repo, digest, expected_size=expected_size)
    report = _reporter(progress, digest, reader)
    written = 0
    with contextlib.closing(reader), open(path, "wb") as out:
        if report is not None:
            report(b"")
        for chunk in reader.views():
            out.write(chunk)
            written += len(chunk)
            if report is not None:
                report(chunk)
    return reader.size if reader.size is not None else written


def _exists_as_non_regular(path: str) -> bool:
    """Whether ``path`` (symlinks followed) exists and is not a regular file: a fifo, a device, a
    directory, ``/dev/stdout``."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def _mode_for(target: str) -> int:
    """Permission bits for the new file: those of the file it replaces, else 0666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode) & 0o777
    except FileNotFoundError:
        return 0o666 & ~_UMASK


def _naming(error: OSError, path: str) -> OSError:
    """The same error about the user's ``path`` rather than our temporary file beside it."""
    return type(error)(error.errno, error.strerror, path)


def _open_temporary(target: str, shown: str) -> tuple[BinaryIO, str]:
    """A new private temporary file beside ``target``; errors name ``shown`` (the user's path)."""
    directory = os.path.dirname(os.path.abspath(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".dxf-", suffix=".part", dir=directory)
    except OSError as error:
        raise _naming(error, shown) from None
    return os.fdopen(fd, "wb"), tmp


def _open_locked(part: str, shown: str) -> BinaryIO:
    """Open the part file for appending, holding an exclusive lock on it for as long as it is open.

    A part file another download holds makes this fail at once, with one line. The lock is taken on
    what we opened: if that file was renamed or removed meanwhile (its download finished), the new
    part file under the name is opened instead.
    """
    while True:
        try:
            out = open(part, "ab")  # noqa: SIM115 - returned to the caller, who closes it
        except OSError as error:
            raise _naming(error, shown) from None
        try:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            out.close()
            raise OSError(errno.EBUSY, "another download to this file is in progress", shown) from None
        if _still_named(out, part):
            return out
        out.close()


def _still_named(out: BinaryIO, path: str) -> bool:
    """Whether ``path`` still names the open file ``out``."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(out.fileno())
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _hash_existing(
    path: str, length: int, hasher: hashlib._Hash, report: Callable[[bytes], None] | None
) -> None:
    """Feed the first ``length`` bytes of a partial download to ``hasher`` (and to the progress)."""
    with open(path, "rb") as f:
        while length > 0 and (chunk := f.read(min(READ_SIZE, length))):
            hasher.update(chunk)
            length -= len(chunk)
            if report is not None:
                report(chunk)
