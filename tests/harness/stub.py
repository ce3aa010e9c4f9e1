"""A tiny loopback HTTP server for protocol cases the real registry cannot produce.

Each test gives it an ``answer`` function that turns a recorded :class:`StubRequest` into a
:class:`Reply`; every request (method, path, headers, body) is kept in :attr:`StubServer.seen`, so a
test can assert what went on the wire (e.g. that no ``Authorization`` header ever did). Reply bodies
may be iterables, streamed with ``Transfer-Encoding: chunked`` when no ``Content-Length`` is given,
so a test can serve far more bytes than it ever holds; a client that hangs up mid-body is expected.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from harness.loopback import LoopbackServer, QuietHandler


@dataclass(frozen=True)
class StubRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""


Answer = Callable[[StubRequest], Reply]


class StubServer(LoopbackServer):
    """``with StubServer(answer) as server:`` serves on ``server.host`` (``127.0.0.1:<port>``); with
    ``tls=(certificate, key)`` (e.g. the harness PKI's server pair) over HTTPS."""

    def __init__(self, answer: Answer, tls: tuple[str, str] | None = None) -> None:
        self.seen: list[StubRequest] = []
        self._lock = threading.Lock()
        super().__init__(self._handler_class(answer), tls)

    def headers_seen(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive) the server received."""
        with self._lock:
            return [v for r in self.seen for k, v in r.headers.items() if k.lower() == name.lower()]

    def _handler_class(self, answer: Answer) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(QuietHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = StubRequest(self.command, self.path, dict(self.headers.items()), body)
                with stub._lock:
                    stub.seen.append(request)
                self._reply(answer(request))

            def _reply(self, reply: Reply) -> None:
                self.send_response(reply.status)
                headers = dict(reply.headers)
                body = reply.body
                if isinstance(body, bytes):
                    headers.setdefault("Content-Length", str(len(body)))
                elif "Content-Length" not in headers:
                    headers["Transfer-Encoding"] = "chunked"
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command == "HEAD":
                    return
                try:
                    if isinstance(body, bytes):
                        self.wfile.write(body)
                        return
                    chunked = headers.get("Transfer-Encoding") == "chunked"
                    for chunk in body:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                    if chunked:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    self.close_connection = True  # the client stopped reading: expected

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        return Handler
