"""Blob downloads: streamed, verified, resumed after a broken connection.

The blob's bytes are hashed as they arrive; for large blobs the hashing runs in a second thread
(hashlib releases the GIL), so reading the socket, writing the output and hashing overlap instead of
taking turns. When a connection breaks, the download continues with ``Range: bytes=<received>-``; a
server that ignores the range and sends everything again (200 instead of 206) is handled by
skipping what we already have. Nothing counts as complete until size and digest both match.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

import requests

from .digest import READ_SIZE, Digest
from .exceptions import DXFDigestMismatchError, DXFSizeMismatchError
from .transfer import DEFAULT_DOWNLOAD_CHUNK, Progress, RepoContext, is_resumable

#: Blobs at least this large are hashed in a background thread.
THREADED_HASH_THRESHOLD = 8 * 1024 * 1024
#: Chunks waiting for the hashing thread; bounds memory to this many times the chunk size.
HASH_QUEUE_DEPTH = 8


def _read_umask() -> int:
    """The process umask. Read once at import (setting it back at once), while no other thread can
    create files: ``mkstemp`` makes 0600 files, and a downloaded file should get the usual 0666 & ~umask.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


class _Hasher(Protocol):
    def update(self, chunk: bytes) -> None: ...
    def hexdigest(self) -> str: ...
    def close(self) -> None: ...


class _InlineHasher:
    """Hash in the calling thread: cheaper than a thread for small blobs."""

    def __init__(self, hasher: hashlib._Hash) -> None:
        self._hasher = hasher

    def update(self, chunk: bytes) -> None:
        self._hasher.update(chunk)

    def hexdigest(self) -> str:
        return self._hasher.hexdigest()

    def close(self) -> None:
        pass


class _BackgroundHasher:
    """Feed chunks to a hash object on another thread; ``hexdigest`` waits for the backlog."""

    def __init__(self, hasher: hashlib._Hash) -> None:
        self._hasher = hasher
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=HASH_QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hasher.update(chunk)

    def update(self, chunk: bytes) -> None:
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
    verification covers the whole blob.
    """

    def __init__(
        self,
        ctx: RepoContext,
        digest: Digest,
        chunk_size: int | None = None,
        *,
        offset: int = 0,
        seed: hashlib._Hash | None = None,
    ) -> None:
        self.digest = digest
        self._ctx = ctx
        self._chunk_size = chunk_size or DEFAULT_DOWNLOAD_CHUNK
        self._url = ctx.registry.blob_url(ctx.repo, digest)
        self._offset = offset
        self._seed = seed if seed is not None else digest.hasher()
        self._response, self.size = self._open(offset, first=True)

    def _open(self, offset: int, first: bool = False) -> tuple[requests.Response, int | None]:
        """GET the blob from ``offset``; returns the response (positioned at ``offset``) and the size.

        A server that ignores the range (200) has what we already hold skipped; 416 means there is
        nothing past ``offset`` (the caller holds it all already).
        """
        headers = {"Range": f"bytes={offset}-"} if offset else None
        ok = (lambda r: r.ok or r.status_code == 416) if offset else None
        response = self._ctx.request("GET", self._url, stream=True, headers=headers, ok=ok)
        length = response.headers.get("Content-Length", "")
        known = int(length) if length.isdigit() else None
        if response.status_code == 416:
            return response, offset
        if response.status_code == 206:
            total = response.headers.get("Content-Range", "").rpartition("/")[2]
            size = int(total) if total.isdigit() else (offset + known if known is not None else None)
            return response, size
        self._discard(response, offset)
        return response, known

    def close(self) -> None:
        """Release the connection of a reader that will not be iterated (to the end)."""
        self._response.close()

    def _discard(self, response: requests.Response, count: int) -> None:
        while count > 0:
            discarded = response.raw.read(min(count, self._chunk_size), decode_content=True)
            if not discarded:
                break
            count -= len(discarded)

    def __iter__(self) -> Iterator[bytes]:
        big = self.size is None or self.size >= THREADED_HASH_THRESHOLD
        hasher: _Hasher = _BackgroundHasher(self._seed) if big else _InlineHasher(self._seed)
        received = self._offset
        failures = 0
        response = self._response
        try:
            while response.status_code != 416:
                try:
                    for chunk in response.iter_content(self._chunk_size):
                        hasher.update(chunk)
                        received += len(chunk)
                        yield chunk
                    break
                except Exception as error:
                    response.close()
                    failures += 1
                    if not is_resumable(error, self._ctx.retry) or failures >= self._ctx.retry.attempts:
                        raise
                    self._ctx.pause(failures, error)
                    response, _ = self._open(received)
        finally:
            response.close()
            hasher.close()
        if self.size is not None and received != self.size:
            raise DXFSizeMismatchError(received, self.size)
        got = hasher.hexdigest()
        if got != self.digest.hex:
            raise DXFDigestMismatchError(f"{self.digest.algorithm}:{got}", str(self.digest))


def partial_path(path: str, digest: Digest) -> str:
    """Where a resumable download of ``digest`` to ``path`` keeps its bytes until verified: beside the
    target, hidden, named after both so two downloads never share one."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.{digest.algorithm}-{digest.hex[:16]}.dxf-part")


def download_to_file(
    ctx: RepoContext, digest: Digest, path: str, progress: Progress | None = None, *, resume: bool = False
) -> int:
    """Download a blob into ``path`` atomically: temp file beside it, verify, then rename.

    On failure the temporary file is removed and ``path`` is left as it was. With ``resume``, the
    temporary file has a fixed name (:func:`partial_path`) and is kept after a broken connection or
    an interrupt, so a later call (in another process, too) continues from where it stopped; after
    any other failure (a blob that fails verification, one that does not exist) it is removed.
    (No fsync: the rename guarantees no reader ever sees a partial file; durability across power
    loss is the filesystem's.)
    """
    seed = digest.hasher()
    if resume:
        tmp = partial_path(path, digest)
        out = open(tmp, "ab")  # noqa: SIM115 - closed by the with block below
    else:
        fd, tmp = tempfile.mkstemp(prefix=".dxf-", suffix=".part", dir=os.path.dirname(os.path.abspath(path)))
        out = os.fdopen(fd, "wb")
    try:
        with out:
            held = out.tell()
            reader = BlobReader(ctx, digest, offset=held, seed=seed)
            report = (
                (lambda chunk: progress(str(digest), chunk, reader.size)) if progress is not None else None
            )
            if report is not None:
                report(b"")
            if held:
                _hash_existing(tmp, held, seed, report)
            for chunk in reader:
                out.write(chunk)
                if report is not None:
                    report(chunk)
            os.fchmod(out.fileno(), 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException as error:
        interrupted = isinstance(error, KeyboardInterrupt) or is_resumable(error, ctx.retry)
        if not (resume and interrupted):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    return reader.size if reader.size is not None else os.path.getsize(path)


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
