"""What every HTTP status a registry or token server may send means to dxf: the one place they are read.

How to find where a status is handled: find the request's endpoint in the table below (each entry
names its row of the OCI distribution spec's "Endpoints" table, end-1 to end-13, or the Docker
token spec), and read its :class:`Answers`. A status listed there has a named :class:`Outcome`
that the caller branches on; a status that is not listed is an error and becomes an exception in
:func:`error_for_response` (401 :class:`~dxf.exceptions.DXFUnauthorizedError`, 404
:class:`~dxf.exceptions.DXFNotFoundError`, anything else :class:`~dxf.exceptions.DXFHTTPError`).
Three rules hold for every endpoint and are applied before the table is consulted:

* :data:`RETRY` (408, 429, 500, 502, 503, 504) is tried again by the transport
  (:meth:`dxf.transport.Transport.send`) and resumed by transfers (:func:`dxf.transfer.is_resumable`);
* :data:`UNAUTHORIZED` (401) is answered once by authenticating, in :meth:`dxf.registry.Registry.request`;
* redirects (3xx with a ``Location``) are followed by the transport; :func:`method_after_redirect`
  says which of them turn the request into a GET (RFC 9110 15.4).

The command line maps the resulting exceptions to exit codes (``dxf.cli_errors``); it reads a
status only to choose an exit code and a hint, never to decide what a request meant.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import requests

from .exceptions import DXFError, DXFHTTPError, DXFNotFoundError, DXFUnauthorizedError, describe_response
from .limits import read_error_body

#: Statuses worth retrying: request timeout, throttling, and transient server failures (RFC 9110
#: 15.5.9, RFC 6585 4, RFC 9110 15.6.1/15.6.3-15.6.5).
RETRY = frozenset({408, 429, 500, 502, 503, 504})
#: The registry wants credentials (RFC 9110 15.5.2); its ``WWW-Authenticate`` says which.
UNAUTHORIZED = 401
_NOT_FOUND = 404


class Outcome(enum.Enum):
    """What an answer means, named so that callers never compare status codes."""

    DONE = "the request did what was asked"
    PRESENT = "the blob or manifest exists"
    ABSENT = "the blob or manifest does not exist"
    PARTIAL = "the requested range of the blob follows"
    NOTHING_LEFT = "the range starts at the blob's end: nothing is left to read"
    OPENED = "an upload session was opened"
    MOUNTED = "the blob was mounted from the other repository"
    RANGE_REFUSED = "the upload session does not hold what the Content-Range assumed"
    PATCH_UNSUPPORTED = "the registry takes no chunked (PATCH) uploads"
    SESSION_GONE = "the registry no longer knows the upload session"
    UNSUPPORTED = "the registry does not offer this operation"
    CHANGED_SINCE = "the content changed since it was read (a failed If-Match)"
    CHALLENGED = "the registry asks for credentials"
    NO_OAUTH = "the token realm has no OAuth2 (POST) endpoint"
    ERROR = "an error: raise error_for_response"


@dataclass(frozen=True)
class Answers:
    """The answers one endpoint may give and what each means.

    ``meanings`` names single statuses; any other status below ``success_below`` (300: any 2xx; 0:
    none) is :attr:`Outcome.DONE`; any other 4xx but 401 is ``other_client_error`` when set;
    everything else is :attr:`Outcome.ERROR`.
    """

    request: str
    spec: str
    meanings: Mapping[int, Outcome] = field(default_factory=dict)
    success_below: int = 300
    other_client_error: Outcome | None = None

    def of(self, response: requests.Response) -> Outcome:
        """The meaning of ``response`` for this endpoint."""
        status = response.status_code
        if status in self.meanings:
            return self.meanings[status]
        if 200 <= status < self.success_below:
            return Outcome.DONE
        if self.other_client_error is not None and 400 <= status < 500 and status != UNAUTHORIZED:
            return self.other_client_error
        return Outcome.ERROR

    def accepts(self, response: requests.Response) -> bool:
        """Whether ``response`` is an answer the caller handles (not an error to raise)."""
        return self.of(response) is not Outcome.ERROR


_O = Outcome

# -- the registry (OCI distribution spec v1.1, "Endpoints") ------------------------------------------
SUCCESS = Answers("any request", "any 2xx is success")
API_VERSION = Answers("GET /v2/", "end-1")
#: The answer ``authenticate`` is given (or probes ``/v2/`` for): as in python-dxf, any status below
#: 400 needs no authentication, and anything but that or a challenge raises
#: DXFUnexpectedStatusCodeError(status, 401).
AUTH_PROBE = Answers("GET /v2/ to authenticate", "end-1", {UNAUTHORIZED: _O.CHALLENGED}, 400)
BLOB_PRESENCE = Answers("HEAD /v2/<name>/blobs/<digest>", "end-2", {200: _O.PRESENT, 404: _O.ABSENT}, 0)
BLOB_HEAD = Answers("HEAD /v2/<name>/blobs/<digest> for its size", "end-2")
BLOB_GET = Answers("GET /v2/<name>/blobs/<digest>", "end-2", {206: _O.PARTIAL})
#: With ``Range: bytes=N-`` (RFC 9110 14.2) a server may ignore the range (200: the whole blob
#: follows), send the rest (206), or answer 416 when N is the blob's length.
BLOB_GET_FROM = Answers(
    "GET /v2/<name>/blobs/<digest> with Range",
    "end-2, RFC 9110 15.5.17",
    {206: _O.PARTIAL, 416: _O.NOTHING_LEFT},
)
#: A segment of a blob (``Range: bytes=a-b``, RFC 9110 14.2): 206 brings that range; a 200 (the
#: whole blob) means the server does not honour ranges. See :mod:`dxf.segments`.
BLOB_GET_SEGMENT = Answers(
    "GET /v2/<name>/blobs/<digest> with Range: bytes=a-b", "end-2, RFC 9110 15.3.7", {206: _O.PARTIAL}
)
#: 403 to a blob read that followed a redirect: object stores answer so when a presigned URL has
#: expired before it was used (S3: "Request has expired"); the registry gives a fresh one next time.
_FORBIDDEN = 403
#: 429 Too Many Requests (RFC 6585 4): the host wants every client thread to slow down.
_THROTTLED = 429


def throttles(response: requests.Response) -> bool:
    """Whether the host asks us to slow down (see :class:`dxf.transport.HostBudget`)."""
    return response.status_code == _THROTTLED


def may_be_expired_storage_url(error: BaseException) -> bool:
    """Whether a failed blob read is worth asking the registry again for a fresh storage URL."""
    return getattr(error, "status_code", None) == _FORBIDDEN


MANIFEST_PRESENCE = Answers(
    "HEAD /v2/<name>/manifests/<reference>", "end-3", {200: _O.PRESENT, 404: _O.ABSENT}, 0
)
MANIFEST_GET = Answers("GET or HEAD /v2/<name>/manifests/<reference>", "end-3")
MANIFEST_PUT = Answers("PUT /v2/<name>/manifests/<reference>", "end-7")
#: The same PUT when it replaces a referrers fallback index with ``If-Match`` (RFC 9110 13.1.1): 412
#: means another writer changed the index first, so it is read and merged again.
INDEX_PUT = Answers(
    "PUT /v2/<name>/manifests/<alg>-<hex> with If-Match", "end-7, RFC 9110 15.5.13", {412: _O.CHANGED_SINCE}
)
#: "Listing Referrers": a registry without the referrers API answers 404 (the client then reads
#: the referrers tag schema instead); one with it answers 200 and an image index.
REFERRERS_LIST = Answers("GET /v2/<name>/referrers/<digest>", "end-12a/12b", {404: _O.ABSENT})
MANIFEST_DELETE = Answers("DELETE /v2/<name>/manifests/<digest>", "end-9")
#: "Deleting tags": a registry that does not delete tags answers 400 or 405 (distribution 2.8: 400
#: DIGEST_INVALID); the manifest is then deleted by digest instead.
TAG_DELETE = Answers(
    "DELETE /v2/<name>/manifests/<tag>", "end-9, Deleting tags", {400: _O.UNSUPPORTED, 405: _O.UNSUPPORTED}
)
BLOB_DELETE = Answers("DELETE /v2/<name>/blobs/<digest>", "end-10")
UPLOAD_OPEN = Answers("POST /v2/<name>/blobs/uploads/", "end-4a", {201: _O.OPENED, 202: _O.OPENED}, 0)
#: A mount the registry cannot do opens an ordinary upload instead (202), which the caller cancels.
MOUNT = Answers("POST /v2/<name>/blobs/uploads/?mount=&from=", "end-11", {201: _O.MOUNTED, 202: _O.OPENED}, 0)
#: 416: the session holds another length than ``Content-Range`` assumed (spec: "out of order");
#: 400/405/501: the registry takes whole-blob uploads only.
UPLOAD_PATCH = Answers(
    "PATCH <upload location>",
    "end-5",
    {
        202: _O.DONE,
        416: _O.RANGE_REFUSED,
        400: _O.PATCH_UNSUPPORTED,
        405: _O.PATCH_UNSUPPORTED,
        501: _O.PATCH_UNSUPPORTED,
    },
    0,
)
#: 204 with ``Range: 0-<last>``; any other 4xx (but 401): the session is gone.
UPLOAD_STATUS = Answers(
    "GET <upload location>", "end-13", {204: _O.DONE}, 0, other_client_error=_O.SESSION_GONE
)
UPLOAD_CLOSE = Answers("PUT <upload location>?digest=", "end-6", {201: _O.DONE, 204: _O.DONE}, 0)
#: 404: the session is already gone, which is what cancelling wants.
UPLOAD_CANCEL = Answers(
    "DELETE <upload location>", "end-13", {200: _O.DONE, 202: _O.DONE, 204: _O.DONE, 404: _O.DONE}, 0
)
TAGS_LIST = Answers("GET /v2/<name>/tags/list", "end-8a/8b")
CATALOG = Answers("GET /v2/_catalog", "distribution's catalog API")

# -- the token server (Docker token spec; "OAuth2 token authentication") ------------------------------
#: Any status below 400 carries the token (python-dxf used ``response.ok``); the rest are errors.
TOKEN_ANSWER = Answers("GET <realm>?service=&scope=", "Docker token spec, Requesting a token", {}, 400)
#: A realm without the OAuth2 endpoint refuses POST (404, 405); we then use the GET protocol. Any
#: other answer is read as :data:`TOKEN_ANSWER`.
TOKEN_POST = Answers(
    "POST <realm> grant_type=refresh_token",
    "Docker token spec, OAuth2 token authentication",
    {404: _O.NO_OAUTH, 405: _O.NO_OAUTH},
    400,
)


def is_error(response: requests.Response) -> bool:
    """Whether an answer is an error status (4xx, 5xx): its body is only a reason to show, read
    within :data:`~dxf.limits.MAX_ERROR_BODY_SIZE`."""
    return response.status_code >= 400


def method_after_redirect(status: int, method: str) -> str:
    """The method to repeat a redirected request with: 303 always becomes GET, and so do 301/302
    after a POST, as browsers and requests do (RFC 9110 15.4.2-15.4.4); other redirects keep it."""
    if status == 303 or (status in (301, 302) and method == "POST"):
        return "GET"
    return method


def error_for_response(response: requests.Response, what: str | None = None) -> DXFError:
    """The exception for an error answer: 401 :class:`DXFUnauthorizedError` (it survived
    re-authentication), 404 :class:`DXFNotFoundError`, anything else :class:`DXFHTTPError`.

    The message is :func:`~dxf.exceptions.describe_response`'s, prefixed with ``what``; the body is
    read within :data:`~dxf.limits.MAX_ERROR_BODY_SIZE` (past it: the status alone). It never
    includes the URL's query (presigned storage URLs carry secrets there) or any header we sent.
    """
    read_error_body(response)  # now, within its cap, before anything asks for response.content
    if response.status_code == UNAUTHORIZED:
        return DXFUnauthorizedError(response)
    message = describe_response(response)
    if what:
        message = f"{what}: {message}"
    cls = DXFNotFoundError if response.status_code == _NOT_FOUND else DXFHTTPError
    return cls(message, response=response)
