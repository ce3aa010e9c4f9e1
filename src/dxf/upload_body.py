"""The request bodies of a file upload: they read the file in large pieces, hash what they send,
guard against the file changing, stop when told to, and report progress once per byte.

Pushing a file needs its digest twice: first to ask whether the registry already has it (python-dxf's
``check_exists``), last to close the upload. For large files the hash runs in a thread
(:class:`DigestInBackground`) *while* the upload streams. Progress is reported only once the digest is
known (python-dxf passes it to the callback), catching up on the bytes already sent by re-reading
them from the page cache (:class:`GatedProgress`); a byte sent again after a retry is reported once
(:class:`HighWater`).

Reading twice means a file that changes during the upload could be hashed as one content and sent as
another. A :class:`ChangeGuard` therefore notes the file's identity (size, mtime, ctime, inode)
before the first read and hashes the bytes actually sent; if either disagrees at the end, the upload
is abandoned before the registry completes it, with :class:`DXFFileChangedError`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING

from .digest import READ_SIZE, Digest
from .exceptions import DXFFileChangedError, DXFTransferCancelledError
from .transfer import Progress

if TYPE_CHECKING:
    from .remote import RemoteRepository


def _identity(st: os.stat_result) -> tuple[int, ...]:
    """What changes when a file is written, truncated or replaced: device, inode, size, mtime, ctime."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class ChangeGuard:
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


class FileRange:
    """Bytes ``[start, end)`` of a file as a request body: 1 MiB reads, a known length, a hook per chunk.

    requests streams any object with ``__iter__`` and takes the length from ``__len__``; urllib3 then
    calls ``read`` and sends whatever it returns, so our large reads replace http.client's 8 KiB ones.
    Every chunk is shown to ``guard`` before it goes, so a file that changed is never sent whole.
    When ``stopped()`` turns true (the batch was abandoned, or the blob turned out to exist) the
    next read raises :class:`DXFTransferCancelledError`: raising is the only way to stop a body
    that requests is sending, and the caller asks ``stopped``'s sources why.
    """

    def __init__(
        self,
        guard: ChangeGuard,
        start: int,
        end: int,
        on_chunk: Callable[[bytes], None] | None,
        stopped: Callable[[], bool] | None = None,
    ) -> None:
        self._stopped = stopped  # asked before each read
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
        if self._stopped is not None and self._stopped():
            self._f.close()
            raise DXFTransferCancelledError("upload stopped")
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


class DigestInBackground:
    """Hash a file in a thread and, when asked to, check whether the registry already has the blob."""

    def __init__(self, repo: RemoteRepository, path: str, check_exists: bool) -> None:
        self.digest: Digest | None = None
        self.exists = False
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(repo, path, check_exists), daemon=True)
        self._thread.start()

    def _run(self, repo: RemoteRepository, path: str, check_exists: bool) -> None:
        try:
            self.digest = Digest.of_file(path)
            self.exists = check_exists and repo.blob_exists(self.digest)
        except BaseException as error:  # handed to the uploading thread
            self.error = error
        finally:
            self.done.set()

    def found_present(self) -> bool:
        """Whether the hashing is done and the registry turned out to have the blob already."""
        return self.done.is_set() and self.exists

    def result(self) -> Digest:
        self._thread.join()
        if self.error is not None:
            raise self.error
        assert self.digest is not None
        return self.digest


class HighWater:
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


class GatedProgress:
    """Progress for an upload whose digest is not known yet: held back, then caught up from the file."""

    def __init__(self, progress: Progress | None, path: str, size: int, hashing: DigestInBackground) -> None:
        self._progress = progress
        self._path = path
        self._size = size
        self._hashing = hashing
        self._sent = 0
        self._water: HighWater | None = None

    def on_chunk(self, chunk: bytes) -> None:
        """Count a chunk sent; report it (after catching up) once the digest is known, unless the
        registry has the blob already: then the caller hears nothing (python-dxf's ``check_exists``)."""
        start, self._sent = self._sent, self._sent + len(chunk)
        hashed = self._hashing.done.is_set() and self._hashing.error is None
        if self._progress is not None and hashed and not self._hashing.exists:
            water = self.catch_up(upto=start)
            water.position = start
            water.feed(chunk)

    def catch_up(self, upto: int | None = None) -> HighWater:
        """Report everything sent so far (up to ``upto``), re-reading it from the file."""
        if self._water is None:
            assert self._hashing.digest is not None
            self._water = HighWater(self._progress, self._hashing.digest, self._size)
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
