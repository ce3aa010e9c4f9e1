"""Blob uploads: streamed, resumable, and overlapped with hashing.

An upload is a session at the registry (OCI distribution spec, "Pushing blobs"): ``POST`` opens it,
``PATCH`` requests with ``Content-Range`` append to it, ``PUT ?digest=`` closes it. After a failed
``PATCH`` we ask the session how much it holds (``GET`` on its location answers ``Range: 0-<last>``)
and continue from there. Not every registry can answer: distribution 2.8 signs the expected offset
into the upload URL and cancels a session whose stored size disagrees, which is exactly what a
``PATCH`` broken mid-body leaves. Then the upload starts again in a new session (a file can be read
again; a stream cannot, and fails with a clear error). A ``PATCH`` refused before any byte was stored
(429, 503) resumes in place. A registry that refuses ``PATCH`` gets the whole blob in one ``PUT``.

Pushing a file needs its digest twice: first to ask whether the registry already has it (python-dxf's
``check_exists``), last to close the upload. Reading the file to hash it before sending costs a
second pass (about 0.8 s per GiB here), so for large files the hash runs in a thread *while* the
upload streams; if the blob turns out to exist, the upload is abandoned and cancelled. Progress is
reported only once the digest is known (python-dxf passes it to the callback), catching up on the
bytes already sent by re-reading them from the page cache.

Reading twice means a file that changes during the upload could be hashed as one content and sent as
another. A :class:`_ChangeGuard` therefore notes the file's identity (size, mtime, ctime, inode)
before the first read and hashes the bytes actually sent; if either disagrees at the end, the upload
is abandoned before the registry completes it, with :class:`DXFFileChangedError`. A fifo or other
non-regular file cannot be read twice at all: it is read once, as a stream (see :func:`push_stream`).
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import IO

import requests

from .digest import READ_SIZE, Digest
from .exceptions import DXFError, DXFFileChangedError, DXFHTTPError
from .journal import UploadJournal
from .transfer import Progress, RepoContext, is_resumable

#: Bytes per PATCH when streaming an upload of unknown length (stdin): one chunk is held in memory so
#: it can be sent again after a failure.
DEFAULT_STREAM_CHUNK = 8 * 1024 * 1024
#: Files smaller than this are hashed first and sent in one PUT: fewer requests beat overlap here.
OVERLAP_THRESHOLD = 16 * 1024 * 1024
#: Statuses with which a registry says it does not take chunked (PATCH) uploads.
PATCH_REFUSED = frozenset({400, 405, 501})


class _Abandoned(DXFError):
    """Raised inside a request body to stop sending: the blob turned out to exist already."""


class SessionLost(DXFError):
    """The registry no longer holds a usable upload session; the upload must start again."""


class _PatchRefused(DXFError):
    """The registry does not take PATCH uploads; send the blob in one PUT instead."""


class UploadSession:
    """One upload session at the registry; tracks its current location."""

    def __init__(self, ctx: RepoContext, location: str | None = None) -> None:
        """Open a new session (POST), or with ``location`` take up one opened earlier."""
        self.ctx = ctx
        self.min_chunk = 0
        #: Called with each new location, so a journal can remember where to continue.
        self.on_move: Callable[[str], None] | None = None
        if location is not None:
            self.location = ctx.registry.resolve_location(ctx.registry.base_url, location)
            return
        url = ctx.registry.upload_start_url(ctx.repo)
        response = ctx.request("POST", url, ok=lambda r: r.status_code in (201, 202))
        response.close()
        self.location = ctx.registry.resolve_location(url, _location(response))
        minimum = response.headers.get("OCI-Chunk-Min-Length", "")
        self.min_chunk = int(minimum) if minimum.isdigit() else 0

    def _follow(self, response: requests.Response) -> None:
        location = response.headers.get("Location")
        if location:
            self.location = self.ctx.registry.resolve_location(self.location, location)
            if self.on_move is not None:
                self.on_move(self.location)

    def patch(self, body: object, start: int, length: int) -> None:
        """Append ``length`` bytes at ``start`` (the session must hold exactly ``start`` bytes)."""
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{start}-{start + length - 1}",
        }
        if length:
            headers["Content-Length"] = str(length)
        response = self.ctx.request(
            "PATCH", self.location, body=body, headers=headers, ok=_accepted, retry=False
        )
        response.close()
        self._follow(response)

    def offset(self) -> int:
        """How many bytes the registry holds for this session (``Range: 0-<last byte>``).

        distribution answers ``0-0`` both for an empty session and for one holding a single byte; we
        take 0. If that is wrong, the registry refuses the next PATCH (its signed state disagrees with
        what it stored) and the upload starts again in a new session, so nothing is ever corrupted.
        """
        response = self.ctx.request("GET", self.location, ok=lambda r: r.status_code == 204)
        response.close()
        self._follow(response)
        start, _, end = response.headers.get("Range", "").partition("-")
        if start != "0" or not end.isdigit():
            raise SessionLost(
                f"the registry's upload status has no usable Range: {response.headers.get('Range')!r}"
            )
        return 0 if end == "0" else int(end) + 1

    def finish(self, digest: Digest, body: object = None) -> None:
        """Close the session with ``PUT ?digest=`` (and the rest of the content, if any).

        A PUT whose answer was lost may still have landed, so after a failure we ask whether the blob
        exists before trying again; a PUT that carries content is never resent here (the caller
        starts a new session for that).
        """
        url = self.ctx.registry.with_query(self.location, digest=str(digest))
        headers = {"Content-Type": "application/octet-stream"}
        failures = 0
        while True:
            try:
                ok = lambda r: r.status_code in (201, 204)  # noqa: E731
                self.ctx.request("PUT", url, body=body, headers=headers, ok=ok, retry=False).close()
                return
            except Exception as error:
                if not is_resumable(error, self.ctx.retry):
                    raise
                if blob_exists(self.ctx, digest):
                    return
                failures += 1
                if body is not None or failures >= self.ctx.retry.attempts:
                    raise
                self.ctx.pause(failures, error)

    def cancel(self) -> None:
        """Abandon the session (best effort: an orphan session is only garbage at the registry)."""
        try:
            ok = lambda r: r.status_code in (200, 202, 204, 404)  # noqa: E731
            self.ctx.request("DELETE", self.location, ok=ok).close()
        except (DXFError, requests.exceptions.RequestException):
            pass


def _accepted(response: requests.Response) -> bool:
    return response.status_code == 202


def _location(response: requests.Response) -> str:
    location = response.headers.get("Location")
    if not location:
        raise DXFHTTPError(f"{response.status_code} {response.reason}: no Location header", response=response)
    return location


def send_span(session: UploadSession, body_from: Callable[[int], object], start: int, end: int) -> None:
    """PATCH bytes ``[start, end)``; after a failure, ask the registry what it holds and go on from there.

    ``body_from(offset)`` makes a fresh request body for ``[offset, end)``. Attempts are bounded by the
    client's retry policy. When the registry can no longer say where the session stands (distribution
    2.8 cancels a session whose stored size disagrees with its signed state, which is what a PATCH
    broken mid-body leaves behind) this raises :class:`SessionLost`, and the caller starts over.
    """
    offset = start
    failures = 0
    while True:
        try:
            session.patch(body_from(offset), offset, end - offset)
            return
        except _Abandoned:
            raise
        except Exception as error:
            if isinstance(error, DXFHTTPError) and error.status_code == 416:
                raise SessionLost(f"the registry refused the PATCH's range: {error}") from error
            failures += 1
            if not is_resumable(error, session.ctx.retry) or failures >= session.ctx.retry.attempts:
                raise
            session.ctx.pause(failures, error)
            offset = _resume_point(session, start, end, error)
            if offset == end:
                return


def _resume_point(session: UploadSession, start: int, end: int, error: BaseException) -> int:
    """Where to continue after ``error``: the registry's own count, if it is inside the span."""
    try:
        held = session.offset()
    except DXFHTTPError as status_error:
        if 400 <= status_error.status_code < 500 and status_error.status_code != 401:
            raise SessionLost(f"the registry dropped the upload session: {status_error}") from error
        raise
    if not start <= held <= end:
        raise SessionLost(f"the registry holds {held} bytes, outside the span {start}-{end}") from error
    return held


