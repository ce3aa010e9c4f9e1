"""A blob response's body read straight from the connection into a few reused buffers.

Why: through urllib3 (``iter_content``, ``raw.read(n)``) every piece of a body is a new ``bytes``
object: a fresh allocation, a copy out of http.client's buffer and a dozen Python calls per read.
For the body of a blob GET that is plain bytes of a declared length (no ``Content-Encoding``, no
chunked framing) none of that does anything, so :class:`DirectBody` has the standard library's
``http.client.HTTPResponse.readinto`` fill the same few buffers over and over. Anything else (a
proxy that compressed the body, chunked framing, no ``Content-Length``) keeps urllib3's path, which
decodes it.

Reading past urllib3 means doing what it would do: a broken or stalled connection is raised as the
``requests`` exception urllib3's path raises (so retries and messages stay the same), and the
connection goes back to the pool only when the body was read to its end.
"""

from __future__ import annotations

import http.client

import requests

from .limits import header_int


def direct_stream(response: requests.Response) -> http.client.HTTPResponse | None:
    """The standard library response under ``response`` when its body can be read from it
    directly: identity encoding, a ``Content-Length``, no chunked framing, nothing read ahead by
    urllib3. ``None`` otherwise (the caller keeps urllib3's path)."""
    raw = response.raw
    stream = getattr(raw, "_fp", None)  # urllib3 2.x keeps the http.client response here
    if not isinstance(stream, http.client.HTTPResponse) or stream.chunked or stream.length is None:
        return None
    if len(getattr(raw, "_decoded_buffer", b"")) != 0:  # urllib3 holds bytes it already read
        return None
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity") or header_int(response.headers.get("Content-Length")) is None:
        return None
    return stream


class DirectBody:
    """The body of ``response`` (see :func:`direct_stream`) read into ``count`` buffers of ``size``
    bytes, used in turn: a view :meth:`read` returns stays valid until ``count`` more reads."""

    def __init__(self, response: requests.Response, stream: http.client.HTTPResponse, size: int, count: int):
        self._response = response
        self._stream = stream
        self._buffers = [memoryview(bytearray(size)) for _ in range(count)]
        self._next = 0

    def read(self, limit: int) -> memoryview:
        """The next piece of at most ``limit`` bytes (and at most a buffer); empty at the end of the
        body. A connection that breaks or stalls raises what urllib3's path raises."""
        buffer = self._buffers[self._next]
        self._next = (self._next + 1) % len(self._buffers)
        expected = self._stream.length
        try:
            count = self._stream.readinto(buffer[:limit])
        except TimeoutError as error:  # socket.timeout: DXF_TIMEOUT passed with no data
            raise requests.exceptions.ConnectionError(f"Read timed out: {error}") from error
        except (OSError, http.client.HTTPException) as error:
            raise requests.exceptions.ConnectionError(f"Connection broken: {error!r}") from error
        if count == 0 and limit > 0 and expected:
            # http.client returns 0 at a premature end of a body of known length, where urllib3 raises
            raise requests.exceptions.ChunkedEncodingError(
                f"Connection broken: IncompleteRead: the body ended {expected} bytes early"
            )
        return buffer[:count]

    def finish(self) -> None:
        """Give the connection back to the pool if the body was read to its end (http.client
        closes its side then); otherwise it is closed with the response."""
        if self._stream.isclosed():
            self._response.raw.release_conn()
