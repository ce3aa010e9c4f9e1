"""``RemoteRepository``: one repository of a registry, as a :mod:`dxf.store` store.

Blobs and manifests live behind different endpoints of the distribution API (OCI distribution
spec, "Endpoints"), so each operation dispatches on the descriptor's media type
(:attr:`Descriptor.is_manifest`), as oras-go's ``remote.Repository`` does. Uploads and downloads
are the streaming, resumable machinery of :mod:`dxf.upload` and :mod:`dxf.download`; what this class
adds is the store contract: every fetch verified against its descriptor, every push verified before
the registry is asked to keep it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .digest import Digest
from .download import BlobReader
from .exceptions import DXFDigestMismatchError, DXFManifestError
from .manifest import ACCEPT_MANIFESTS, MANIFEST_TYPES, MAX_MANIFEST_SIZE, Descriptor, parse_manifest
from .reference import validate_repository
from .registry import Registry, UnauthorizedHook
from .store import VerifiedContent, verified
from .transfer import RepoContext
from .upload import UploadSession, blob_exists, push_chunks


class RemoteRepository:
    """The repository ``path`` (e.g. ``fred/datalogger``) on ``registry``. Thread-safe.

    Implements :class:`dxf.store.Store` and the capabilities :class:`~dxf.store.TagLister`,
    :class:`~dxf.store.Deleter` and :class:`~dxf.store.Mounter`.
    """

    def __init__(
        self, registry: Registry, path: str, on_unauthorized: UnauthorizedHook | None = None
    ) -> None:
        self.registry = registry
        self.path = validate_repository(path)
        self.context = RepoContext(registry, self.path, on_unauthorized)

    def _url(self, desc: Descriptor) -> str:
        if desc.is_manifest:
            return self.registry.manifest_url(self.path, desc.digest)
        return self.registry.blob_url(self.path, desc.digest)

    # -- the store core ----------------------------------------------------------------------------
    def exists(self, desc: Descriptor) -> bool:
        if not desc.is_manifest:
            return blob_exists(self.context, desc.digest)
        ok = lambda r: r.status_code in (200, 404)  # noqa: E731
        response = self.context.request("HEAD", self._url(desc), headers={"Accept": desc.media_type}, ok=ok)
        response.close()
        return response.status_code == 200

    def fetch(self, desc: Descriptor) -> VerifiedContent:
        if desc.is_manifest:
            return VerifiedContent(desc, [self._manifest_bytes(str(desc.digest), desc.media_type)[0]])
        reader = BlobReader(self.context, desc.digest, expected_size=desc.size)
        return VerifiedContent(desc, reader, reader.close)

    def resolve(self, reference: str) -> Descriptor:
        content, media_type = self._manifest_bytes(reference, ACCEPT_MANIFESTS)
        return Descriptor.of_bytes(media_type, content)

    def push(self, desc: Descriptor, chunks: Iterable[bytes]) -> None:
        if not desc.is_manifest:
            push_chunks(self.context, verified(desc, chunks), desc.digest, None)
            return
        content = b"".join(verified(desc, chunks))
        self._put_manifest(str(desc.digest), desc.media_type, content)

    def tag(self, desc: Descriptor, reference: str) -> None:
        content = self.fetch(desc).read_all()
        self._put_manifest(reference, desc.media_type, content)

    # -- capabilities ------------------------------------------------------------------------------
    def tags(self) -> Iterator[str]:
        return self.registry.paginate(
            self.registry.tags_url(self.path),
            "tags",
            repo=self.path,
            on_unauthorized=self.context.on_unauthorized,
            batch_size=None,
        )

    def delete(self, desc: Descriptor) -> None:
        self.context.request("DELETE", self._url(desc)).close()

    def mount(self, desc: Descriptor, from_repository: str) -> bool:
        """Cross-repository blob mount (OCI distribution spec, end-11). ``False`` when the registry
        opened an ordinary upload instead (202), which is cancelled."""
        source = validate_repository(from_repository)
        url = self.registry.upload_start_url(self.path, mount=str(desc.digest), **{"from": source})
        response = self.context.request("POST", url, ok=lambda r: r.status_code in (201, 202))
        response.close()
        if response.status_code != 201:
            location = response.headers.get("Location")
            if location:
                UploadSession(self.context, self.registry.resolve_location(url, location)).cancel()
            return False
        dcd = response.headers.get("Docker-Content-Digest")
        if dcd is not None and dcd != str(desc.digest):
            raise DXFDigestMismatchError(dcd, str(desc.digest))
        return True

    # -- manifests ---------------------------------------------------------------------------------
    def _manifest_bytes(self, reference: str, accept: str) -> tuple[bytes, str]:
        """GET a manifest by tag or digest, capped at :data:`MAX_MANIFEST_SIZE`, checked against the
        digest it was asked by and the ``Docker-Content-Digest`` the registry sent; with its type."""
        url = self.registry.manifest_url(self.path, reference)
        response = self.context.request("GET", url, headers={"Accept": accept}, stream=True)
        with response:
            content = response.raw.read(MAX_MANIFEST_SIZE + 1, decode_content=True)
            media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
            dcd = response.headers.get("Docker-Content-Digest")
        if len(content) > MAX_MANIFEST_SIZE:
            raise DXFManifestError(f"manifest {reference} is larger than {MAX_MANIFEST_SIZE} bytes")
        for expected in (reference if ":" in reference else None, dcd):
            if expected is not None:
                digest = Digest.parse(expected)
                got = Digest.of_bytes(content, digest.algorithm)
                if got != digest:
                    raise DXFDigestMismatchError(str(got), str(digest))
        if media_type not in MANIFEST_TYPES:  # registries may say application/json, or nothing
            media_type = parse_manifest(content, media_type).media_type
        return content, media_type

    def _put_manifest(self, reference: str, media_type: str, content: bytes) -> None:
        url = self.registry.manifest_url(self.path, reference)
        self.context.request("PUT", url, body=content, headers={"Content-Type": media_type}).close()
