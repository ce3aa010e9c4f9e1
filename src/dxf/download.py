"""Blob downloads: streamed, verified, resumed after a broken connection.

The blob's bytes are hashed as they arrive; for large blobs the hashing runs in a second thread
(hashlib releases the GIL), so reading the socket, writing the output and hashing overlap instead of
taking turns. When a connection breaks, the download continues with ``Range: bytes=<received>-``; a
server that ignores the range and sends everything again (200 instead of 206) is handled by
skipping what we already have. Nothing counts as complete until size and digest both match.
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
from collections.abc import Iterator

import requests

from .digest import Digest
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


class _BackgroundHasher:
    """Feed chunks to a hash object on another thread; ``hexdigest`` waits for the backlog."""

    def __init__(self, digest: Digest) -> None:
        self._hasher = digest.hasher()
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
    """

    def __init__(self, ctx: RepoContext, digest: Digest, chunk_size: int | None = None) -> None:
        self.digest = digest
        self._ctx = ctx
        self._chunk_size = chunk_size or DEFAULT_DOWNLOAD_CHUNK
        self._url = ctx.registry.blob_url(ctx.repo, digest)
        self._response = ctx.request("GET", self._url, stream=True)
        length = self._response.headers.get("Content-Length", "")
        self.size: int | None = int(length) if length.isdigit() else None

    def __iter__(self) -> Iterator[bytes]:
        big = self.size is None or self.size >= THREADED_HASH_THRESHOLD
        hasher = _BackgroundHasher(self.digest) if big else None
        plain = self.digest.hasher() if hasher is None else None
        received = 0
        failures = 0
        response = self._response
        try:
            while True:
                try:
                    for chunk in response.iter_content(self._chunk_size):
                        if hasher is not None:
                            hasher.update(chunk)
                        else:
                            assert plain is not None
                            plain.update(chunk)
                        received += len(chunk)
                        yield chunk
                    break
                except Exception as error:
                    response.close()
                    failures += 1
                    if not is_resumable(error, self._ctx.retry) or failures >= self._ctx.retry.attempts:
                        raise
                    self._ctx.pause(failures, error)
                    response = self._resume(received)
        finally:
            response.close()
            if hasher is not None:
                hasher.close()
        if self.size is not None and received != self.size:
            raise DXFSizeMismatchError(received, self.size)
        got = hasher.hexdigest() if hasher is not None else plain.hexdigest()  # type: ignore[union-attr]
        if got != self.digest.hex:
            raise DXFDigestMismatchError(f"{self.digest.algorithm}:{got}", str(self.digest))

    def _resume(self, received: int) -> requests.Response:
        """Ask for the rest; if the server sends the whole blob again, skip what we already have."""
        response = self._ctx.request("GET", self._url, stream=True, headers={"Range": f"bytes={received}-"})
        if response.status_code == 206:
            return response
        skip = received
        raw = response.raw
        while skip > 0:
            discarded = raw.read(min(skip, self._chunk_size), decode_content=True)
            if not discarded:
                break
            skip -= len(discarded)
        return response


def download_to_file(ctx: RepoContext, digest: Digest, path: str, progress: Progress | None = None) -> int:
    """Download a blob into ``path`` atomically: temp file beside it, verify, then rename.

    On any failure the temporary file is removed and ``path`` is left as it was. (No fsync: the rename
    guarantees no reader ever sees a partial file; durability across power loss is the filesystem's.)
    """
    reader = BlobReader(ctx, digest)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".dxf-", suffix=".part", dir=directory)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            if progress is not None:
                progress(str(digest), b"", reader.size)
            for chunk in reader:
                out.write(chunk)
                written += len(chunk)
                if progress is not None:
                    progress(str(digest), chunk, reader.size)
            os.fchmod(out.fileno(), 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return written
