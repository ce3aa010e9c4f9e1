"""``LayoutRepository``: a repository kept as an OCI image layout, as the :class:`dxf.DXF` facade
talks to it.

The facade (:mod:`dxf.client`) was written over :class:`dxf.remote.RemoteRepository`; it uses a
small part of it (see :class:`dxf.client.RepositoryHandle`). This class offers that same part over
an :class:`~dxf.layout.OCILayout`, so every python-dxf method (push, pull, aliases, deletion) works
on a directory with no server: ``DXF("oci:/srv/store", "fred/datalogger")`` keeps the repository in
the layout ``/srv/store/fred/datalogger``. The calls that only mean something on a registry (HTTP
responses, mounts, tokens) raise :class:`DXFNeedsRegistryError` with one line.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from .digest import READ_SIZE, Digest
from .exceptions import DXFNeedsRegistryError
from .journal import UploadJournal
from .layout import OCILayout
from .manifest import OCTET_STREAM, Descriptor, parse_manifest
from .reference import is_digest_reference, validate_repository
from .store import VerifiedContent
from .transfer import Progress

#: ``DXF_HOST`` / ``DXF(host=...)`` prefix that names a directory of layouts instead of a registry.
OCI_HOST_PREFIX = "oci:"
#: Names in one page of a layout listing (distribution's default page size for its catalog).
LAYOUT_PAGE = 100


def layout_root(host: str) -> str | None:
    """The directory ``host`` names when it is ``oci:PATH``, else None."""
    if isinstance(host, str) and host.startswith(OCI_HOST_PREFIX) and len(host) > len(OCI_HOST_PREFIX):
        return host[len(OCI_HOST_PREFIX) :]
    return None


def in_pages(names: Iterable[str], size: int) -> Iterator[list[str]]:
    """``names`` in lists of ``size`` (the last one shorter, none empty), read as they are needed."""
    page: list[str] = []
    for name in names:
        page.append(name)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


@dataclass(frozen=True)
class StoredManifest:
    """A manifest read from a layout: what :class:`dxf.remote.FetchedManifest` gives, without HTTP."""

    content: bytes
    digest: Digest
    content_type: str | None


class LayoutBlob:
    """A blob's chunks read from a layout, verified; ``size`` is known before the first chunk."""

    def __init__(self, content: VerifiedContent, size: int) -> None:
        self._content = content
        self.size: int | None = size

    def __iter__(self) -> Iterator[bytes]:
        with self._content:
            yield from self._content

    def close(self) -> None:
        self._content.close()