def _identity(st: os.stat_result) -> tuple[int, ...]:
    """What changes when a file is written, truncated or replaced: device, inode, size, mtime, ctime."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _ChangeGuard:
    """Detects a file that changes while it is uploaded (it is read twice: to hash, and to send).

    Created before the first read, it keeps the file's :func:`_identity` and hashes the bytes sent, in
    file order (a resent span is hashed once). :meth:`check` raises :class:`DXFFileChangedError` when
    the identity moved or the bytes sent do not hash to the digest the upload will be closed with; it
    runs when the last byte of the file is about to go (so a whole-file PUT never completes) and again
    before the upload is closed.
    """

    def __init__(self, path: str, st: os.stat_result, algorithm: str = "sha256") -> None:
        self.path = path
        self.size = st.st_size
        self._identity = _identity(st)
        self._hasher = hashlib.new(algorithm)
        self._hashed = 0
        self._gap = False  # bytes sent by an earlier run (a journal resume) cannot be hashed here
        self._expected: Digest | None = None

    def expect(self, digest: Digest) -> None:
        """The digest the upload will be closed with, once it is known."""
        self._expected = digest

    def sent(self, offset: int, chunk: bytes) -> None:
        """Note ``chunk``, read from ``offset`` and about to be sent; check at the file's last byte."""
        end = offset + len(chunk)
        if offset > self._hashed:
            self._gap = True
        elif end > self._hashed and not self._gap:
            self._hasher.update(chunk[self._hashed - offset :])
            self._hashed = end
        if end >= self.size:
            self.check()

    def check(self) -> None:
        try:
            moved = _identity(os.stat(self.path)) != self._identity
        except OSError:
            moved = True
        hashed_all = self._hashed == self.size and not self._gap
        if moved or (hashed_all and self._expected is not None and not self._expected.matches(self._hasher)):
            raise DXFFileChangedError(self.path)


