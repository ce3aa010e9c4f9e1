"""Every exception dxf raises, in one tree.

The first group keeps the names, constructor arguments and messages of python-dxf 12.1.1 so that code
written against it catches the same things. The second group is ours; each new class also derives from
the builtin or ``requests`` class that says what kind of failure it is, so callers can catch by intent::

    DXFError
    ├── DXFUnexpectedError(got, expected)
    │   ├── DXFUnexpectedStatusCodeError
    │   ├── DXFDigestMismatchError          (also ValueError)
    │   ├── DXFSizeMismatchError            (also ValueError)          new
    │   ├── DXFUnexpectedKeyTypeError
    │   └── DXFUnexpectedDigestMethodError  (also ValueError)
    ├── DXFDisallowedSignatureAlgorithmError
    ├── DXFSignatureChainNotImplementedError
    ├── DXFUnauthorizedError                 a 401 that survived re-authentication
    ├── DXFAuthInsecureError                 credentials would travel in clear
    ├── DXFDigestNotAvailableForSchema1
    ├── DXFMountFailed
    ├── DXFUnsupportedSchemaType
    ├── DXFPlatformDataNotFound
    ├── DXFHTTPError                         (also requests.HTTPError)  new
    │   ├── DXFNotFoundError                 404: blob, manifest or repository unknown
    │   └── DXFPatchRefusedError             400/405/501 to an upload PATCH past the first
    ├── DXFInvalidReferenceError             (also ValueError)  new: malformed digest, name or tag
    ├── DXFManifestError                     (also ValueError)  new: a manifest we cannot read
    ├── DXFFileChangedError                  new: a file changed while it was being uploaded
    ├── DXFProtocolError                     new: an answer we refuse (a pagination loop, an oversized body)
    │   ├── DXFRangeIgnoredError             a segment's range not honoured (then: one connection)
    │   └── DXFContentRangeError             a 206 whose Content-Range is not the range asked for
    ├── DXFSecurityError                     new: a redirect, upload location or realm we refuse
    ├── DXFSessionLostError                  new: the registry dropped an upload session, retries spent
    ├── DXFTransferCancelledError            new: inside a batch that was abandoned (never escapes it)
    ├── DXFCredentialError                   new: a credentials file or helper we cannot use
    ├── DXFArtifactError                     (also ValueError)  new: an artifact we refuse to build or restore
    ├── DXFReferrersIndexError               new: the referrers fallback index kept being overwritten
    ├── DXFLayoutError                       (also OSError)  new: an OCI layout directory we refuse
    ├── DXFNeedsRegistryError                new: a registry-only call (auth, mount) on an OCI layout
    └── DXFNeedsLayoutError                  new: a layout-only call (gc) on a registry

Which status becomes which exception is decided in :mod:`dxf.statuses`. Connection and TLS failures
are left as ``requests.exceptions.ConnectionError`` / ``SSLError`` (after retries), exactly as
python-dxf lets them through.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests


class DXFError(Exception):
    """Base class of every error dxf raises on purpose."""


class DXFUnexpectedError(DXFError):
    """A value differed from the one expected; ``got`` and ``expected`` hold both."""

    def __init__(self, got: Any, expected: Any) -> None:
        super().__init__()
        self.got = got
        self.expected = expected

    def __str__(self) -> str:
        # python-dxf's base class printed nothing; its subclasses (and ours) say which value it was.
        return f"expected {self.expected}, got {self.got}"


class DXFUnexpectedStatusCodeError(DXFUnexpectedError):
    """The registry answered with a status code we did not expect."""

    def __str__(self) -> str:
        return f"expected status code {self.expected}, got {self.got}"


class DXFDigestMismatchError(DXFUnexpectedError, ValueError):
    """Content did not hash to the digest it was fetched or stored under."""

    def __str__(self) -> str:
        return f"expected digest {self.expected}, got {self.got}"


class DXFSizeMismatchError(DXFUnexpectedError, ValueError):
    """Content was longer or shorter than its descriptor or ``Content-Length`` said."""

    def __str__(self) -> str:
        return f"expected {self.expected} bytes, got {self.got}"


class DXFUnexpectedKeyTypeError(DXFUnexpectedError):
    """A schema 1 signature used a key type we do not verify."""

    def __str__(self) -> str:
        return f"expected key type {self.expected}, got {self.got}"


class DXFUnexpectedDigestMethodError(DXFUnexpectedError, ValueError):
    """A digest named an algorithm other than sha256 or sha512."""

    def __str__(self) -> str:
        return f"expected digest method {self.expected}, got {self.got}"


class DXFDisallowedSignatureAlgorithmError(DXFError):
    """A schema 1 signature used a forbidden algorithm."""

    def __init__(self, alg: str) -> None:
        super().__init__()
        self.alg = alg

    def __str__(self) -> str:
        return f"disallowed signature algorithm: {self.alg}"


class DXFSignatureChainNotImplementedError(DXFError):
    """A schema 1 signature carried a certificate chain."""

    def __str__(self) -> str:
        return "verification with a cert chain is not implemented"


class DXFUnauthorizedError(DXFError):
    """The registry still answered 401 after we authenticated (or had no way to)."""

    def __init__(self, response: requests.Response | None = None) -> None:
        super().__init__()
        self.response = response

    def __str__(self) -> str:
        return "unauthorized"


class DXFAuthInsecureError(DXFError):
    """Authentication was asked for over plain HTTP; we never send credentials in clear."""

    def __str__(self) -> str:
        return "Auth requires HTTPS"


class DXFDigestNotAvailableForSchema1(DXFError):
    """A schema 1 manifest has no configuration blob, so it has no config digest."""

    def __str__(self) -> str:
        return "Schema 1 manifest has no configuration blob"


class DXFMountFailed(DXFError):
    """The registry did not mount the blob from the other repository."""

    def __str__(self) -> str:
        return "Cross repository blob mount failed"


class DXFUnsupportedSchemaType(DXFError):
    """A manifest's media type is not one we can read; ``args[0]`` is the type."""

    def __str__(self) -> str:
        return f'The mediaType "{self.args[0] if self.args else None}" is not supported'


