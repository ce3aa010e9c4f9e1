"""How a blob is pushed: the strategies, each built from the session protocol of
:mod:`dxf.upload_session` and the request bodies of :mod:`dxf.upload_body`.

* A small file is hashed first and sent in one ``PUT`` (:func:`_push_whole_file`): fewer requests
  beat overlap there.
* A large file (or any file with a journal) is sent in ``PATCH`` requests *while* a thread hashes it
  (:class:`_OverlappedPush`); if the blob turns out to exist, the upload is stopped and cancelled. A
  ``PATCH`` broken off resumes from what the registry holds; a session the registry dropped starts
  again in a new one (a file can be read again); a registry that refuses ``PATCH`` gets the whole
  file in one ``PUT``. With a journal, a failed upload is kept for the next run to continue.
* A fifo or other non-regular file cannot be read twice: it is read once, as a stream.
* A stream of unknown length (:func:`push_stream`) is sent in chunks held once in memory; a session
  the registry drops cannot be started again there.
* Chunks whose digest the caller knows (python-dxf's ``data=``) go in one streamed ``PUT``
  (:func:`push_chunks`).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING

import requests

from .digest import Digest
from .exceptions import (
    DXFError,
    DXFFileChangedError,
    DXFPatchRefusedError,
    DXFSessionLostError,
    DXFTransferCancelledError,
)
from .journal import UploadJournal
from .transfer import Progress
from .upload_body import ChangeGuard, DigestInBackground, FileRange, GatedProgress, HighWater
from .upload_session import UploadSession, send_span

if TYPE_CHECKING:
    from .remote import RemoteRepository

#: Bytes per PATCH when streaming an upload of unknown length (stdin): one chunk is held in memory so
#: it can be sent again after a failure.
DEFAULT_STREAM_CHUNK = 8 * 1024 * 1024
#: Files smaller than this are hashed first and sent in one PUT: fewer requests beat overlap here.
OVERLAP_THRESHOLD = 16 * 1024 * 1024


def push_file(
    repo: RemoteRepository,
    path: str,
    progress: Progress | None,
    check_exists: bool,
    chunk_size: int | None = None,
    journal: UploadJournal | None = None,
) -> Digest:
    """Upload a file, return its digest (see the module docstring for the strategies).

    With a ``journal``, the file is hashed first (the journal is keyed by digest), an upload an
    earlier run left behind is continued from what the registry holds, and an upload that fails is
    not cancelled but remembered, for the next run to continue. A file that changes during the upload
    raises :class:`DXFFileChangedError`; a non-regular file (a fifo) is streamed, see
    :func:`_push_non_regular`.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        return _push_non_regular(repo, path, progress, journal)
    guard = ChangeGuard(path, st)  # before the first read
    if guard.size >= OVERLAP_THRESHOLD or journal is not None:
        return _OverlappedPush(repo, guard, progress, check_exists, chunk_size, journal).run()
    digest = Digest.of_file(path)
    guard.check()  # changed while it was hashed: nothing sent yet
    if check_exists and repo.blob_exists(digest):
        return digest
    guard.expect(digest)
    _push_whole_file(repo, guard, digest, progress)
    return digest


def _push_non_regular(
    repo: RemoteRepository, path: str, progress: Progress | None, journal: UploadJournal | None
) -> Digest:
    """A fifo, device or socket can be read only once (hashing first would consume it, and the
    upload would then wait forever): upload it as a stream, with :func:`push_stream`'s rules
    (``progress(label, chunk)``, no existence check, no resume)."""
    if journal is not None:
        raise DXFError(
            f"cannot resume an upload of {path}: it is not a regular file and can be read only once"
        )
    with open(path, "rb") as stream:
        return push_stream(repo, stream, progress)


