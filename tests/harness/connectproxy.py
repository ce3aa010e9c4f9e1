"""A tiny HTTP forward proxy on loopback, for the proxy tests (``HTTPS_PROXY`` / ``HTTP_PROXY``).

It speaks the two ways clients use a proxy:

* ``CONNECT host:port``: answers ``200`` and then relays bytes both ways (an HTTPS request travels
  through it encrypted, so only the ``CONNECT`` line and its headers are visible);
* a request with an absolute URI (``GET http://host:port/path``), as clients send plain HTTP
  through a proxy: it is forwarded to the origin in origin form with ``Connection: close``, and the
  answer relayed back; the client connection is then closed, so every request is seen.

Every request head it receives is recorded in :attr:`ConnectProxy.seen` (method, target, headers),
which is how tests check what a proxy gets to read.
"""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["ConnectProxy", "SeenRequest"]

_MAX_HEAD = 64 * 1024
_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization"}


@dataclass(frozen=True)
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The request head (up to the blank line) and whatever bytes followed it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk or len(data) > _MAX_HEAD:
            raise ConnectionError("no complete request head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [a, b]
    while True:
        readable, _, _ = select.select(sockets, [], [], 30)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (b if sock is a else a).sendall(data)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        try:
            head, rest = _read_head(client)
        except (ConnectionError, OSError):
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        self.server.owner._record(SeenRequest(method, target, headers))
        if method == "CONNECT":
            self._tunnel(client, target, rest)
        else:
            self._forward(client, method, target, headers, rest)

    def _tunnel(self, client: socket.socket, target: str, rest: bytes) -> None:
        host, _, port = target.rpartition(":")
        with socket.create_connection((host, int(port)), timeout=30) as upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            _relay(client, upstream)

    def _forward(
        self, client: socket.socket, method: str, target: str, headers: dict[str, str], rest: bytes
    ) -> None:
        url = urlsplit(target)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        kept = [f"{k}: {v}" for k, v in headers.items() if k.lower() not in _HOP_BY_HOP]
        head = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""])
        with socket.create_connection((url.hostname or "", url.port or 80), timeout=30) as upstream:
            upstream.sendall(head.encode("latin-1") + rest)
            _relay(client, upstream)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: ConnectProxy

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up are not interesting in tests


class ConnectProxy:
    """The proxy, serving on ``127.0.0.1`` from a daemon thread; use as a context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[SeenRequest] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1})
        self._thread.daemon = True

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        with contextlib.suppress(OSError):
            self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def seen(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._seen)

    def _record(self, request: SeenRequest) -> None:
        with self._lock:
            self._seen.append(request)
