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
  request with the whole blob (200).
"""

from __future__ import annotations

import gzip
import hashlib
from http.server import BaseHTTPRequestHandler

from harness.loopback import LoopbackServer, ReadHandler

__all__ = ["BEHAVIOURS", "BlobServer"]

BEHAVIOURS = ("gzip", "chunked", "forever", "plain", "claims-ranges")
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