class _FileRange:
    """Bytes ``[start, end)`` of a file as a request body: 1 MiB reads, a known length, a hook per chunk.

    requests streams any object with ``__iter__`` and takes the length from ``__len__``; urllib3 then
    calls ``read`` and sends whatever it returns, so our large reads replace http.client's 8 KiB ones.
    Every chunk is shown to ``guard`` before it goes, so a file that changed is never sent whole.
    """

    def __init__(
        self,
        guard: _ChangeGuard,
        start: int,
        end: int,
        on_chunk: Callable[[bytes], None] | None,
        ctx: RepoContext | None = None,
    ) -> None:
        self._ctx = ctx  # its cancellation is checked before each read
        self._f: IO[bytes] = open(guard.path, "rb")  # noqa: SIM115 - closed at end of range or on abandon
        self._f.seek(start)
        self._guard = guard
        self._offset = start
        self._left = end - start
        self._on_chunk = on_chunk
        self._length = end - start

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read():
            yield chunk

    def read(self, _n: int = -1) -> bytes:
        if self._left <= 0:
            self._f.close()
            return b""
        if self._ctx is not None and self._ctx.cancel is not None and self._ctx.cancel.is_set():
            self._f.close()
            self._ctx.check_cancelled()  # raises: the batch this upload belongs to was abandoned
        chunk = self._f.read(min(READ_SIZE, self._left))
        if not chunk:
            self._f.close()
            raise DXFFileChangedError(self._guard.path)  # it shrank
        try:
            self._guard.sent(self._offset, chunk)
            if self._on_chunk is not None:
                self._on_chunk(chunk)
        except BaseException:
            self._f.close()
            raise
        self._offset += len(chunk)
        self._left -= len(chunk)
        return chunk


class _DigestInBackground:
    """Hash a file in a thread and, when asked to, check whether the registry already has the blob."""

    def __init__(self, ctx: RepoContext, path: str, check_exists: bool) -> None:
        self.digest: Digest | None = None
        self.exists = False
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ctx, path, check_exists), daemon=True)
        self._thread.start()

    def _run(self, ctx: RepoContext, path: str, check_exists: bool) -> None:
        try:
            self.digest = Digest.of_file(path)
            self.exists = check_exists and blob_exists(ctx, self.digest)
        except BaseException as error:  # handed to the uploading thread
            self.error = error
        finally:
            self.done.set()

    def result(self) -> Digest:
        self._thread.join()
        if self.error is not None:
            raise self.error
        assert self.digest is not None
        return self.digest


