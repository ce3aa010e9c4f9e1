"""A tiny stand-in for a registry that serves one blob the way odd or hostile servers do.

``BlobServer(blob, behaviour)`` listens on a free port of 127.0.0.1 (plain HTTP), answers ``GET /v2/``
with 200 and serves ``blob`` at ``/v2/<any repo>/blobs/<its digest>`` (GET and HEAD); everything else
is 404. It records the headers of every request it receives (``seen``). Behaviours:

* ``gzip``: compresses the body with ``Content-Encoding: gzip`` whatever the client asked for (a
  compressing proxy); ``Content-Length`` counts the compressed bytes;
* ``chunked``: ``Transfer-Encoding: chunked`` and no ``Content-Length``, on GET and on HEAD;
* ``forever``: chunked, the blob and then zeros without end, until the client goes away;
* ``plain``: an ordinary answer with ``Content-Length``;
* ``claims-ranges``: like ``plain``, and says ``Accept-Ranges: bytes``, yet answers every ``Range``
  request with the whole blob (200);
* ``one-range``: a server that stops honouring ranges midway: the first ``Range`` request gets its
  206, every later one the whole blob (200, as ``claims-ranges``). A GET without ``Range`` says
  ``Accept-Ranges: bytes``, sends its first :data:`HELD_AFTER` bytes and then waits until a range has
  been ignored, then closes the connection: the order of events is the server's, not the client's
  timing.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from http.server import BaseHTTPRequestHandler

from harness.loopback import LoopbackServer, ReadHandler

__all__ = ["BEHAVIOURS", "BlobServer"]

BEHAVIOURS = ("gzip", "chunked", "forever", "plain", "claims-ranges", "one-range")
#: Bytes a ``one-range`` server sends of a GET without ``Range`` before it waits.
HELD_AFTER = 3 * 1024 * 1024 // 2
_PIECE = 64 * 1024


class BlobServer(LoopbackServer):
    """One blob behind a misbehaving HTTP server; use as a context manager."""

    def __init__(self, blob: bytes, behaviour: str) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; expected one of {BEHAVIOURS}")
        self.blob = blob
        self.behaviour = behaviour
        self.digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        #: (method, path, headers) of every request, in order of arrival.
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        #: ``one-range``: ranges honoured so far, and set once one has been ignored.
        self.ranges_honoured = 0
        self.range_ignored = threading.Event()
        self._lock = threading.Lock()
        super().__init__(self._handler())

    def blob_requests(self) -> list[tuple[str, dict[str, str]]]:
        """(method, headers) of the requests for the blob."""
        return [(method, headers) for method, path, headers in self.seen if "/blobs/" in path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(ReadHandler):
            seen = server.seen

            def answer(self, *, body: bool) -> None:
                if self.path == "/v2/":
                    self._send_plain(200, b"{}")
                elif self.path.endswith(f"/blobs/{server.digest}"):
                    self._send_blob(body)
                else:
                    self._send_plain(404, b"")

            def _send_plain(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _send_blob(self, body: bool) -> None:
                behaviour = server.behaviour
                if behaviour == "one-range" and body:
                    self._send_one_range()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if behaviour in ("chunked", "forever"):
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    if body:
                        self._send_chunked(endless=behaviour == "forever")
                    return
                payload = gzip.compress(server.blob) if behaviour == "gzip" else server.blob
                if behaviour == "gzip":
                    self.send_header("Content-Encoding", "gzip")
                if behaviour == "claims-ranges":
                    self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if body:
                    self.wfile.write(payload)

            def _send_one_range(self) -> None:
                asked = self.headers.get("Range")
                with server._lock:
                    honour = asked is not None and server.ranges_honoured == 0
                    server.ranges_honoured += honour
                if honour:
                    assert asked is not None
                    first, _, last = asked.removeprefix("bytes=").partition("-")
                    start, end = int(first), (int(last) + 1 if last else len(server.blob))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(server.blob)}")
                    self.send_header("Content-Length", str(end - start))
                    self.end_headers()
                    self.wfile.write(server.blob[start:end])
                    return
                self.send_response(200)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(server.blob)))
                self.end_headers()
                if asked is not None:
                    server.range_ignored.set()
                    self.wfile.write(server.blob)
                    return
                self.wfile.write(server.blob[:HELD_AFTER])
                self.wfile.flush()
                server.range_ignored.wait(timeout=30)
                self.close_connection = True

            def _send_chunked(self, *, endless: bool) -> None:
                def chunk(data: bytes) -> None:
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

                try:
                    for start in range(0, len(server.blob), _PIECE):
                        chunk(server.blob[start : start + _PIECE])
                    while endless:
                        chunk(bytes(_PIECE))
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        return Handler
