"""Caps on what we read from a registry into memory, and the one function that enforces them.

Manifests, tag and catalog pages and token answers are read whole (they are JSON), so a hostile or
broken server could otherwise make us hold any amount of data. Each body is read in pieces up to its
cap plus one byte and refused past it; a ``Content-Length`` above the cap is refused before reading.
The manifest cap, :data:`dxf.manifest.MAX_MANIFEST_SIZE` (4 MiB), is also the one for standard input.
"""

from __future__ import annotations

import requests

from .exceptions import DXFProtocolError

#: The largest tag or catalog page we read: about 100 000 names, where registries page at 100-1000.
MAX_PAGE_SIZE = 4 * 1024 * 1024
#: The largest token server answer we read (a JSON object holding a JWT of a few KiB).
MAX_TOKEN_RESPONSE_SIZE = 1024 * 1024
_PIECE = 64 * 1024


def header_int(value: str | None) -> int | None:
    """A non-negative whole number a server sent in a header (``Content-Length``, a ``Range`` end,
    ``OCI-Chunk-Min-Length``), or None when absent or not plain ASCII digits: ``str.isdigit`` alone
    accepts "²" and other Unicode digits, which ``int`` then refuses with a ``ValueError``."""
    if value and value.isascii() and value.isdigit():
        return int(value)
    return None


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