class _HighWater:
    """Reports each byte of a blob to ``progress`` once, however often a retry sends it again."""

    def __init__(self, progress: Progress | None, digest: Digest, size: int) -> None:
        self._progress = progress
        self._label = str(digest)
        self._size = size
        self.position = 0
        self.reported = -1  # -1: not even the opening empty chunk yet

    def open(self) -> None:
        if self._progress is not None and self.reported < 0:
            self._progress(self._label, b"", self._size)
            self.reported = 0

    def feed(self, chunk: bytes) -> None:
        start, self.position = self.position, self.position + len(chunk)
        if self._progress is not None and self.position > self.reported:
            self.open()
            self._progress(self._label, chunk[max(0, self.reported - start) :], self._size)
            self.reported = self.position


class _GatedProgress:
    """Progress for an upload whose digest is not known yet: held back, then caught up from the file."""

    def __init__(self, progress: Progress | None, path: str, size: int, hashing: _DigestInBackground) -> None:
        self._progress = progress
        self._path = path
        self._size = size
        self._hashing = hashing
        self._sent = 0
        self._water: _HighWater | None = None

    def on_chunk(self, chunk: bytes) -> None:
        if self._hashing.done.is_set() and self._hashing.exists:
            raise _Abandoned("blob already exists")
        start, self._sent = self._sent, self._sent + len(chunk)
        if self._progress is not None and self._hashing.done.is_set() and self._hashing.error is None:
            water = self.catch_up(upto=start)
            water.position = start
            water.feed(chunk)

    def catch_up(self, upto: int | None = None) -> _HighWater:
        """Report everything sent so far (up to ``upto``), re-reading it from the file."""
        if self._water is None:
            assert self._hashing.digest is not None
            self._water = _HighWater(self._progress, self._hashing.digest, self._size)
            self._water.open()
        water = self._water
        target = self._sent if upto is None else upto
        if self._progress is not None and water.reported < target:
            with open(self._path, "rb") as f:
                f.seek(water.reported)
                water.position = water.reported
                while water.position < target and (chunk := f.read(min(READ_SIZE, target - water.position))):
                    water.feed(chunk)
        return water

    def rewind(self, offset: int) -> None:
        """A resumed upload resends from ``offset``."""
        self._sent = offset


def blob_exists(ctx: RepoContext, digest: Digest) -> bool:
    """HEAD the blob: True when present, False on 404; other failures raise."""
    url = ctx.registry.blob_url(ctx.repo, digest)
    response = ctx.request("HEAD", url, ok=lambda r: r.status_code in (200, 404), blob_read=True)
    response.close()
    return response.status_code == 200


