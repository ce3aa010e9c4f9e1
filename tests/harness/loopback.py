"""What the harness's small HTTP servers share: a threaded server on a free loopback port.

:class:`LoopbackServer` serves from a daemon thread from construction until :meth:`~LoopbackServer.close`
(or the end of its ``with`` block); :class:`QuietHandler` is the request handler base that speaks
HTTP/1.1 (keep-alive, as registries do) and keeps the test output free of access logs, and
:class:`ReadHandler` one for servers that answer GET and HEAD and record what they were sent.
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar

__all__ = ["LoopbackServer", "QuietHandler", "ReadHandler"]

T = TypeVar("T", bound="LoopbackServer")


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ReadHandler(QuietHandler):
    """For servers that only serve reads: GET and HEAD are recorded in ``seen`` as (method, path with
    query, headers), then :meth:`answer` replies (with the body for GET only)."""

    seen: ClassVar[list[tuple[str, str, dict[str, str]]]]

    def do_HEAD(self) -> None:
        self._record()
        self.answer(body=False)

    def do_GET(self) -> None:
        self._record()
        self.answer(body=True)

    def _record(self) -> None:
        self.seen.append((self.command, self.path, dict(self.headers.items())))

    def answer(self, *, body: bool) -> None:
        raise NotImplementedError


class LoopbackServer:
    """Serve ``handler`` on ``127.0.0.1:<free port>``; with ``tls=(certificate, key)`` over HTTPS."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: tuple[str, str] | None = None) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        # A short poll keeps close() (which waits for the serving loop to notice) from costing 0.5 s.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: what a client takes as the registry host."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The plain-HTTP base URL, with a trailing slash."""
        return f"http://{self.host}/"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