class _OverlappedPush:
    """A large file (or any file with a journal): PATCH it while a thread hashes it, then close.

    :meth:`run` tries sessions until one is closed; :meth:`_attempt` sends the file into one and
    hands each way that can end to a small method that cleans up for it.
    """

    def __init__(
        self,
        repo: RemoteRepository,
        guard: ChangeGuard,
        progress: Progress | None,
        check_exists: bool,
        chunk_size: int | None,
        journal: UploadJournal | None,
    ) -> None:
        self.repo = repo
        self.guard = guard
        self.progress = progress
        self.chunk_size = chunk_size
        self.journal = journal
        self.hashing = DigestInBackground(repo, guard.path, check_exists)
        self.gate = GatedProgress(progress, guard.path, guard.size, self.hashing)
        self.restarts = repo.retrying()

    def run(self) -> Digest:
        resumed: tuple[UploadSession, int] | None = None
        if self.journal is not None:
            digest = self.hashing.result()
            if self.hashing.exists:
                self._forget(digest)
                return digest
            self.guard.expect(digest)
            resumed = _resume_from_journal(self.repo, self.journal, digest, self.guard.size)
        while True:
            session, start = resumed or (UploadSession(self.repo), 0)
            resumed = None
            done = self._attempt(session, start)
            if done is not None:
                return done

    def _attempt(self, session: UploadSession, start: int) -> Digest | None:
        """Send the file into ``session`` from ``start``; the digest when the push is over, None to
        start again in a new session."""
        if self.journal is not None:
            _remember(self.journal, session, self.hashing.result())
        try:
            chunked = _send_file(session, self.guard, self.gate, self.chunk_size, start, self._stopped)
        except DXFTransferCancelledError:
            if not self.hashing.found_present():
                self._abandon(session)
                raise
            session.cancel()  # stopped because the registry has the blob already
            return self.hashing.result()
        except DXFFileChangedError:
            self._drop(session)
            raise
        except DXFSessionLostError as lost:
            session.cancel()
            if not self.restarts.again(lost, worth_it=True):
                self.hashing.result()
                raise
            return None
        except BaseException:
            self._abandon(session)
            raise
        if not chunked:
            session.cancel()
            return self._push_whole()
        return self._close(session)

    def _stopped(self) -> bool:
        """Whether the body being sent should stop: the batch was abandoned, or the blob exists."""
        return self.repo.cancelled() or self.hashing.found_present()

    def _close(self, session: UploadSession) -> Digest:
        """Everything is sent: check the file did not change, then close the session."""
        digest = self.hashing.result()
        if self.hashing.exists:
            session.cancel()
            return digest
        self.gate.catch_up()
        self.guard.expect(digest)
        try:
            self.guard.check()
        except DXFFileChangedError:
            self._drop(session)
            raise
        session.finish(digest)
        self._forget(digest)
        return digest

    def _push_whole(self) -> Digest:
        """The registry takes no PATCH: send the file in one PUT (unless it has the blob)."""
        digest = self.hashing.result()
        if not self.hashing.exists:
            self.guard.expect(digest)
            _push_whole_file(self.repo, self.guard, digest, self.progress)
        return digest

    def _abandon(self, session: UploadSession) -> None:
        """After a failure: cancel the session (with a journal it is kept for the next run), and
        surface a hashing error in preference to its consequence."""
        if self.journal is None:
            session.cancel()
        self.hashing.result()

    def _drop(self, session: UploadSession) -> None:
        """Abandon the session of a file that changed: its bytes can never be completed under any digest."""
        session.cancel()
        self._forget(self.hashing.result())

    def _forget(self, digest: Digest) -> None:
        if self.journal is not None:
            self.journal.forget(self.repo.registry.base_url, self.repo.path, digest)


def _remember(journal: UploadJournal, session: UploadSession, digest: Digest) -> None:
    """Save the session's location now and after every request that moves it."""
    registry, repo = session.repo.registry.base_url, session.repo.path

    def save(location: str) -> None:
        journal.save(registry, repo, digest, location)

    save(session.location)
    session.on_move = save