def push_file(
    ctx: RepoContext,
    path: str,
    progress: Progress | None,
    check_exists: bool,
    chunk_size: int | None = None,
    journal: UploadJournal | None = None,
) -> Digest:
    """Upload a file, return its digest. See the module docstring for the overlap of hash and upload.

    With a ``journal``, the file is hashed first (the journal is keyed by digest), an upload an
    earlier run left behind is continued from what the registry holds, and an upload that fails is
    not cancelled but remembered, for the next run to continue. A file that changes during the upload
    raises :class:`DXFFileChangedError`; a non-regular file (a fifo) is streamed, see
    :func:`_push_non_regular`.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        return _push_non_regular(ctx, path, progress, journal)
    guard = _ChangeGuard(path, st)  # before the first read
    if guard.size < OVERLAP_THRESHOLD and journal is None:
        digest = Digest.of_file(path)
        guard.check()  # changed while it was hashed: nothing sent yet
        if check_exists and blob_exists(ctx, digest):
            return digest
        guard.expect(digest)
        _push_whole_file(ctx, guard, digest, progress)
        return digest
    return _push_overlapped(ctx, guard, progress, check_exists, chunk_size, journal)


def _push_non_regular(
    ctx: RepoContext, path: str, progress: Progress | None, journal: UploadJournal | None
) -> Digest:
    """A fifo, device or socket can be read only once (hashing first would consume it, and the
    upload would then wait forever): upload it as a stream, with :func:`push_stream`'s rules
    (``progress(label, chunk)``, no existence check, no resume)."""
    if journal is not None:
        raise DXFError(
            f"cannot resume an upload of {path}: it is not a regular file and can be read only once"
        )
    with open(path, "rb") as stream:
        return push_stream(ctx, stream, progress)


def _push_overlapped(
    ctx: RepoContext,
    guard: _ChangeGuard,
    progress: Progress | None,
    check_exists: bool,
    chunk_size: int | None,
    journal: UploadJournal | None,
) -> Digest:
    """A large file (or any file with a journal): PATCH it while a thread hashes it, then close."""
    path, size = guard.path, guard.size
    hashing = _DigestInBackground(ctx, path, check_exists)
    gate = _GatedProgress(progress, path, size, hashing)
    resumed: tuple[UploadSession, int] | None = None
    if journal is not None:
        digest = hashing.result()
        if hashing.exists:
            journal.forget(ctx.registry.base_url, ctx.repo, digest)
            return digest
        guard.expect(digest)
        resumed = _resume_from_journal(ctx, journal, digest, size)
    restarts = 0
    while True:
        session, start = resumed or (UploadSession(ctx), 0)
        resumed = None
        if journal is not None:
            _remember(journal, session, hashing.result())
        try:
            _send_file(session, guard, gate, chunk_size, start)
            break
        except _Abandoned:
            session.cancel()
            return hashing.result()
        except _PatchRefused:
            session.cancel()
            digest = hashing.result()
            if not hashing.exists:
                guard.expect(digest)
                _push_whole_file(ctx, guard, digest, progress)
            return digest
        except DXFFileChangedError:
            _drop(session, journal, hashing)
            raise
        except SessionLost as lost:
            session.cancel()
            restarts += 1
            if restarts >= ctx.retry.attempts:
                hashing.result()
                raise
            ctx.pause(restarts, lost)
        except BaseException:
            if journal is None:  # with a journal the session is kept for the next run
                session.cancel()
            hashing.result()  # surface a hashing error in preference to its consequence
            raise
    digest = hashing.result()
    if hashing.exists:
        session.cancel()
        return digest
    gate.catch_up()
    guard.expect(digest)
    try:
        guard.check()
    except DXFFileChangedError:
        _drop(session, journal, hashing)
        raise
    session.finish(digest)
    if journal is not None:
        journal.forget(ctx.registry.base_url, ctx.repo, digest)
    return digest


def _drop(session: UploadSession, journal: UploadJournal | None, hashing: _DigestInBackground) -> None:
    """Abandon the session of a file that changed: its bytes can never be completed under any digest."""
    session.cancel()
    if journal is not None:
        journal.forget(session.ctx.registry.base_url, session.ctx.repo, hashing.result())


def _remember(journal: UploadJournal, session: UploadSession, digest: Digest) -> None:
    """Save the session's location now and after every request that moves it."""
    registry, repo = session.ctx.registry.base_url, session.ctx.repo

    def save(location: str) -> None:
        journal.save(registry, repo, digest, location)

    save(session.location)
    session.on_move = save


def _resume_from_journal(
    ctx: RepoContext, journal: UploadJournal, digest: Digest, size: int
) -> tuple[UploadSession, int] | None:
    """The session an earlier run left for ``digest`` and how much of it the registry holds, or None
    when there is none or the registry no longer has it (then the journal entry is dropped)."""
    location = journal.load(ctx.registry.base_url, ctx.repo, digest)
    if location is None:
        return None
    try:
        session = UploadSession(ctx, location)
        held = session.offset()
    except (DXFError, requests.exceptions.RequestException):
        journal.forget(ctx.registry.base_url, ctx.repo, digest)
        return None
    if held > size:
        journal.forget(ctx.registry.base_url, ctx.repo, digest)
        return None
    return session, held


