"""``RemoteRepository``: one repository of a registry, as a :mod:`dxf.store` store and as the handle
every upload, download and parallel batch talks through.

It owns the blob and manifest protocol of the distribution API (OCI distribution spec,
"Endpoints"): existence and size (HEAD), fetch, push (the streaming, resumable machinery of
:mod:`dxf.upload` and :mod:`dxf.download`), mount, delete, resolve, tag and tag listing, and
manifest GET/HEAD/PUT with digest verification. What each status means is looked up in
:mod:`dxf.statuses`; the python-dxf classes in :mod:`dxf.client` only adapt signatures and return
shapes. Store operations dispatch on the descriptor's media type
(:attr:`~dxf.manifest.Descriptor.is_manifest`), since blobs and manifests live behind different
endpoints, as oras-go's ``remote.Repository`` does.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import requests

from . import statuses
from .digest import Digest
from .download import IDENTITY, BlobReader, declared_length, download_to_file
from .exceptions import (
    DXFDigestMismatchError,
    DXFManifestError,
    DXFProtocolError,
    DXFReferrersIndexError,
    DXFTransferCancelledError,
)
from .journal import UploadJournal
from .limits import read_capped
from .manifest import (
    ACCEPT_MANIFESTS,
    IMAGE_MANIFEST_TYPES,
    MANIFEST_TYPES,
    MAX_MANIFEST_SIZE,
    OCI_INDEX,
    Descriptor,
    ImageManifest,
    parse_manifest,
    verify_content_digest,
)
from .ordered import OrderedBlobReader
from .reference import validate_repository
from .referrers import (
    fallback_tag,
    index_bytes,
    index_entries,
    of_type,
    referrer_entry,
    with_entry,
    without_digest,
)
from .registry import Registry, UnauthorizedHook
from .store import VerifiedContent, verified
from .transfer import Progress, Retrying
from .transport import RetryPolicy
from .upload import push_chunks, push_file, push_stream
from .upload_session import UploadSession

#: The header a registry that processed a manifest's ``subject`` answers its PUT with (distribution
#: spec v1.1, "Pushing Manifests with Subject"); without it the client keeps the fallback index.
OCI_SUBJECT = "OCI-Subject"
#: Read-merge-write rounds an update of a referrers fallback index gets before giving up.
INDEX_ROUNDS = 12
#: Seconds (a random pick between the two) between writing the fallback index and reading it back.
INDEX_SETTLE_SECONDS = (0.02, 0.08)


@dataclass(frozen=True)
class FetchedManifest:
    """A manifest as the registry sent it: its bytes, verified against ``digest``, and the response."""

    content: bytes
    digest: Digest
    response: requests.Response

    @property
    def content_type(self) -> str | None:
        """The raw ``Content-Type`` (registries may say ``application/json``, or nothing)."""
        return self.response.headers.get("Content-Type")

    @property
    def media_type(self) -> str:
        """The manifest's media type: ``Content-Type`` when it names a manifest type, else read from
        the body."""
        header = (self.content_type or "").split(";", 1)[0].strip()
        if header in MANIFEST_TYPES:
            return header
        return parse_manifest(self.content, header).media_type


class RemoteRepository:
    """The repository ``path`` (e.g. ``fred/datalogger``) on ``registry``. Thread-safe.

    Implements :class:`dxf.store.Store` and the capabilities :class:`~dxf.store.TagLister`,
    :class:`~dxf.store.Deleter`, :class:`~dxf.store.Mounter` and :class:`~dxf.store.ReferrerLister`
    (pushing a manifest with a ``subject`` keeps the referrers fallback index where needed).
    ``on_unauthorized`` answers a 401 (the client's authentication); ``cancel``, when set, makes
    transfers stop between two chunks with :class:`DXFTransferCancelledError` (see :meth:`for_batch`).
    """

    def __init__(
        self,
        registry: Registry,
        path: str,
        on_unauthorized: UnauthorizedHook | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.registry = registry
        self.path = validate_repository(path)
        self.on_unauthorized = on_unauthorized
        self.cancel = cancel

    def for_batch(self, cancel: threading.Event) -> RemoteRepository:
        """The same repository for the transfers of one batch, which ``cancel`` abandons."""
        return RemoteRepository(self.registry, self.path, self.on_unauthorized, cancel)

    # -- what transfers share ----------------------------------------------------------------------
    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """:meth:`Registry.request` for this repository (its token scope, its 401 answer)."""
        return self.registry.request(
            method, url, repo=self.path, on_unauthorized=self.on_unauthorized, **kwargs
        )

    @property
    def retry(self) -> RetryPolicy:
        return self.registry.transport.retry

    def retrying(self) -> Retrying:
        """A fresh bounded retry loop for one transfer step (see :class:`dxf.transfer.Retrying`)."""
        return Retrying(self.registry.transport)

    def cancelled(self) -> bool:
        """Whether the batch this transfer belongs to was abandoned."""
        return self.cancel is not None and self.cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`DXFTransferCancelledError` if the batch this transfer belongs to was abandoned."""
        if self.cancelled():
            raise DXFTransferCancelledError("transfer cancelled")

    def blob_url(self, digest: Digest) -> str:
        return self.registry.blob_url(self.path, digest)

    def manifest_url(self, reference: str | Digest) -> str:
        return self.registry.manifest_url(self.path, reference)

    # -- blobs -------------------------------------------------------------------------------------
    def blob_exists(self, digest: Digest) -> bool:
        """HEAD the blob: True when present, False when absent; other answers raise."""
        response = self.request("HEAD", self.blob_url(digest), answers=statuses.BLOB_PRESENCE, blob_read=True)
        response.close()
        return statuses.BLOB_PRESENCE.of(response) is statuses.Outcome.PRESENT

    def blob_size(self, digest: Digest) -> int | None:
        """The blob's size from a HEAD's ``Content-Length``; None when the registry does not say."""
        response = self.request(
            "HEAD", self.blob_url(digest), answers=statuses.BLOB_HEAD, headers=IDENTITY, blob_read=True
        )
        response.close()
        return declared_length(response)

    def open_blob(
        self,
        digest: Digest,
        chunk_size: int | None = None,
        expected_size: int | None = None,
        *,
        connections: int = 1,
    ) -> BlobReader | OrderedBlobReader:
        """The blob's verified chunks (the GET is sent now; see :class:`dxf.download.BlobReader`),
        over up to ``connections`` connections (:class:`dxf.ordered.OrderedBlobReader`) when > 1."""
        if connections > 1:
            return OrderedBlobReader(
                self, digest, chunk_size, expected_size=expected_size, connections=connections
            )
        return BlobReader(self, digest, chunk_size, expected_size=expected_size)

    def download(
        self,
        digest: Digest,
        path: str,
        progress: Progress | None = None,
        *,
        resume: bool = False,
        expected_size: int | None = None,
    ) -> int:
        """Download the blob to ``path``, verified before it gets the name (see
        :func:`dxf.download.download_to_file`); return its size."""
        return download_to_file(
            self,
            digest,
            path,
            progress,
            resume=resume,
            expected_size=expected_size,
            connections=self.registry.transport.connections,
        )

    def push_file(
        self,
        path: str,
        progress: Progress | None,
        check_exists: bool,
        chunk_size: int | None = None,
        journal: UploadJournal | None = None,
    ) -> Digest:
        """Upload a file; see :func:`dxf.upload.push_file`."""
        return push_file(self, path, progress, check_exists, chunk_size, journal)

    def push_chunks(self, chunks: Iterable[bytes], digest: Digest, progress: Progress | None) -> None:
        """Upload chunks whose digest is known; see :func:`dxf.upload.push_chunks`."""
        push_chunks(self, chunks, digest, progress)

    def push_stream(self, stream: IO[bytes], progress: Progress | None) -> Digest:
        """Upload a stream of unknown length; see :func:`dxf.upload.push_stream`."""
        return push_stream(self, stream, progress)

    def mount_blob(self, digest: Digest, from_repository: str) -> bool:
        """Cross-repository blob mount (end-11). ``False`` when the registry opened an ordinary upload
        instead (202), which is cancelled; a mount answered with another digest raises."""
        source = validate_repository(from_repository)
        url = self.registry.upload_start_url(self.path, mount=str(digest), **{"from": source})
        response = self.request("POST", url, answers=statuses.MOUNT)
        response.close()
        if statuses.MOUNT.of(response) is not statuses.Outcome.MOUNTED:
            self._cancel_upload(url, response.headers.get("Location"))
            return False
        sent = response.headers.get("Docker-Content-Digest")
        if sent is not None and sent != str(digest):
            raise DXFDigestMismatchError(sent, str(digest))
        return True

    def _cancel_upload(self, url: str, location: str | None) -> None:
        if location:
            UploadSession(self, self.registry.resolve_location(url, location)).cancel()

    def delete_blob(self, digest: Digest) -> None:
        self.request("DELETE", self.blob_url(digest), answers=statuses.BLOB_DELETE).close()

    # -- manifests ---------------------------------------------------------------------------------
    def get_manifest(self, reference: str, accept: str = ACCEPT_MANIFESTS) -> tuple[bytes, requests.Response]:
        """GET a manifest by tag or digest, as sent (at most :data:`MAX_MANIFEST_SIZE` bytes)."""
        response = self.request(
            "GET",
            self.manifest_url(reference),
            answers=statuses.MANIFEST_GET,
            headers={"Accept": accept},
            stream=True,
        )
        return read_capped(response, MAX_MANIFEST_SIZE, "the manifest"), response

    def fetch_manifest(self, reference: str, accept: str = ACCEPT_MANIFESTS) -> FetchedManifest:
        """GET a manifest, checked against the digest it was asked by and the
        ``Docker-Content-Digest`` the registry sent (:class:`DXFDigestMismatchError` otherwise)."""
        content, response = self.get_manifest(reference, accept)
        expected = [Digest.parse(d) for d in (_digest_in(reference), _content_digest(response)) if d]
        for digest in expected:
            verify_content_digest(content, digest)
        return FetchedManifest(content, expected[0] if expected else Digest.of_bytes(content), response)

    def head_manifest(self, reference: str) -> requests.Response:
        """HEAD a manifest (its ``Docker-Content-Digest`` is the interesting part)."""
        response = self.request(
            "HEAD",
            self.manifest_url(reference),
            answers=statuses.MANIFEST_GET,
            headers={"Accept": ACCEPT_MANIFESTS},
        )
        response.close()
        return response

    def put_manifest(self, reference: str, media_type: str, content: bytes) -> requests.Response:
        """Store a manifest under a tag or its digest, with ``media_type`` as its Content-Type; the
        (closed) response tells, e.g., whether the registry processed a ``subject`` (``OCI-Subject``)."""
        url = self.manifest_url(reference)
        headers = {"Content-Type": media_type}
        response = self.request("PUT", url, answers=statuses.MANIFEST_PUT, body=content, headers=headers)
        response.close()
        return response

    def delete_manifest(self, digest: Digest | str) -> None:
        """Delete a manifest by digest (every tag pointing at it goes with it)."""
        self.request("DELETE", self.manifest_url(digest), answers=statuses.MANIFEST_DELETE).close()

    def delete_tag(self, tag: str) -> bool:
        """Delete the tag alone; ``False`` when the registry does not delete tags (end-9, "Deleting
        tags") or ``tag`` is a digest, so only deleting the manifest would remove it."""
        if _digest_in(tag):
            return False
        response = self.request("DELETE", self.manifest_url(tag), answers=statuses.TAG_DELETE)
        response.close()
        return statuses.TAG_DELETE.of(response) is statuses.Outcome.DONE

    def delete_reference(
        self, reference: str, manifest_digest: Digest, subject: Digest | None = None
    ) -> None:
        """Remove ``reference``: the tag alone where the registry deletes tags, else the manifest
        ``manifest_digest`` it names (which removes its other tags too, as python-dxf did). A deleted
        manifest whose ``subject`` is given also leaves that subject's referrers fallback index."""
        if self.delete_tag(reference):
            return
        self.delete_manifest(manifest_digest)
        if subject is not None:
            self.remove_fallback_referrer(subject, manifest_digest)

    def tags(self, batch_size: int | None = None) -> Iterator[str]:
        """Every tag, following the registry's pages (end-8a/8b)."""
        for page in self.tag_pages(batch_size):
            yield from page

    def tag_pages(self, batch_size: int | None = None) -> Iterator[list[str]]:
        """Every page of tags as the registry sends it (see :meth:`Registry.pages`)."""
        return self.registry.pages(
            self.registry.tags_url(self.path),
            "tags",
            repo=self.path,
            on_unauthorized=self.on_unauthorized,
            batch_size=batch_size,
        )

    # -- the store core ----------------------------------------------------------------------------
    def exists(self, desc: Descriptor) -> bool:
        if not desc.is_manifest:
            return self.blob_exists(desc.digest)
        response = self.request(
            "HEAD",
            self.manifest_url(desc.digest),
            answers=statuses.MANIFEST_PRESENCE,
            headers={"Accept": desc.media_type},
        )
        response.close()
        return statuses.MANIFEST_PRESENCE.of(response) is statuses.Outcome.PRESENT

    def fetch(self, desc: Descriptor) -> VerifiedContent:
        if desc.is_manifest:
            return VerifiedContent(desc, [self.fetch_manifest(str(desc.digest), desc.media_type).content])
        reader = self.open_blob(desc.digest, expected_size=desc.size)
        return VerifiedContent(desc, reader, reader.close, checked_by_source=True)

    def resolve(self, reference: str) -> Descriptor:
        manifest = self.fetch_manifest(reference)
        return Descriptor.of_bytes(manifest.media_type, manifest.content)

    def push(self, desc: Descriptor, chunks: Iterable[bytes]) -> None:
        if not desc.is_manifest:
            self.push_chunks(verified(desc, chunks), desc.digest, None)
            return
        content = b"".join(verified(desc, chunks))
        response = self.put_manifest(str(desc.digest), desc.media_type, content)
        subject = _subject_of(desc, content)
        if subject is not None and OCI_SUBJECT not in response.headers:
            self.add_fallback_referrer(subject, desc, content)

    def tag(self, desc: Descriptor, reference: str) -> None:
        content = self.fetch(desc).read_all()
        self.put_manifest(reference, desc.media_type, content)

    # -- capabilities ------------------------------------------------------------------------------
    def delete(self, desc: Descriptor) -> None:
        """Delete a blob or manifest; a manifest with a ``subject`` leaves the referrers fallback
        index of that subject too."""
        if not desc.is_manifest:
            self.delete_blob(desc.digest)
            return
        subject = _subject_of(desc, self.fetch(desc).read_all())
        self.delete_manifest(desc.digest)
        if subject is not None:
            self.remove_fallback_referrer(subject, desc.digest)

    # -- referrers (dist-spec v1.1 "Listing Referrers", "Referrers Tag Schema") ---------------------
    def referrers(self, desc: Descriptor, artifact_type: str | None = None) -> Iterator[Descriptor]:
        """The manifests whose ``subject`` is ``desc``: from the referrers API where the registry has
        it, else from the fallback index tagged ``<alg>-<hex>``. Filtered by ``artifact_type`` here
        in every case: the spec lets a registry ignore the filter, and the fallback has none."""
        url = self.registry.referrers_url(self.path, desc.digest, artifact_type)
        response = self.request(
            "GET", url, answers=statuses.REFERRERS_LIST, headers={"Accept": OCI_INDEX}, stream=True
        )
        if statuses.REFERRERS_LIST.of(response) is statuses.Outcome.ABSENT:
            response.close()
            entries = index_entries(self._fallback_index(desc.digest)[0])
        else:
            entries = list(self._referrer_pages(url, response))
        return iter(of_type(entries, artifact_type))

    def _referrer_pages(self, url: str, response: requests.Response) -> Iterator[Descriptor]:
        """The entries of a referrers answer and of the pages its ``Link: rel="next"`` headers lead
        to ("Listing Referrers": a large list may be paginated); a link back to a page already read
        raises :class:`DXFProtocolError`."""
        seen = {url}
        while True:
            yield from index_entries(read_capped(response, MAX_MANIFEST_SIZE, "the referrers list"))
            next_url = self.registry.next_link(url, response.headers.get("Link"))
            if next_url is None:
                return
            if next_url in seen:
                raise DXFProtocolError("the registry's next-page link points back to a page already read")
            seen.add(next_url)
            url = next_url
            response = self.request(
                "GET", url, answers=statuses.REFERRERS_LIST, headers={"Accept": OCI_INDEX}, stream=True
            )

    def _fallback_index(self, subject: Digest) -> tuple[bytes | None, str | None]:
        """The fallback index of ``subject`` and its ``ETag``; ``(None, None)`` when there is none."""
        response = self.request(
            "GET",
            self.manifest_url(fallback_tag(subject)),
            answers=statuses.MANIFEST_PRESENCE,
            headers={"Accept": OCI_INDEX},
            stream=True,
        )
        if statuses.MANIFEST_PRESENCE.of(response) is statuses.Outcome.ABSENT:
            response.close()
            return None, None
        return read_capped(response, MAX_MANIFEST_SIZE, "the referrers index"), response.headers.get("ETag")

    def add_fallback_referrer(self, subject: Digest, desc: Descriptor, content: bytes) -> None:
        """Put the referrer ``desc`` (its manifest is ``content``) into ``subject``'s fallback index."""
        parsed = parse_manifest(content, desc.media_type)
        assert isinstance(parsed, ImageManifest)
        entry = referrer_entry(desc, parsed)
        self._edit_fallback_index(
            subject, lambda entries: with_entry(entries, entry), lambda entries: entry in entries
        )

    def remove_fallback_referrer(self, subject: Digest, digest: Digest) -> None:
        """Take the referrer ``digest`` out of ``subject``'s fallback index (when there is one)."""
        if self._fallback_index(subject)[0] is None:
            return
        self._edit_fallback_index(
            subject,
            lambda entries: without_digest(entries, digest),
            lambda entries: all(e.digest != digest for e in entries),
        )

    def _edit_fallback_index(
        self,
        subject: Digest,
        edit: Callable[[list[Descriptor]], list[Descriptor]],
        holds: Callable[[list[Descriptor]], bool],
    ) -> None:
        """Read, edit and write the fallback index until a read after a write shows the change.

        The referrers tag schema has no atomic update: two clients that read the same index and each
        write back their own edit lose one of them. So after writing, the index is read again (after
        a short random pause, so that a writer that read before us has written by then) and the edit
        is merged in again while it is missing, at most :data:`INDEX_ROUNDS` times. ``If-Match`` is
        sent with the ``ETag`` of what was read, which a registry that honours it (RFC 9110 13.1.1)
        refuses with 412 when another writer came first."""
        tag = fallback_tag(subject)
        for _round in range(INDEX_ROUNDS):
            content, etag = self._fallback_index(subject)
            entries = index_entries(content)
            if content is not None and holds(entries):
                return
            body = index_bytes(edit(entries))
            headers = {"Content-Type": OCI_INDEX, **({"If-Match": etag} if etag else {})}
            response = self.request(
                "PUT", self.manifest_url(tag), answers=statuses.INDEX_PUT, body=body, headers=headers
            )
            response.close()
            if statuses.INDEX_PUT.of(response) is statuses.Outcome.CHANGED_SINCE:
                continue
            time.sleep(random.uniform(*INDEX_SETTLE_SECONDS))
            if holds(index_entries(self._fallback_index(subject)[0])):
                return
        raise DXFReferrersIndexError(f"the referrers index {tag} kept being replaced by other writers")

    def mount(self, desc: Descriptor, from_repository: str) -> bool:
        """Cross-repository blob mount; see :meth:`mount_blob`."""
        return self.mount_blob(desc.digest, from_repository)


def _subject_of(desc: Descriptor, content: bytes) -> Digest | None:
    """The digest of the manifest ``content`` refers to through ``subject``, if it has one."""
    if desc.media_type not in IMAGE_MANIFEST_TYPES or b'"subject"' not in content:
        return None
    try:
        parsed = parse_manifest(content, desc.media_type)
    except DXFManifestError:  # the registry took it; what we cannot read refers to nothing we keep
        return None
    assert isinstance(parsed, ImageManifest)
    return parsed.subject.digest if parsed.subject is not None else None


def _digest_in(reference: str) -> str | None:
    """``reference`` when it is a digest (tags cannot contain ``:``), else None."""
    return reference if ":" in reference else None


def _content_digest(response: requests.Response) -> str | None:
    return response.headers.get("Docker-Content-Digest")
