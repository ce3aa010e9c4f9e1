"""``DXFBase`` and ``DXF``: python-dxf 12.1.1's public classes, a facade over
:class:`dxf.remote.RemoteRepository` (which speaks the protocol) and :mod:`dxf.auth`: this module only
adapts signatures and gives python-dxf's return shapes (texts, lists, dicts keyed by platform).

Names, positional parameters, defaults, return values and exceptions are python-dxf's, so existing
code runs unchanged. What differs underneath: one pooled session per client (python-dxf opened a
connection per request outside a ``with`` block), retries, a token cache with expiry, digests and
names validated before they reach a URL, and verified, constant-memory transfers. New abilities are
new methods or keyword-only arguments; nothing existing changes meaning.

Compatibility attributes: code written against python-dxf reads ``_host``, ``_repo``, ``_auth``,
``_insecure``, ``_auth_host``, ``_timeout`` and ``_tlsverify`` (and assigns ``_tlsverify`` on a live
client to change verification). They are kept as documented aliases of our internal state.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, Any, Protocol, TypeVar

import requests

from .auth import TOKEN_USER_AGENT, AuthState, Credentials, challenged_scope
from .digest import Digest
from .exceptions import (
    DXFDigestNotAvailableForSchema1,
    DXFHTTPError,
    DXFMountFailed,
    DXFNeedsLayoutError,
    DXFNeedsRegistryError,
    DXFUnsupportedSchemaType,
)
from .journal import UploadJournal, default_directory
from .layout import OCILayout, layouts_under
from .layout_repository import LAYOUT_PAGE, LayoutRepository, in_pages, layout_root
from .manifest import (
    DOCKER_MANIFEST_V2,
    ImageManifest,
    ManifestIndex,
    Schema1Manifest,
    make_dxf_manifest,
    parse_manifest,
    platform_map,
    select_platform,
)
from .reference import normalize_host, repository_path, validate_repository
from .registry import Registry
from .remote import RemoteRepository
from .segments import DEFAULT_CONNECTIONS
from .store import ReferrerLister
from .transfer import Progress
from .transport import DEFAULT_HOST_REQUESTS, ClientCert, RetryPolicy, Timeout, Transport

AuthCallback = Callable[["DXFBase", requests.Response], None]


class CredentialSource(Protocol):
    """Anything that finds credentials by registry host, like :class:`dxf.credentials.Keychain`."""

    def lookup(self, host: str) -> Credentials | None: ...


class ManifestRecord(Protocol):
    """A manifest as a repository handle reads it: its bytes, digest and declared type."""

    @property
    def content(self) -> bytes: ...
    @property
    def digest(self) -> Digest: ...
    @property
    def content_type(self) -> str | None: ...


class BlobChunks(Protocol):
    """A blob being read: verified chunks, its size when known, closeable."""

    size: int | None

    def __iter__(self) -> Iterator[bytes]: ...
    def close(self) -> None: ...


class RepositoryHandle(Protocol):
    """What :class:`DXF` needs of the place a repository lives: the part of
    :class:`~dxf.remote.RemoteRepository` the facade uses, which
    :class:`~dxf.layout_repository.LayoutRepository` offers too. The facade stays one class (one set
    of python-dxf signatures and return shapes) whether the repository is on a registry or in an OCI
    layout; only the handle differs."""

    def for_batch(self, cancel: threading.Event) -> RepositoryHandle: ...
    def blob_exists(self, digest: Digest) -> bool: ...
    def blob_size(self, digest: Digest) -> int | None: ...
    def open_blob(
        self,
        digest: Digest,
        chunk_size: int | None = None,
        expected_size: int | None = None,
        *,
        connections: int = 1,
    ) -> BlobChunks: ...
    def download(
        self,
        digest: Digest,
        path: str,
        progress: Progress | None = None,
        *,
        resume: bool = False,
        expected_size: int | None = None,
    ) -> int: ...
    def push_file(
        self,
        path: str,
        progress: Progress | None,
        check_exists: bool,
        chunk_size: int | None = None,
        journal: UploadJournal | None = None,
    ) -> Digest: ...
    def push_chunks(self, chunks: Iterable[bytes], digest: Digest, progress: Progress | None) -> None: ...
    def push_stream(self, stream: IO[bytes], progress: Progress | None) -> Digest: ...
    def mount_blob(self, digest: Digest, from_repository: str) -> bool: ...
    def delete_blob(self, digest: Digest) -> None: ...
    def fetch_manifest(self, reference: str) -> ManifestRecord: ...
    def put_manifest(self, reference: str, media_type: str, content: bytes) -> object: ...
    def delete_reference(
        self, reference: str, manifest_digest: Digest, subject: Digest | None = None
    ) -> None: ...
    def tags(self, batch_size: int | None = None) -> Iterator[str]: ...
    def tag_pages(self, batch_size: int | None = None) -> Iterator[list[str]]: ...


T = TypeVar("T", bound="DXFBase")
TD = TypeVar("TD", bound="DXF")

#: Default parallelism: sizes the connection pool so parallel transfers never wait for a socket.
DEFAULT_JOBS = 4
#: ``pull_blob``'s default chunk size, as python-dxf documents it ("Defaults to 8192"). Pass a larger
#: ``chunk_size`` (1 MiB) for speed; files (``pull_blob_to_file``, ``pull_blobs``) always read 1 MiB.
PULL_BLOB_CHUNK_SIZE = 8192


def authenticate_as(dxf_obj: DXFBase, credentials: Credentials, response: requests.Response) -> None:
    """Answer ``response`` (a 401) with :meth:`DXFBase.authenticate` and what ``credentials`` hold:
    how the client renews with the credentials it was given, and how the command's python-dxf-style
    auth callback answers with what it found."""
    dxf_obj.authenticate(
        credentials.username,
        credentials.password,
        response=response,
        authorization=credentials.authorization,
        identity_token=credentials.identity_token,
    )


class DXFBase:
    """A registry host: authentication, the catalog, and the session every repository client shares.

    Usable as a context manager (``with DXFBase(...) as b:``); leaving the block closes the pooled
    connections, and the object stays usable afterwards (it reconnects on demand). Thread-safe.
    """

    def __init__(
        self,
        host: str,
        auth: AuthCallback | None = None,
        insecure: bool = False,
        auth_host: str | None = None,
        tlsverify: bool | str = True,
        timeout: Timeout = None,
        *,
        retries: int | None = None,
        jobs: int = DEFAULT_JOBS,
        upload_chunk_size: int | None = None,
        credentials: CredentialSource | None = None,
        cert: ClientCert = None,
        connections: int = DEFAULT_CONNECTIONS,
        host_requests: int = DEFAULT_HOST_REQUESTS,
    ) -> None:
        """
        :param host: registry host, optionally with a port (``localhost:5000``). ``docker.io`` and
            ``index.docker.io`` mean Docker Hub's API host, ``registry-1.docker.io``.
        :param auth: ``auth(dxf_obj, response)``, called when a request gets 401; it should call
            :meth:`authenticate` (usually with ``response=response``). The request is then retried once.
        :param insecure: plain HTTP instead of HTTPS. No credential (token, password, ``Authorization``)
            is ever sent then; a registry that asks for one raises :class:`DXFAuthInsecureError`.
        :param auth_host: send token requests to this host instead of the realm's.
        :param tlsverify: ``True``, ``False``, or the path of a CA bundle. With ``True``,
            ``REQUESTS_CA_BUNDLE`` is honoured.
        :param timeout: seconds (or ``(connect, read)``); ``None`` means our finite defaults.
        :param retries: how many times a failed request is tried again (default 4; 0 disables).
        :param jobs: parallel transfers this client is sized for (connection pool size) and the
            default of ``push_blobs``/``pull_blobs``.
        :param upload_chunk_size: bytes per PATCH when pushing large files (default: the whole file in
            one resumable PATCH); raised to the registry's ``OCI-Chunk-Min-Length`` when smaller.
        :param credentials: where to find credentials when there is no ``auth`` callback, e.g.
            :class:`dxf.credentials.Keychain` (Docker/podman config files and credential helpers):
            anything with ``lookup(host)`` returning :class:`dxf.auth.Credentials` or ``None``.
            Consulted on the first 401; ``auth`` wins when both are given.
        :param cert: a TLS client certificate for registries that require one (mutual TLS): the path
            of a PEM holding certificate and key, or ``(certificate, key)`` paths.
        :param connections: connections one large blob download (``pull_blob_to_file``,
            ``pull_blobs``) may use at once, each fetching byte ranges, when the server serves ranges
            (default 4; 1: one connection per blob, as python-dxf).
        :param host_requests: requests this client (all its threads) keeps in flight to one host at
            most (default 16); a 429 lowers it for a while and pauses them all (see
            :mod:`dxf.transport`).
        """
        self._host = host
        #: ``oci:PATH``: the directory whose layouts are the repositories, instead of a registry.
        self._layout_root = layout_root(host)
        self._keychain = credentials
        self._auth = auth
        self._insecure = insecure
        self._auth_host = auth_host
        self._timeout = timeout
        self._repo: str | None = None
        retry = RetryPolicy() if retries is None else RetryPolicy(attempts=max(0, retries) + 1)
        self._jobs = max(1, jobs)
        self._upload_chunk_size = upload_chunk_size
        connections = max(1, connections)
        self._transport = Transport(
            tlsverify=tlsverify,
            timeout=timeout,
            retry=retry,
            pool_size=self._jobs * connections + 2,
            cert=cert,
            connections=connections,
            host_requests=host_requests,
        )
        self._registry = Registry(normalize_host(host), insecure=insecure, transport=self._transport)

    # -- python-dxf compatibility attributes -----------------------------------------------------
    @property
    def _tlsverify(self) -> bool | str:
        return self._transport.tlsverify

    @_tlsverify.setter
    def _tlsverify(self, value: bool | str) -> None:
        self._transport.tlsverify = value

    @property
    def _auth_state(self) -> AuthState:
        return self._registry.auth

    @property
    def token(self) -> str | None:
        """The bearer token obtained most recently; assign one you got elsewhere to use it."""
        return self._auth_state.token

    @token.setter
    def token(self, value: str) -> None:
        self._auth_state.set_token(value)

    # -- authentication --------------------------------------------------------------------------
    def _repo_path(self) -> str | None:
        return None

    def authenticate(
        self,
        username: str | None = None,
        password: str | None = None,
        actions: list[str] | str | None = None,
        response: requests.Response | None = None,
        authorization: str | None = None,
        user_agent: str = TOKEN_USER_AGENT,
        *,
        identity_token: str | None = None,
    ) -> str | None:
        """Authenticate as ``username``/``password``, with a ready ``Authorization`` value, or anonymously.

        :param actions: ``pull``, ``push``, ``*`` (a list, or one string) on this client's repository.
        :param response: the 401 response passed to the ``auth`` callback; without it we probe ``/v2/``.
        :param identity_token: an identity (refresh) token, as ``docker login`` stores, traded at the
            token realm for access tokens instead of a password.
        :returns: the bearer token, or ``None`` when the registry uses basic auth or needs none.
        """
        if self._layout_root is not None:
            raise DXFNeedsRegistryError("authentication")
        scope = challenged_scope(self._repo_path(), response) if response is not None else None
        if response is None:  # a probe of our own: no request of the caller's to file a token for
            response = self._transport.send("GET", self._registry.url(), headers={"User-Agent": user_agent})
            response.close()
        return self._auth_state.answer(
            self._transport,
            response,
            insecure=self._insecure,
            repo=self._repo_path(),
            scope=scope,
            credentials=Credentials(username, password, authorization, identity_token),
            actions=[actions] if isinstance(actions, str) else actions,
            auth_host=self._auth_host,
            user_agent=user_agent,
        )

    def _on_unauthorized(self, response: requests.Response) -> None:
        """Answer a 401: through the caller's callback (python-dxf), else with the credentials that
        an earlier :meth:`authenticate` gave us, so an aged token is replaced without the caller."""
        if self._auth is not None:
            self._auth(self, response)
            return
        credentials = self._auth_state.credentials() or self._stored_credentials()
        if credentials is not None and not self._insecure:
            authenticate_as(self, credentials, response)

    def _stored_credentials(self) -> Credentials | None:
        """What the ``credentials`` source holds for this host (never consulted over plain HTTP)."""
        if self._keychain is None or self._insecure:
            return None
        return self._keychain.lookup(self._host)

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return self._registry.request(
            method, url, repo=self._repo_path(), on_unauthorized=self._on_unauthorized, **kwargs
        )

    # -- registry-wide calls ---------------------------------------------------------------------
    def list_repos(self, batch_size: int | None = None, iterate: bool = False) -> list[str] | Iterator[str]:
        """Repository names in the registry (all pages); an iterator with ``iterate=True``. For
        ``oci:PATH``, the layouts under ``PATH``."""
        it = itertools.chain.from_iterable(self.repo_pages(batch_size))
        return it if iterate else list(it)

    def repo_pages(self, batch_size: int | None = None) -> Iterator[list[str]]:
        """New: :meth:`list_repos` page by page, each list as the registry sent it (``batch_size``
        asks for that many names a page), the next page requested only when this one is consumed.
        For ``oci:PATH``, the layouts under ``PATH`` in pages of ``batch_size`` (default 100)."""
        if self._layout_root is not None:
            return in_pages(layouts_under(self._layout_root), batch_size or LAYOUT_PAGE)
        return self._registry.pages(
            self._registry.catalog_url(),
            "repositories",
            repo=None,
            on_unauthorized=self._on_unauthorized,
            batch_size=batch_size,
        )

    def api_version_check(self) -> tuple[str, requests.Response]:
        """GET ``/v2/``: the body as text and the response."""
        if self._layout_root is not None:
            raise DXFNeedsRegistryError("the API version check")
        response = self._request("GET", self._registry.url())
        return response.content.decode("utf-8"), response

    @property
    def connections(self) -> int:
        """Connections one large blob download may use at once (the constructor's ``connections``)."""
        return self._transport.connections

    def close(self) -> None:
        """Close pooled connections; the client reconnects if used again."""
        self._transport.close()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


PlatformResult = Any  # a leaf result, or a dict of them keyed by platform


class DXF(DXFBase):
    """One repository: blobs, aliases (tags) and manifests."""

    def __init__(
        self,
        host: str,
        repo: str,
        auth: AuthCallback | None = None,
        insecure: bool = False,
        auth_host: str | None = None,
        tlsverify: bool | str = True,
        timeout: Timeout = None,
        *,
        retries: int | None = None,
        jobs: int = DEFAULT_JOBS,
        upload_chunk_size: int | None = None,
        credentials: CredentialSource | None = None,
        cert: ClientCert = None,
        connections: int = DEFAULT_CONNECTIONS,
        host_requests: int = DEFAULT_HOST_REQUESTS,
    ) -> None:
        """:param repo: repository name, e.g. ``fred/datalogger``; on Docker Hub a one-component name
        gets ``library/``. Other parameters as :class:`DXFBase`."""
        super().__init__(
            host,
            auth,
            insecure,
            auth_host,
            tlsverify,
            timeout,
            retries=retries,
            jobs=jobs,
            upload_chunk_size=upload_chunk_size,
            credentials=credentials,
            cert=cert,
            connections=connections,
            host_requests=host_requests,
        )
        self._repo = repo
        self._path = validate_repository(repository_path(normalize_host(host), repo))

    def _repo_path(self) -> str:
        return self._path

    @classmethod
    def from_base(cls: type[TD], base: DXFBase, repo: str) -> TD:
        """A client for ``repo`` sharing ``base``'s host, settings, session, tokens and callback."""
        client = cls(
            base._host, repo, base._auth, base._insecure, base._auth_host, base._tlsverify, base._timeout
        )
        client._transport = base._transport
        client._registry = base._registry
        client._jobs = base._jobs
        client._upload_chunk_size = base._upload_chunk_size
        client._keychain = base._keychain
        return client

    @property
    def store(self) -> RemoteRepository:
        """This repository as a :mod:`dxf.store` store (the interface ``copy`` and artifacts use),
        and the protocol handle every method of this class delegates to on a registry. (For
        ``oci:PATH``, use :class:`dxf.OCILayout` on ``PATH/<repo>`` as the store.)"""
        if self._layout_root is not None:
            raise DXFNeedsRegistryError("DXF.store")
        return RemoteRepository(self._registry, self._path, self._on_unauthorized)

    @property
    def _handle(self) -> RepositoryHandle:
        """Where the repository lives: the registry (:attr:`store`) or an OCI layout."""
        if self._layout_root is not None:
            return LayoutRepository(self._layout_root, self._path)
        return self.store

    @property
    def _content(self) -> RemoteRepository | OCILayout:
        """The store artifacts are written against: the registry repository, or the layout."""
        if self._layout_root is not None:
            return LayoutRepository(self._layout_root, self._path).layout
        return self.store

    # -- blobs -----------------------------------------------------------------------------------
    def push_blob(
        self,
        filename: str | None = None,
        progress: Callable[..., None] | None = None,
        data: Iterable[bytes] | bytes | None = None,
        digest: str | None = None,
        check_exists: bool = True,
        *,
        resume: bool = False,
        state_dir: str | None = None,
    ) -> str:
        """Upload a file (or ``data`` with its ``digest``) and return the digest.

        ``progress(digest, chunk, total)`` is called for a file, ``progress(digest, chunk)`` for
        ``data``; first with an empty chunk. Nothing is uploaded (and no progress reported) when
        ``check_exists`` finds the blob already there. A file that changes during the upload raises
        :class:`DXFFileChangedError` (nothing is stored); a fifo or other non-regular file is read
        once and uploaded as :meth:`push_stream` does.

        With ``resume`` (files only), an upload that fails is not cancelled but remembered in
        ``state_dir`` (default ``~/.cache/dxf/uploads``), and a later call with ``resume`` continues
        it from what the registry holds, when the registry still has the session. (distribution 2.8
        drops a session whose last request broke off mid-body; the upload then starts again.)
        """
        repo = self._handle
        if filename is not None:
            journal = UploadJournal(state_dir or default_directory(os.environ)) if resume else None
            return str(repo.push_file(filename, progress, check_exists, self._upload_chunk_size, journal))
        if digest is None:
            raise TypeError("digest must be provided if filename is None")
        dgst = Digest.parse(digest)
        if check_exists and repo.blob_exists(dgst):
            return digest
        if isinstance(data, bytes):
            data = [data]
        if progress is not None:
            progress(digest, b"")
        repo.push_chunks(data or [], dgst, progress)
        return digest

    def push_stream(self, stream: IO[bytes], progress: Callable[..., None] | None = None) -> str:
        """Upload everything a binary stream yields (stdin, a pipe), hashing as it goes; return the
        digest. Memory stays bounded by one upload chunk; nothing is spooled to disk."""
        return str(self._handle.push_stream(stream, progress))

    def push_blobs(
        self,
        filenames: Sequence[str],
        *,
        jobs: int | None = None,
        progress: Callable[..., None] | None = None,
        check_exists: bool = True,
    ) -> list[str]:
        """Push several files with up to ``jobs`` transfers at once; return their digests in order.

        When one fails (or Ctrl-C arrives), the others stop at their next chunk and their uploads are
        cancelled; the first error is raised."""
        from .parallel import run_all  # concurrent.futures only for the commands that need it

        cancel = threading.Event()
        repo = self._handle.for_batch(cancel)

        def push(name: str) -> str:
            return str(repo.push_file(name, progress, check_exists, self._upload_chunk_size))

        return run_all(list(filenames), push, jobs or self._jobs, cancel)

    def pull_blobs(
        self,
        digests: Sequence[str],
        output_dir: str,
        *,
        jobs: int | None = None,
        progress: Callable[..., None] | None = None,
        sizes: Mapping[str, int] | None = None,
    ) -> list[str]:
        """Download blobs into ``output_dir`` (created if missing; each blob as ``<algorithm>-<hex>``,
        verified, following :meth:`pull_blob_to_file`'s rules) with up to ``jobs`` at once; return
        the paths in order. ``sizes`` maps digests to their known sizes (from a manifest), which are
        then enforced. When one download fails (or Ctrl-C arrives), the others stop at their next
        chunk and leave no file; the first error is raised."""
        from .parallel import blob_file_name, run_all

        parsed = [Digest.parse(d) for d in digests]
        known = {Digest.parse(d): n for d, n in (sizes or {}).items()}
        os.makedirs(output_dir, exist_ok=True)
        cancel = threading.Event()
        repo = self._handle.for_batch(cancel)

        def pull(digest: Digest) -> str:
            path = os.path.join(output_dir, blob_file_name(str(digest)))
            repo.download(digest, path, progress, expected_size=known.get(digest))
            return path

        return run_all(parsed, pull, jobs or self._jobs, cancel)

    def pull_blob(
        self,
        digest: str,
        size: bool = False,
        chunk_size: int | str | None = None,
        *,
        expected_size: int | None = None,
        connections: int | None = None,
    ) -> Iterable[bytes] | tuple[Iterable[bytes], int]:
        """The blob's content as an iterator of chunks (or ``(iterator, size)``).

        ``chunk_size`` defaults to 8192 bytes, as in python-dxf; pass ``1024 * 1024`` for speed.
        The request is made now: a missing blob raises here, not when iterating. Iterating to the
        end verifies the digest and raises :class:`DXFDigestMismatchError` on a mismatch.
        ``expected_size`` (a descriptor's size) is enforced: a blob of another size raises
        :class:`DXFSizeMismatchError`, and no more than that is read. With ``size=True``, the size
        is ``None`` when the registry does not tell it (no ``Content-Length``, python-dxf crashed).

        ``connections`` (default 1, as python-dxf): a large blob whose server serves ranges may come
        over up to that many connections at once, reassembled in order in bounded memory (see
        :mod:`dxf.ordered`); its chunks are then as they arrived (up to 1 MiB), not ``chunk_size``.
        ``connections=dxf_obj.connections`` uses the number the client was made with. A new keyword
        rather than the constructor's ``connections`` (which ``pull_blob_to_file`` follows), so that
        code written for python-dxf keeps getting one connection and ``chunk_size`` chunks.
        """
        repo, dgst = self._handle, Digest.parse(digest)
        reader = repo.open_blob(
            dgst,
            _chunk_size(chunk_size) or PULL_BLOB_CHUNK_SIZE,
            expected_size,
            connections=max(1, connections or 1),
        )
        if not size:
            return reader
        total = reader.size if reader.size is not None else repo.blob_size(dgst)
        return reader, total  # type: ignore[return-value]  # None only where python-dxf crashed

    def pull_blob_to_file(
        self,
        digest: str,
        path: str,
        progress: Callable[..., None] | None = None,
        *,
        resume: bool = False,
        expected_size: int | None = None,
    ) -> int:
        """Download a blob to ``path``, verified before it gets the name; return its size.

        As curl and wget do with ``-o``: a symlink is followed (the file it points to is replaced, the
        link stays), an existing file keeps its permission bits, and an existing fifo or device is
        written straight into (verified at the end; bytes written cannot be taken back).
        ``expected_size`` (a descriptor's size) is enforced. With ``resume``, a download broken off
        (connection lost, Ctrl-C, process killed) keeps its bytes in a hidden, locked file beside
        ``path``, and the next call with ``resume`` continues from there; a second call for the same
        ``path`` while one runs raises :class:`OSError` (``EBUSY``).
        """
        return self._handle.download(
            Digest.parse(digest), path, progress, resume=resume, expected_size=expected_size
        )

    def blob_size(self, digest: str) -> int:
        """The blob's size in bytes (HEAD)."""
        dgst = Digest.parse(digest)
        size = self._handle.blob_size(dgst)
        if size is None:
            raise DXFHTTPError(f"the registry did not send the size (Content-Length) of {dgst}")
        return size

    def mount_blob(self, repo: str, digest: str) -> str:
        """Mount a blob that exists in ``repo`` into this repository without uploading it.

        Raises :class:`DXFMountFailed` when the registry does not mount (it answers 202 and opens an
        ordinary upload instead, which we cancel).
        """
        source = repository_path(self._registry.host, repo)
        if not self._handle.mount_blob(Digest.parse(digest), source):
            raise DXFMountFailed()
        return digest

    def del_blob(self, digest: str) -> None:
        """Delete a blob."""
        self._handle.delete_blob(Digest.parse(digest))

    # -- manifests and aliases -------------------------------------------------------------------
    def make_manifest(self, *digests: str) -> str:
        """The manifest JSON python-dxf writes for an alias of these blobs (sizes fetched by HEAD)."""
        blobs = [(Digest.parse(d), self.blob_size(d)) for d in digests]
        return make_dxf_manifest(blobs)

    def set_manifest(self, alias: str, manifest_json: str) -> None:
        """Store ``manifest_json`` under ``alias``, with its own ``mediaType`` as Content-Type."""
        media_type = parse_manifest(manifest_json).media_type
        self._handle.put_manifest(alias, media_type or DOCKER_MANIFEST_V2, manifest_json.encode("utf-8"))

    def set_alias(self, alias: str, *digests: str) -> str:
        """Point ``alias`` at these blobs; returns the manifest JSON it stored."""
        manifest_json = self.make_manifest(*digests)
        self.set_manifest(alias, manifest_json)
        return manifest_json

    def get_manifest_and_response(self, alias: str) -> tuple[str, requests.Response]:
        """GET the manifest for ``alias`` (a tag or a digest): its text and the response.

        At most :data:`~dxf.manifest.MAX_MANIFEST_SIZE` bytes are read (else :class:`DXFProtocolError`).
        """
        content, response = self.store.get_manifest(alias)  # registry only: it returns the response
        return content.decode("utf-8"), response

    def head_manifest_and_response(self, alias: str) -> tuple[str | None, requests.Response]:
        """HEAD the manifest for ``alias``: its ``Docker-Content-Digest`` and the response."""
        response = self.store.head_manifest(alias)
        return response.headers.get("Docker-Content-Digest"), response

    def _resolve(
        self,
        alias: str | None,
        manifest: str | None,
        platform: str | None,
        leaf: Callable[[str, ImageManifest | Schema1Manifest], Any],
        nested: bool = True,
    ) -> PlatformResult:
        """Read an alias (or a given manifest) and apply ``leaf`` to each image manifest in it.

        A list/index gives a dict keyed ``os/arch[/variant]``, or the one entry for ``platform``.
        """
        content_type: str | None = None
        if alias:
            fetched = self._handle.fetch_manifest(alias)
            manifest, content_type = fetched.content.decode("utf-8"), fetched.content_type
        assert manifest is not None, "alias or manifest is required"
        parsed = parse_manifest(manifest, content_type)
        if not isinstance(parsed, ManifestIndex):
            return leaf(manifest, parsed)
        if not nested:
            raise DXFUnsupportedSchemaType(parsed.media_type)
        if platform:
            entry = select_platform(parsed, platform)
            return self._resolve(str(entry.digest), None, None, leaf, nested=False)
        return {
            key: self._resolve(str(desc.digest), None, None, leaf, nested=False)
            for key, desc in platform_map(parsed).items()
        }

    def get_manifest(self, alias: str, platform: str | None = None) -> str | dict[str, str]:
        """The manifest text for ``alias``; for a multi-platform alias, a dict of them by platform."""
        result: str | dict[str, str] = self._resolve(alias, None, platform, lambda text, _parsed: text)
        return result

    def get_alias(
        self,
        alias: str | None = None,
        manifest: str | None = None,
        verify: bool = True,
        sizes: bool = False,
        platform: str | None = None,
    ) -> list[str] | list[tuple[str, int]] | dict[str, Any]:
        """The blob digests an alias points to (with ``sizes``: ``(digest, size)`` pairs).

        ``verify`` is kept for compatibility (schema 1 signature checking); manifests fetched by alias
        are always checked against their ``Docker-Content-Digest``.
        """
        del verify

        def blobs(_text: str, parsed: ImageManifest | Schema1Manifest) -> list[Any]:
            if isinstance(parsed, Schema1Manifest):
                digests = [str(d) for d in parsed.layers]
                return [(d, self.blob_size(d)) for d in digests] if sizes else digests
            return [
                (str(layer.digest), layer.size) if sizes else str(layer.digest) for layer in parsed.layers
            ]

        result: list[str] | list[tuple[str, int]] | dict[str, Any] = self._resolve(
            alias, manifest, platform, blobs
        )
        return result

    def get_digest(
        self, alias: str | None = None, manifest: str | None = None, platform: str | None = None
    ) -> str | dict[str, str]:
        """The config blob's digest (for a dxf alias: its first blob)."""

        def config(_text: str, parsed: ImageManifest | Schema1Manifest) -> str:
            if isinstance(parsed, Schema1Manifest):
                raise DXFDigestNotAvailableForSchema1()
            return str(parsed.config.digest)

        result: str | dict[str, str] = self._resolve(alias, manifest, platform, config)
        return result

    def del_alias(self, alias: str) -> list[str] | dict[str, str]:
        """Delete an alias (not its blobs); return what it pointed to (for a multi-platform alias, the
        per-platform manifest digests, each of which you may delete in turn).

        Where the registry deletes tags (distribution spec v1.1: ``DELETE /v2/<name>/manifests/<tag>``)
        only this alias goes. Elsewhere (distribution 2.8 answers 400) the manifest is deleted by its
        digest, as python-dxf does, which also removes every other alias pointing at the same manifest.
        """
        fetched = self._handle.fetch_manifest(alias)
        parsed = parse_manifest(fetched.content.decode("utf-8"), fetched.content_type)
        result: list[str] | dict[str, str]
        if isinstance(parsed, ManifestIndex):
            result = {key: str(desc.digest) for key, desc in platform_map(parsed).items()}
        elif isinstance(parsed, Schema1Manifest):
            result = [str(d) for d in parsed.layers]
        else:
            result = [str(layer.digest) for layer in parsed.layers]
        subject = parsed.subject.digest if isinstance(parsed, ImageManifest) and parsed.subject else None
        self._handle.delete_reference(alias, fetched.digest, subject)
        return result

    def gc(self) -> list[tuple[str, int]]:
        """OCI layouts (``oci:PATH``) only: remove the blobs and manifests no alias reaches any more;
        return each one removed as ``(digest, size)``. A registry collects its own garbage."""
        handle = self._handle
        if not isinstance(handle, LayoutRepository):
            raise DXFNeedsLayoutError("gc")
        return [(str(digest), size) for digest, size in handle.gc()]

    def list_aliases(self, batch_size: int | None = None, iterate: bool = False) -> list[str] | Iterator[str]:
        """Tags in this repository (all pages); an iterator with ``iterate=True``."""
        it = itertools.chain.from_iterable(self.alias_pages(batch_size))
        return it if iterate else list(it)

    def alias_pages(self, batch_size: int | None = None) -> Iterator[list[str]]:
        """New: :meth:`list_aliases` page by page, each list as the registry sent it (``batch_size``
        asks for that many a page; distribution 2.8 ignores it and sends every tag at once), the
        next page requested only when this one is consumed."""
        return self._handle.tag_pages(batch_size)

    # -- OCI artifacts and referrers (new; see dxf.artifact) ---------------------------------------
    def push_artifact(
        self,
        alias: str | None,
        *files: str,
        artifact_type: str | None = None,
        annotations: Mapping[str, str] | None = None,
        config: str | None = None,
        subject: str | None = None,
        jobs: int | None = None,
        compress: bool = True,
    ) -> str:
        """Store ``files`` (each ``PATH[:MEDIATYPE]``; a directory is packed as a tar) as an OCI
        artifact, point ``alias`` at it (None: no alias) and return the manifest digest.

        Each layer carries its file's base name as ``org.opencontainers.image.title``; the config is
        the empty one unless ``config`` (``PATH[:MEDIATYPE]``) is given; ``subject`` (an alias or a
        manifest digest) makes the artifact refer to that manifest (see :meth:`referrers`)."""
        from .artifact import FileSpec, push_artifact

        store = self._content
        desc = push_artifact(
            store,
            alias,
            [FileSpec.parse(f) for f in files],
            artifact_type=artifact_type,
            annotations=annotations,
            config=FileSpec.parse(config) if config is not None else None,
            subject=store.resolve(subject) if subject is not None else None,
            jobs=jobs or self._jobs,
            compress=compress,
        )
        return str(desc.digest)

    def pull_artifact(self, alias: str, output_dir: str, *, jobs: int | None = None) -> list[str]:
        """Restore the artifact ``alias`` (or a manifest digest) into ``output_dir``: each layer
        under its title, verified, all or nothing; return the paths. Unsafe or duplicate titles
        raise :class:`DXFArtifactError` before anything is written."""
        from .artifact import pull_artifact

        return pull_artifact(self._content, alias, output_dir, jobs=jobs or self._jobs)

    def attach(
        self,
        subject: str,
        artifact_type: str,
        *files: str,
        annotations: Mapping[str, str] | None = None,
        jobs: int | None = None,
    ) -> str:
        """Store ``files`` as an artifact of ``artifact_type`` referring to ``subject`` (an alias or
        a manifest digest), without an alias of its own; return its manifest digest."""
        return self.push_artifact(
            None, *files, artifact_type=artifact_type, annotations=annotations, subject=subject, jobs=jobs
        )

    def referrers(self, subject: str, artifact_type: str | None = None) -> list[dict[str, Any]]:
        """What refers to ``subject`` (an alias or a manifest digest), optionally of one type: one
        dict per referrer with ``digest``, ``mediaType``, ``size``, ``artifactType`` and
        ``annotations``. Uses the registry's referrers API, else the referrers tag schema."""
        store = self._content
        if not isinstance(store, ReferrerLister):
            raise DXFNeedsRegistryError("referrers")
        target = store.resolve(subject)
        return [
            {
                "digest": str(entry.digest),
                "mediaType": entry.media_type,
                "size": entry.size,
                "artifactType": entry.artifact_type,
                "annotations": dict(entry.annotations or {}),
            }
            for entry in store.referrers(target, artifact_type)
        ]


def _chunk_size(value: int | str | None) -> int | None:
    """python-dxf passed ``DXF_CHUNK_SIZE`` through as a string and crashed; accept both."""
    if value is None or value == "":
        return None
    size = int(value)
    if size <= 0:
        raise ValueError(f"chunk size must be positive, got {size}")
    return size