def _push_whole_file(
    ctx: RepoContext, guard: _ChangeGuard, digest: Digest, progress: Progress | None
) -> None:
    """One POST and one PUT carrying the whole file (progress reported once per byte)."""
    water = _HighWater(progress, digest, guard.size)
    water.open()

    def body() -> _FileRange:
        water.position = 0
        return _FileRange(guard, 0, guard.size, water.feed, ctx)

    _put_in_new_sessions(ctx, digest, body, replayable=True)


def _put_in_new_sessions(
    ctx: RepoContext, digest: Digest, body: Callable[[], object], replayable: bool
) -> None:
    """POST a session and PUT the whole blob into it. A PUT that breaks cannot be resumed in place
    (the session may hold part of it), so a retry, when the body can be made again, opens a new one."""
    failures = 0
    while True:
        session = UploadSession(ctx)
        try:
            session.finish(digest, body())
            return
        except Exception as error:
            session.cancel()
            failures += 1
            if not replayable or not is_resumable(error, ctx.retry) or failures >= ctx.retry.attempts:
                raise
            ctx.pause(failures, error)


def _send_file(
    session: UploadSession,
    guard: _ChangeGuard,
    gate: _GatedProgress,
    chunk_size: int | None,
    start: int = 0,
) -> None:
    """PATCH the file from ``start`` in spans of ``chunk_size`` (default: one span), each resumable. A
    registry that refuses the first PATCH raises :class:`_PatchRefused`; the caller then sends one PUT."""
    size = guard.size
    span = max(chunk_size or size, session.min_chunk, 1)
    first = start
    while start < size:
        end = min(size, start + span)

        def body_from(offset: int, end: int = end) -> _FileRange:
            gate.rewind(offset)
            return _FileRange(guard, offset, end, gate.on_chunk, session.ctx)

        try:
            send_span(session, body_from, start, end)
        except DXFHTTPError as error:
            if start == first and error.status_code in PATCH_REFUSED:
                raise _PatchRefused(str(error)) from error
            raise
        start = end


def push_chunks(ctx: RepoContext, chunks: Iterable[bytes], digest: Digest, progress: Progress | None) -> None:
    """Upload caller-supplied chunks (digest known) in one streamed PUT (python-dxf's ``data=``).

    A list or tuple of chunks can be sent again, in a new session, after a failure; an iterator
    cannot, so its failure is final (and the registry, checking the digest, never keeps a torn blob).
    """
    reported = 0

    def reporting() -> Iterator[bytes]:
        nonlocal reported
        for index, chunk in enumerate(chunks):
            if chunk and progress is not None and index >= reported:
                progress(str(digest), chunk)
                reported = index + 1
            yield chunk

    _put_in_new_sessions(ctx, digest, reporting, replayable=isinstance(chunks, (list, tuple)))


def push_stream(
    ctx: RepoContext,
    stream: IO[bytes],
    progress: Progress | None,
    chunk_size: int = DEFAULT_STREAM_CHUNK,
    algorithm: str = "sha256",
) -> Digest:
    """Upload a stream of unknown length: PATCH chunks while hashing, then ``PUT ?digest=``.

    Each chunk is held once in memory so it can be resent after a failure; nothing is spooled to disk.
    ``progress(label, chunk)`` is called with the label ``"(stream)"``, the digest being unknown.
    """
    hasher = hashlib.new(algorithm)
    session = UploadSession(ctx)
    chunk_size = max(chunk_size, session.min_chunk, 1)
    offset = 0
    if progress is not None:
        progress("(stream)", b"")
    try:
        while chunk := _read_full(stream, chunk_size):
            hasher.update(chunk)
            start = offset

            def rest_of_chunk(at: int, chunk: bytes = chunk, start: int = start) -> bytes:
                return chunk[at - start :]

            try:
                send_span(session, rest_of_chunk, start, start + len(chunk))
            except SessionLost as lost:
                raise DXFError(
                    f"{lost}; a stream cannot be read again, so the push must be repeated"
                ) from lost
            offset += len(chunk)
            if progress is not None:
                progress("(stream)", chunk)
        digest = Digest(algorithm, hasher.hexdigest())
        session.finish(digest)
    except BaseException:
        session.cancel()
        raise
    return digest


def _read_full(stream: IO[bytes], size: int) -> bytes:
    """Read up to ``size`` bytes, looping over short reads (pipes return what they have)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)