class DXFPlatformDataNotFound(DXFError):
    """A multi-platform alias has no entry for the requested platform."""

    def __init__(self, platform: str) -> None:
        super().__init__()
        self.platform = platform

    def __str__(self) -> str:
        return f"Data not found for platform: {self.platform}"


class DXFHTTPError(DXFError, requests.exceptions.HTTPError):
    """The registry answered with an error status.

    Still a ``requests.exceptions.HTTPError`` with ``.response``, as python-dxf users expect.
    ``errors`` holds the registry's own error list (``[{"code": ..., "message": ...}]``) when the
    body carried one, so messages can say *why* (``BLOB_UNKNOWN``, ``NAME_UNKNOWN``...).
    """

    def __init__(self, message: str, response: requests.Response | None = None) -> None:
        super().__init__(message, response=response)
        self.status_code = response.status_code if response is not None else 0
        self.errors: list[dict[str, Any]] = _registry_errors(response)


class DXFNotFoundError(DXFHTTPError):
    """404: the blob, manifest, alias or repository does not exist."""


class DXFPatchRefusedError(DXFHTTPError):
    """The registry refused an upload ``PATCH`` as a kind of request it does not take (400, 405,
    501). On an upload's first ``PATCH`` this means "send the blob in one ``PUT``", and dxf does;
    it escapes only when a registry that took earlier chunks refuses a later one."""


class DXFInvalidReferenceError(DXFError, ValueError):
    """A digest, repository name or alias is malformed; raised before it reaches a URL or a path."""


class DXFManifestError(DXFError, ValueError):
    """A manifest is not JSON, or lacks the fields its media type requires."""


class DXFFileChangedError(DXFError):
    """A file changed (size, times or content) while it was being uploaded.

    The upload is abandoned before the registry completes it, so no blob made of old and new bytes
    is stored and no alias is set; ``filename`` names the file.
    """

    def __init__(self, filename: str) -> None:
        super().__init__(filename)
        self.filename = filename

    def __str__(self) -> str:
        return f"file changed during upload: {self.filename}"


class DXFProtocolError(DXFError):
    """A registry's (or token server's) answer that we refuse to follow or to hold in memory: a
    pagination ``Link`` back to a page already seen, or a manifest or JSON body over its size cap."""


class DXFSecurityError(DXFError):
    """We refused to follow a location that would leak credentials or downgrade to plain HTTP."""


