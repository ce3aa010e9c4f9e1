"""Caps on what we read from a registry into memory, and the one function that enforces them.

Manifests, tag and catalog pages and token answers are read whole (they are JSON), so a hostile or
broken server could otherwise make us hold any amount of data. Each body is read in pieces up to its
cap plus one byte and refused past it; a ``Content-Length`` above the cap is refused before reading.
The manifest cap, :data:`dxf.manifest.MAX_MANIFEST_SIZE` (4 MiB), is also the one for standard input.

Error bodies are read only to show the registry's reason, so they get a smaller cap and are never
refused: past :data:`MAX_ERROR_BODY_SIZE` the error keeps its status and drops the details. The
answers to requests whose body nobody streams (uploads, deletes, the ``/v2/`` probe) carry at most
a small JSON object and are read within :data:`MAX_ANSWER_SIZE` (by :mod:`dxf.transport`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import requests

from .exceptions import DXFProtocolError

#: The largest tag or catalog page we read: about 100 000 names, where registries page at 100-1000.
MAX_PAGE_SIZE = 4 * 1024 * 1024
#: The largest token server answer we read (a JSON object holding a JWT of a few KiB).
MAX_TOKEN_RESPONSE_SIZE = 1024 * 1024
#: The most of an error body we read (a registry's ``{"errors": [...]}`` is well under 1 KiB); a
#: longer one is cut off there and its details are not shown.
MAX_ERROR_BODY_SIZE = 64 * 1024
#: The largest success answer we read to a request whose caller does not stream the body.
MAX_ANSWER_SIZE = 4 * 1024 * 1024
_PIECE = 64 * 1024
#: ``Content-Range: bytes first-last/complete-length`` (RFC 9110 14.4), the length possibly ``*``.
_CONTENT_RANGE_RE = re.compile(r"bytes ([0-9]+)-([0-9]+)/([0-9]+|\*)")


class ContentRange(NamedTuple):
    """A ``Content-Range`` a 206 answer sent: bytes ``first`` to ``last`` (inclusive) of a
    representation ``total`` bytes long (None: the server did not say, ``*``)."""

    first: int
    last: int
    total: int | None


def header_int(value: str | None) -> int | None:
    """A non-negative whole number a server sent in a header (``Content-Length``, a ``Range`` end,
    ``OCI-Chunk-Min-Length``), or None when absent or not plain ASCII digits: ``str.isdigit`` alone
    accepts "²" and other Unicode digits, which ``int`` then refuses with a ``ValueError``."""
    if value and value.isascii() and value.isdigit():
        return int(value)
    return None


def content_range(value: str | None) -> ContentRange | None:
    """The byte range a ``Content-Range`` header names, or None when it is absent or not a
    well-formed satisfied byte range (``first <= last < total``)."""
    match = _CONTENT_RANGE_RE.fullmatch((value or "").strip())
    if match is None:
        return None
    first, last = int(match.group(1)), int(match.group(2))
    total = None if match.group(3) == "*" else int(match.group(3))
    if last < first or (total is not None and last >= total):
        return None
    return ContentRange(first, last, total)


def read_capped(response: requests.Response, limit: int, what: str) -> bytes:
    """The body of a ``stream=True`` response, at most ``limit`` bytes (decoded), else
    :class:`DXFProtocolError`. Afterwards ``response.content`` and ``response.json()`` work as
    usual, so a response handed to a python-dxf caller behaves as a non-streamed one."""
    declared = header_int(response.headers.get("Content-Length"))
    if declared is not None and declared > limit:
        response.close()
        raise _too_large(what, limit, f"it declares {declared} bytes")
    body = bytearray()
    for piece in response.iter_content(_PIECE):
        body += piece
        if len(body) > limit:
            response.close()
            raise _too_large(what, limit, "it is longer")
    content = bytes(body)
    response._content = content  # what requests itself stores once a body is read
    return content


def _too_large(what: str, limit: int, detail: str) -> DXFProtocolError:
    shown = f"{limit // 1024 // 1024} MiB" if limit % (1024 * 1024) == 0 else f"{limit // 1024} KiB"
    return DXFProtocolError(f"refusing {what}: the limit is {shown} and {detail}")


def read_error_body(response: requests.Response) -> bytes:
    """The start of an error answer's body: all of it when it has at most
    :data:`MAX_ERROR_BODY_SIZE` bytes, else the first ``MAX_ERROR_BODY_SIZE + 1`` (so a caller can
    tell it was cut: see :func:`error_body_complete`), with the connection closed on the rest.

    Safe to call more than once and on a response already read (or closed); never raises: a body
    that breaks off mid-way is kept as far as it came, since the status alone is the error.
    """
    stored: object = response._content  # False until read (requests' own marker)
    if stored is not False:  # read already: by requests, read_capped or an earlier call
        return bytes(response._content or b"")
    if response.raw is None:  # a response made up by hand (as requests' own content says: no body)
        return b""
    body = bytearray()
    complete = False
    try:
        for piece in response.iter_content(_PIECE):
            body += piece
            if len(body) > MAX_ERROR_BODY_SIZE:
                break
        else:
            complete = True
    except (requests.exceptions.RequestException, OSError, ValueError):
        pass
    if not complete:
        response.close()
    content = bytes(body[: MAX_ERROR_BODY_SIZE + 1])
    response._content = content
    return content


def error_body_complete(content: bytes) -> bool:
    """Whether ``content`` (from :func:`read_error_body`) is a whole error body, not one cut at the cap."""
    return len(content) <= MAX_ERROR_BODY_SIZE