def _resume_from_journal(
    repo: RemoteRepository, journal: UploadJournal, digest: Digest, size: int
) -> tuple[UploadSession, int] | None:
    """The session an earlier run left for ``digest`` and how much of it the registry holds, or None
    when there is none or the registry no longer has it (then the journal entry is dropped)."""
    key = (repo.registry.base_url, repo.path, digest)
    location = journal.load(*key)
    if location is None:
        return None
    try:
        session = UploadSession(repo, location)
        held = session.offset()
    except (DXFError, requests.exceptions.RequestException):
        journal.forget(*key)
        return None
    if held > size:
        journal.forget(*key)
        return None
    return session, held


def _push_whole_file(
    repo: RemoteRepository, guard: ChangeGuard, digest: Digest, progress: Progress | None
) -> None:
    """One POST and one PUT carrying the whole file (progress reported once per byte)."""
    water = HighWater(progress, digest, guard.size)
    water.open()

    def body() -> FileRange:
        water.position = 0
        return FileRange(guard, 0, guard.size, water.feed, repo.cancelled)

    _put_in_new_sessions(repo, digest, body, replayable=True)


def _put_in_new_sessions(
    repo: RemoteRepository, digest: Digest, body: Callable[[], object], replayable: bool
) -> None:
    """POST a session and PUT the whole blob into it. A PUT that breaks cannot be resumed in place
    (the session may hold part of it), so a retry, when the body can be made again, opens a new one."""
    retrying = repo.retrying()
    while True:
        session = UploadSession(repo)
        try:
            session.finish(digest, body())
            return
        except Exception as error:
            session.cancel()
            if not replayable or not retrying.again(error):
                raise


def _send_file(
    session: UploadSession,
    guard: ChangeGuard,
    gate: GatedProgress,
    chunk_size: int | None,
    start: int,
    stopped: Callable[[], bool],
) -> bool:
    """PATCH the file from ``start`` in spans of ``chunk_size`` (default: one span), each resumable.

    ``False`` when the registry refuses the first PATCH as a kind of request it does not take: the
    caller then sends one PUT. A refusal after it took earlier spans raises
    :class:`DXFPatchRefusedError`.
    """
    size = guard.size
    span = max(chunk_size or size, session.min_chunk, 1)
    first = start
    while start < size:
        end = min(size, start + span)

        def body_from(offset: int, end: int = end) -> FileRange:
            gate.rewind(offset)
            return FileRange(guard, offset, end, gate.on_chunk, stopped)

        try:
            send_span(session, body_from, start, end)
        except DXFPatchRefusedError:
            if start == first:
                return False
            raise
        start = end
    return True


def push_chunks(
    repo: RemoteRepository, chunks: Iterable[bytes], digest: Digest, progress: Progress | None
) -> None:
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

    _put_in_new_sessions(repo, digest, reporting, replayable=isinstance(chunks, (list, tuple)))


def push_stream(
    repo: RemoteRepository,
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
    session = UploadSession(repo)
    chunk_size = max(chunk_size, session.min_chunk, 1)
    offset = 0
    if progress is not None:
        progress("(stream)", b"")
    try:
        while chunk := _read_full(stream, chunk_size):
            hasher.update(chunk)
            _send_chunk(session, chunk, offset)
            offset += len(chunk)
            if progress is not None:
                progress("(stream)", chunk)
        digest = Digest(algorithm, hasher.hexdigest())
        session.finish(digest)
    except BaseException:
        session.cancel()
        raise
    return digest


def _send_chunk(session: UploadSession, chunk: bytes, start: int) -> None:
    """PATCH one chunk of a stream at ``start``, resuming within it after a failure."""

    def rest_of_chunk(at: int) -> bytes:
        return chunk[at - start :]

    try:
        send_span(session, rest_of_chunk, start, start + len(chunk))
    except DXFSessionLostError as lost:
        raise DXFError(f"{lost}; a stream cannot be read again, so the push must be repeated") from lost


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
