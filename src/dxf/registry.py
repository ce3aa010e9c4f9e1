"""The distribution API of one registry host: URLs, authentication round trips, status mapping.

Every URL is built here, one function per endpoint of the OCI distribution spec ("Endpoints" table,
end-1 to end-13), from a validated repository name and a :class:`~dxf.digest.Digest` or validated tag.
Every request goes through :meth:`Registry.request`, which looks up what its answer means in
:mod:`dxf.statuses` (the one place statuses are read) and raises for the answers that are errors.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import requests

from . import statuses
from .auth import AuthState, scope_key
from .digest import Digest
from .exceptions import DXFAuthInsecureError, DXFProtocolError, DXFSecurityError, DXFUnauthorizedError
from .limits import MAX_PAGE_SIZE, read_capped
from .reference import validate_repository, validate_tag
from .transport import Body, Transport, check_followable, same_origin

#: Called with a 401 response; returns after (perhaps) authenticating so the request can be retried.
UnauthorizedHook = Callable[[requests.Response], None]

_LINK_RE = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


def reference_part(reference: str | Digest) -> str:
    """A manifest reference for a URL: a digest, or a tag checked against the spec's tag grammar."""
    if isinstance(reference, Digest):
        return str(reference)
    if ":" in reference:
        return str(Digest.parse(reference))
    return validate_tag(reference)