class DXFSessionLostError(DXFError):
    """The registry no longer holds a usable upload session (it dropped it, or cannot say how much
    it holds). A file upload then starts again in a new session, a bounded number of times; this
    escapes when those are spent."""


class DXFRangeIgnoredError(DXFProtocolError):
    """A ranged GET of a blob segment came back without that range: the server does not honour
    ranges. Caught inside a download, which then fetches the rest over one connection."""


class DXFContentRangeError(DXFProtocolError):
    """A ranged GET of a blob came back 206 with a ``Content-Range`` that is not the range asked for
    (another start, another end, a total that is not the blob's) or not a byte range at all.
    Nothing of that answer is written; a resumable download keeps the part file it had, which the
    next ``--resume`` continues."""


class DXFTransferCancelledError(DXFError):
    """Raised inside a transfer whose batch was abandoned (a sibling failed, or Ctrl-C): stop at once.

    Never reaches the caller of a batch: :func:`dxf.parallel.run_all` raises the failure that caused
    the cancellation instead.
    """


class DXFCredentialError(DXFError):
    """A Docker/podman credentials file we cannot read or write, or a credential helper that is
    missing, fails, hangs or answers nonsense. The message never contains a secret."""


class DXFLayoutError(DXFError, OSError):
    """An OCI layout directory dxf will not use: another layout version, a symlink inside it, an
    ``index.json`` that is not an index."""


class DXFNeedsRegistryError(DXFError):
    """A call that only a registry can answer (a token, an HTTP response, a mount) on an OCI layout."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs a registry: an OCI layout (oci:PATH) has no server to ask")


class DXFNeedsLayoutError(DXFError):
    """A call that only an OCI layout can answer (``gc``) on a registry."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} works on OCI layouts only (DXF_HOST=oci:PATH): a registry collects its own garbage"
        )


def _registry_errors(response: requests.Response | None) -> list[dict[str, Any]]:
    """The ``errors`` array of a distribution-spec error body, or ``[]`` when there is none.

    The body is read within :data:`dxf.limits.MAX_ERROR_BODY_SIZE` (a hostile server may send any
    amount); one cut off at that cap is not parsed, so the error says its status only.
    """
    from .limits import error_body_complete, read_error_body  # limits imports this module

    if response is None:
        return []
    content = read_error_body(response)
    if not content or not error_body_complete(content):
        return []
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type:
        return []
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [e for e in errors if isinstance(e, dict)]


#: How much of one registry error message is shown, and how many of its messages: a hostile or broken
#: registry can send megabytes, and a message is meant to be one readable line.
MAX_DETAIL_CHARS = 200
MAX_DETAILS = 3
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str, limit: int) -> str:
    """``text`` safe to show on a terminal: control characters escaped (``\\x1b``), at most ``limit``
    characters (``…`` marks a cut). Text from a registry must never drive the user's terminal."""
    escaped = _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def describe_response(response: requests.Response) -> str:
    """``404 Not Found (blob unknown to registry)``: status, reason and the registry's own messages,
    escaped and cut short (see :func:`printable`)."""
    message = f"{response.status_code} {printable(response.reason or '', MAX_DETAIL_CHARS)}".strip()
    errors = _registry_errors(response)
    details = [printable(str(e.get("message") or e.get("code")), MAX_DETAIL_CHARS) for e in errors]
    if len(details) > MAX_DETAILS:
        details = [*details[:MAX_DETAILS], f"and {len(details) - MAX_DETAILS} more"]
    if details:
        message += f" ({'; '.join(details)})"
    return message


def error_for_response(response: requests.Response, what: str | None = None) -> DXFError:
    """The exception for an error response; see :func:`dxf.statuses.error_for_response`, where
    statuses are interpreted (this name stays for callers that import it from here)."""
    from .statuses import error_for_response as for_response  # statuses imports this module

    return for_response(response, what)


class DXFArtifactError(DXFError, ValueError):
    """An artifact dxf refuses to build or to restore: a layer title that is absolute, contains
    ``..`` or leads out of the output directory (through a symlink, too), two layers with one title,
    a tar member that would land outside its directory, a malformed ``--annotation``. Nothing is
    written when this is raised."""


class DXFReferrersIndexError(DXFError):
    """The referrers fallback index (the ``<alg>-<hex>`` tag) could not be brought to hold the change
    within a bounded number of read-merge-write rounds, because other writers kept replacing it."""