class LayoutRepository:
    """The repository ``path`` stored as the layout ``root/path``. Thread-safe."""

    def __init__(self, root: str, path: str) -> None:
        self.path = validate_repository(path)
        self.layout = OCILayout(os.path.join(root, *self.path.split("/")))

    def for_batch(self, cancel: threading.Event) -> LayoutRepository:
        """The same repository (local transfers need no cancellation hook)."""
        del cancel
        return self

    # -- blobs -------------------------------------------------------------------------------------
    def _blob(self, digest: Digest) -> Descriptor:
        """The blob's descriptor, its size read from the file (a layout blob has no media type)."""
        size = self.blob_size(digest)
        return Descriptor(OCTET_STREAM, digest, size)

    def blob_exists(self, digest: Digest) -> bool:
        return self.layout.exists(Descriptor(OCTET_STREAM, digest, 0))

    def blob_size(self, digest: Digest) -> int:
        return self.layout.size_of(digest)

    def open_blob(
        self,
        digest: Digest,
        chunk_size: int | None = None,
        expected_size: int | None = None,
        *,
        connections: int = 1,
    ) -> LayoutBlob:
        del chunk_size, connections  # files are read in large blocks, from one place
        desc = (
            self._blob(digest) if expected_size is None else Descriptor(OCTET_STREAM, digest, expected_size)
        )
        return LayoutBlob(self.layout.fetch(desc), desc.size)

    def download(
        self,
        digest: Digest,
        path: str,
        progress: Progress | None = None,
        *,
        resume: bool = False,
        expected_size: int | None = None,
    ) -> int:
        """Copy the blob to ``path`` (a symlink followed), verified before it gets the name."""
        del resume  # a local copy has nothing to resume
        blob = self.open_blob(digest, expected_size=expected_size)
        target = os.path.realpath(path)
        temp = os.path.join(os.path.dirname(target), f".dxf-{os.getpid()}-{threading.get_ident()}.part")
        label = str(digest)
        try:
            with open(temp, "wb") as out:
                if progress is not None:
                    progress(label, b"", blob.size)
                for chunk in blob:
                    out.write(chunk)
                    if progress is not None:
                        progress(label, chunk, blob.size)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        assert blob.size is not None
        return blob.size

    def push_file(
        self,
        path: str,
        progress: Progress | None,
        check_exists: bool,
        chunk_size: int | None = None,
        journal: UploadJournal | None = None,
    ) -> Digest:
        """Store a file's content (hashed first; verified again as it is copied in)."""
        del chunk_size, journal  # a local copy is one write, with nothing to resume
        digest = Digest.of_file(path)
        if check_exists and self.blob_exists(digest):
            return digest
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            chunks = iter(lambda: f.read(READ_SIZE), b"")
            self.layout.push(
                Descriptor(OCTET_STREAM, digest, size), _reported(str(digest), chunks, progress, size)
            )
        return digest

    def push_chunks(self, chunks: Iterable[bytes], digest: Digest, progress: Progress | None) -> None:
        """Store chunks whose digest is known (their size is learnt by writing them)."""
        self.layout.ingest(_reported(str(digest), chunks, progress, None), expected=digest)

    def push_stream(self, stream: IO[bytes], progress: Progress | None) -> Digest:
        if progress is not None:
            progress("(stream)", b"")
        chunks = iter(lambda: stream.read(READ_SIZE), b"")
        return self.layout.ingest(_reported("(stream)", chunks, progress, None)).digest

    def mount_blob(self, digest: Digest, from_repository: str) -> bool:
        del digest, from_repository
        raise DXFNeedsRegistryError("mount-blob")

    def delete_blob(self, digest: Digest) -> None:
        self.layout.delete(Descriptor(OCTET_STREAM, digest, 0))

    # -- manifests ---------------------------------------------------------------------------------
    def fetch_manifest(self, reference: str) -> StoredManifest:
        desc = self.layout.resolve(reference)
        return StoredManifest(self.layout.fetch(desc).read_all(), desc.digest, desc.media_type)

    def put_manifest(self, reference: str, media_type: str, content: bytes) -> None:
        parse_manifest(content, media_type)
        desc = Descriptor.of_bytes(media_type, content)
        self.layout.push(desc, [content])
        if not is_digest_reference(reference):
            self.layout.tag(desc, reference)

    def delete_reference(
        self, reference: str, manifest_digest: Digest, subject: Digest | None = None
    ) -> None:
        """Remove the alias (and its manifest when nothing else refers to it); a digest removes the
        manifest and every alias on it. (``subject`` is the registry's concern: a layout keeps no
        referrers index.)"""
        del subject
        if is_digest_reference(reference):
            self.layout.delete(self.layout.resolve(str(manifest_digest)))
        else:
            self.layout.remove_alias(reference)

    def tags(self, batch_size: int | None = None) -> Iterator[str]:
        del batch_size
        return self.layout.tags()

    def tag_pages(self, batch_size: int | None = None) -> Iterator[list[str]]:
        """The aliases in pages of ``batch_size`` (default :data:`LAYOUT_PAGE`), as a registry
        sends them, so the command prints a layout's aliases as it prints a registry's."""
        return in_pages(self.layout.tags(), batch_size or LAYOUT_PAGE)

    def gc(self) -> list[tuple[Digest, int]]:
        """Remove what nothing references; see :meth:`OCILayout.gc`."""
        return list(self.layout.gc().removed)


def _reported(
    label: str, chunks: Iterable[bytes], progress: Progress | None, total: int | None
) -> Iterator[bytes]:
    if progress is not None and total is not None:
        progress(label, b"", total)
    for chunk in chunks:
        if progress is not None:
            if total is None:
                progress(label, chunk)
            else:
                progress(label, chunk, total)
        yield chunk