class Registry:
    """One registry host (``host[:port]``): thread-safe, shared by every repository client on it."""

    def __init__(
        self,
        host: str,
        *,
        insecure: bool,
        transport: Transport,
        auth: AuthState | None = None,
    ) -> None:
        self.host = host
        self.insecure = insecure
        self.transport = transport
        self.auth = auth or AuthState()
        self.base_url = f"{'http' if insecure else 'https'}://{host}/v2/"

    # -- URL builders (OCI distribution spec, "Endpoints") ---------------------------------------
    def url(self, path: str = "") -> str:
        return self.base_url + path

    def blob_url(self, repo: str, digest: Digest) -> str:  # end-2, end-10
        return self.url(f"{validate_repository(repo)}/blobs/{digest}")

    def upload_start_url(self, repo: str, **params: str) -> str:  # end-4a/4b, end-11
        query = f"?{urlencode(params)}" if params else ""
        return self.url(f"{validate_repository(repo)}/blobs/uploads/{query}")

    def manifest_url(self, repo: str, reference: str | Digest) -> str:  # end-3, end-7, end-9
        return self.url(f"{validate_repository(repo)}/manifests/{quote(reference_part(reference), safe=':')}")

    def referrers_url(self, repo: str, digest: Digest, artifact_type: str | None = None) -> str:  # end-12a/b
        query = f"?{urlencode({'artifactType': artifact_type})}" if artifact_type else ""
        return self.url(f"{validate_repository(repo)}/referrers/{digest}{query}")

    def tags_url(self, repo: str) -> str:  # end-8a/8b
        return self.url(f"{validate_repository(repo)}/tags/list")

    def catalog_url(self) -> str:  # not in the OCI spec; distribution's /v2/_catalog
        return self.url("_catalog")

    def resolve_location(self, current: str, location: str) -> str:
        """An upload ``Location`` made absolute and checked: same origin, no downgrade, since our
        ``Authorization`` goes there (OCI distribution spec: the location may be relative)."""
        target = urljoin(current, location)
        check_followable(current, target, carries_credentials=True)
        return target

    @staticmethod
    def with_query(url: str, **params: str) -> str:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))

    # -- the one request function ----------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        repo: str | None,
        on_unauthorized: UnauthorizedHook | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        body: Body = None,
        stream: bool = False,
        answers: statuses.Answers = statuses.SUCCESS,
        retry: bool = True,
        blob_read: bool = False,
    ) -> requests.Response:
        """Send a request with this host's credentials; answer one 401 by authenticating; map errors.

        ``answers`` (an endpoint of :mod:`dxf.statuses`) says which answers the caller handles
        (default: any 2xx); the rest raise :func:`~dxf.statuses.error_for_response`. A 401 that
        survives re-authentication raises :class:`DXFUnauthorizedError`. ``body`` should be bytes or
        a factory when a 401 is possible, so it can be sent again after authenticating. ``retry=False``
        turns off the transport's own retries (see :meth:`Transport.send`); ``blob_read`` lets a
        blob GET/HEAD follow a redirect to plain-HTTP storage (see :mod:`dxf.transport`).
        """
        key = scope_key(repo, method)
        header = self._authorization(key, challenged=False)
        response = self._send(method, url, header, headers, params, body, stream, retry, blob_read)
        if response.status_code == statuses.UNAUTHORIZED:
            try:
                if on_unauthorized is not None:
                    on_unauthorized(response)
                new_header = self._authorization(key, challenged=True)
            except BaseException:
                response.close()
                raise
            if new_header != header:
                response.close()
                if body is not None and not isinstance(body, bytes) and not callable(body):
                    raise DXFUnauthorizedError(response)
                response = self._send(
                    method, url, new_header, headers, params, body, stream, retry, blob_read
                )
        if not answers.accepts(response):
            error = statuses.error_for_response(response)
            response.close()
            raise error
        return response

    def _authorization(self, key: str, *, challenged: bool) -> str | None:
        """The ``Authorization`` value for a request of scope class ``key``.

        Over plain HTTP (``insecure``) no credential ever goes on the wire, where anyone on the path
        could read and replay it: requests go out anonymously, and once the registry has challenged
        one, holding a credential to answer with (a token, a user and password, a ready header, what
        an auth callback set up) raises :class:`DXFAuthInsecureError`, as python-dxf's
        ``authenticate`` does. Anonymous access to a plain-HTTP registry keeps working.
        """
        if not self.insecure:
            return self.auth.header_for(key, self.transport)
        if challenged and self.auth.holds_credential():
            raise DXFAuthInsecureError()
        return None

    def _send(
        self,
        method: str,
        url: str,
        authorization: str | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        body: Body,
        stream: bool,
        retry: bool,
        blob_read: bool = False,
    ) -> requests.Response:
        merged = dict(headers or {})
        if authorization:
            merged["Authorization"] = authorization
        return self.transport.send(
            method,
            url,
            headers=merged,
            params=params,
            body=body,
            stream=stream,
            retry=retry,
            blob_read=blob_read,
        )

    # -- pagination ------------------------------------------------------------------------------
    def pages(
        self,
        url: str,
        key: str,
        *,
        repo: str | None,
        on_unauthorized: UnauthorizedHook | None,
        batch_size: int | None,
    ) -> Iterator[list[Any]]:
        """Follow ``Link: <...>; rel="next"`` through every page, yielding each page's ``body[key]``.

        One page is requested only when the previous one has been consumed, and nothing of it is
        kept afterwards, so a listing of any length holds one page at a time (each read up to
        :data:`~dxf.limits.MAX_PAGE_SIZE`). Next links are resolved against the current page and
        must stay on the registry's origin; one back to a page already read raises
        :class:`DXFProtocolError` before that page is read again (it would loop forever).
        """
        next_url: str | None = self.with_query(url, n=str(batch_size)) if batch_size else url
        trail = PageTrail()
        while next_url:
            trail.add(next_url)
            response = self.request("GET", next_url, repo=repo, on_unauthorized=on_unauthorized, stream=True)
            body = _json_page(read_capped(response, MAX_PAGE_SIZE, "a tag or catalog page"))
            link = response.headers.get("Link")
            del response  # the page's bytes go now, not when the next page has arrived
            page = body.get(key) if isinstance(body, dict) else None
            del body
            yield page if isinstance(page, list) else []
            del page
            next_url = self.next_link(next_url, link)
            if next_url is not None and next_url in trail:
                raise DXFProtocolError("the registry's next-page link points back to a page already read")

    def paginate(
        self,
        url: str,
        key: str,
        *,
        repo: str | None,
        on_unauthorized: UnauthorizedHook | None,
        batch_size: int | None,
    ) -> Iterator[str]:
        """The items of every page of :meth:`pages`, one by one."""
        for page in self.pages(url, key, repo=repo, on_unauthorized=on_unauthorized, batch_size=batch_size):
            yield from page

    @staticmethod
    def next_link(current: str, link: str | None) -> str | None:
        """The ``rel="next"`` target of a ``Link`` header, resolved against ``current``; another origin
        is refused (:class:`DXFSecurityError`)."""
        if not link:
            return None
        match = _LINK_RE.search(link)
        if not match:
            return None
        target: str = urljoin(current, match.group(1))
        if not same_origin(current, target):
            raise DXFSecurityError("refusing a pagination link to another origin")
        return target


class PageTrail:
    """The pages a listing has read, to stop a ``Link`` that leads back to one of them.

    It keeps a 16-byte BLAKE2b digest of each page's URL, not the URL, so it costs a fixed
    ~100 bytes a page however long the server makes its links: a listing of a million names
    in pages of 100 (10,000 pages) keeps about 1 MB here. A constant-memory cycle finder (Floyd's
    or Brent's) was the alternative; it notices a loop only after walking it again, so the names
    of the repeated pages would be printed twice before the error, which this trail never does.
    """

    def __init__(self) -> None:
        self._seen: set[bytes] = set()

    @staticmethod
    def _key(url: str) -> bytes:
        return hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def add(self, url: str) -> None:
        self._seen.add(self._key(url))

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and self._key(url) in self._seen

    def __len__(self) -> int:
        return len(self._seen)


def _json_page(content: bytes) -> Any:
    """A tag or catalog page's JSON; one that is not JSON is a protocol error, not a traceback."""
    try:
        return json.loads(content)
    except (ValueError, RecursionError) as error:
        raise DXFProtocolError(f"a tag or catalog page is not JSON: {error}") from None
