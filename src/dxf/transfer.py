"""Streaming blob transfers: constant memory, verified, retried.

Rules (see ``design.md``): never hold a whole blob in memory; hash bytes as they pass; a blob is
verified (size and digest) before anything presents it as complete; a download to a file lands under
a temporary name and is renamed only after verification.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import requests

from .digest import READ_SIZE, Digest
from .exceptions import DXFDigestMismatchError, DXFHTTPError, DXFSizeMismatchError
from .registry import Registry, UnauthorizedHook
from .transport import Body

#: Bytes per PATCH when streaming an upload of unknown length (stdin): one chunk is held in memory
#: so it can be sent again after a failure.
DEFAULT_UPLOAD_CHUNK = 8 * 1024 * 1024
#: Bytes per read when downloading; python-dxf read 8 KiB, which made pulls CPU-bound.
DEFAULT_DOWNLOAD_CHUNK = READ_SIZE

#: ``progress(digest, chunk, total)`` for files, ``progress(digest, chunk)`` for iterables (python-dxf).
Progress = Callable[..., None]


@dataclass
class RepoContext:
    """What a transfer needs to talk to one repository."""

    registry: Registry
    repo: str
    on_unauthorized: UnauthorizedHook | None

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return self.registry.request(
            method, url, repo=self.repo, on_unauthorized=self.on_unauthorized, **kwargs
        )


class _FileBody:
    """A file as a request body: large reads, a known length, progress reports.

    requests streams any object with ``__iter__`` and takes its length from ``__len__``; urllib3 then
    calls ``read`` and sends whatever it returns, so our 1 MiB reads replace http.client's 8 KiB ones.
    """

    def __init__(self, f: IO[bytes], size: int, on_chunk: Callable[[bytes], None] | None) -> None:
        self._f = f
        self._size = size
        self._on_chunk = on_chunk

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(READ_SIZE):
            yield chunk

    def read(self, _n: int = -1) -> bytes:
        chunk = self._f.read(READ_SIZE)
        if not chunk:
            self._f.close()
        elif self._on_chunk is not None:
            self._on_chunk(chunk)
        return chunk


def blob_exists(ctx: RepoContext, digest: Digest) -> bool:
    """HEAD the blob: True when present, False on 404; other failures raise."""
    response = ctx.request(
        "HEAD", ctx.registry.blob_url(ctx.repo, digest), ok=lambda r: r.status_code in (200, 404)
    )
    response.close()
    return response.status_code == 200


def start_upload(ctx: RepoContext) -> str:
    """POST a new upload session; return its absolute, checked location."""
    url = ctx.registry.upload_start_url(ctx.repo)
    response = ctx.request("POST", url, ok=lambda r: r.status_code in (201, 202))
    response.close()
    return ctx.registry.resolve_location(url, _location(response))


def _location(response: requests.Response) -> str:
    location = response.headers.get("Location")
    if not location:
        raise DXFHTTPError(f"{response.status_code} {response.reason}: no Location header", response=response)
    return location


def finish_upload(ctx: RepoContext, location: str, digest: Digest, body: Body = None) -> None:
    """PUT ``?digest=`` to close an upload, with the (rest of the) content as ``body``."""
    url = ctx.registry.with_query(location, digest=str(digest))
    headers = {"Content-Type": "application/octet-stream"}
    response = ctx.request("PUT", url, body=body, headers=headers, ok=lambda r: r.status_code in (201, 204))
    response.close()


def upload_file(ctx: RepoContext, path: str, digest: Digest, progress: Progress | None) -> None:
    """Upload a file in one streamed PUT (the registry hashes as it writes)."""
    size = os.path.getsize(path)
    if progress is not None:
        progress(str(digest), b"", size)
    location = start_upload(ctx)

    def body() -> _FileBody:
        f = open(path, "rb")  # noqa: SIM115 - closed by _FileBody at end of file
        report = (lambda chunk: progress(str(digest), chunk, size)) if progress is not None else None
        return _FileBody(f, size, report)

    finish_upload(ctx, location, digest, body)


def upload_chunks(
    ctx: RepoContext, chunks: Iterable[bytes], digest: Digest, progress: Progress | None
) -> None:
    """Upload caller-supplied chunks (digest known) in one streamed PUT (python-dxf's ``data=``)."""
    location = start_upload(ctx)

    def reporting() -> Iterator[bytes]:
        for chunk in chunks:
            if chunk and progress is not None:
                progress(str(digest), chunk)
            yield chunk

    finish_upload(ctx, location, digest, reporting())


def upload_stream(
    ctx: RepoContext,
    stream: IO[bytes],
    progress: Progress | None,
    chunk_size: int = DEFAULT_UPLOAD_CHUNK,
    algorithm: str = "sha256",
) -> Digest:
    """Upload a stream of unknown length: PATCH chunks while hashing, then PUT ``?digest=``.

    Each chunk is held once in memory so it can be retried; nothing is spooled to disk.
    """
    hasher = hashlib.new(algorithm)
    location = start_upload(ctx)
    offset = 0
    label = "(stream)"
    if progress is not None:
        progress(label, b"")
    while chunk := _read_full(stream, chunk_size):
        hasher.update(chunk)
        end = offset + len(chunk) - 1
        headers = {"Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{end}"}
        response = ctx.request(
            "PATCH", location, body=chunk, headers=headers, ok=lambda r: r.status_code == 202
        )
        response.close()
        location = ctx.registry.resolve_location(location, _location(response))
        offset += len(chunk)
        if progress is not None:
            progress(label, chunk)
    digest = Digest(algorithm, hasher.hexdigest())
    finish_upload(ctx, location, digest)
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


class BlobReader:
    """The chunks of one blob as they arrive, verified at the end (python-dxf's ``pull_blob`` iterator).

    The GET is sent when the reader is created, so a missing blob raises at once, not on iteration.
    Iterating to the end checks the length and digest and raises on mismatch.
    """

    def __init__(self, ctx: RepoContext, digest: Digest, chunk_size: int | None = None) -> None:
        self.digest = digest
        self._chunk_size = chunk_size or DEFAULT_DOWNLOAD_CHUNK
        self._response = ctx.request("GET", ctx.registry.blob_url(ctx.repo, digest), stream=True)
        length = self._response.headers.get("Content-Length")
        self.size: int | None = int(length) if length and length.isdigit() else None

    def __iter__(self) -> Iterator[bytes]:
        hasher = self.digest.hasher()
        received = 0
        try:
            for chunk in self._response.iter_content(self._chunk_size):
                hasher.update(chunk)
                received += len(chunk)
                yield chunk
        finally:
            self._response.close()
        if self.size is not None and received != self.size:
            raise DXFSizeMismatchError(received, self.size)
        if not self.digest.matches(hasher):
            raise DXFDigestMismatchError(f"{self.digest.algorithm}:{hasher.hexdigest()}", str(self.digest))


def download_to_file(ctx: RepoContext, digest: Digest, path: str, progress: Progress | None = None) -> int:
    """Download a blob into ``path`` atomically: temp file beside it, verify, fsync, rename.

    On any failure the temporary file is removed and ``path`` is left as it was.
    """
    reader = BlobReader(ctx, digest)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".dxf-", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            if progress is not None:
                progress(str(digest), b"", reader.size)
            written = 0
            for chunk in reader:
                out.write(chunk)
                written += len(chunk)
                if progress is not None:
                    progress(str(digest), chunk, reader.size)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
    return written


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
