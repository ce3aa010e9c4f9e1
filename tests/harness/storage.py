"""A plain-HTTP object store stand-in for a registry whose blob reads redirect to storage.

``StorageServer(root)`` serves the files under ``root`` (a registry's filesystem storage directory) by
path, for GET and HEAD, on a free port of 127.0.0.1, and records the method, path and headers of every
request (``seen``). Point distribution's ``redirect`` storage middleware at :attr:`url`
(``start_registry(..., storage_redirect=storage.url)``): the registry then answers blob reads with a
307 to ``<url><path of the blob's data file under root>``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["StorageServer"]


class StorageServer:
    """Serve ``root``'s files over plain HTTP and log what each request carried; a context manager."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        #: (method, path with query, headers) of every request, in order of arrival.
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> StorageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _file(self, request_path: str) -> Path | None:
        """The file a request names, if it is one under ``root``."""
        path = (self.root / unquote(urlsplit(request_path).path).lstrip("/")).resolve()
        return path if path.is_relative_to(self.root) and path.is_file() else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        storage = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, *, body: bool) -> None:
                storage.seen.append((self.command, self.path, dict(self.headers.items())))
                path = storage._file(self.path)
                data = path.read_bytes() if path is not None else b""
                self.send_response(200 if path is not None else 404)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

        return Handler
