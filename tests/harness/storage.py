"""A plain-HTTP object store stand-in for a registry whose blob reads redirect to storage.

``StorageServer(root)`` serves the files under ``root`` (a registry's filesystem storage directory) by
path, for GET and HEAD, on a free port of 127.0.0.1, and records the method, path and headers of every
request (``seen``). Point distribution's ``redirect`` storage middleware at :attr:`url`
(``start_registry(..., storage_redirect=storage.url)``): the registry then answers blob reads with a
307 to ``<url><path of the blob's data file under root>``.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit

from harness.loopback import LoopbackServer, ReadHandler

__all__ = ["StorageServer"]


class StorageServer(LoopbackServer):
    """Serve ``root``'s files over plain HTTP and log what each request carried; a context manager."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        #: (method, path with query, headers) of every request, in order of arrival.
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        super().__init__(self._handler())

    def _file(self, request_path: str) -> Path | None:
        """The file a request names, if it is one under ``root``."""
        path = (self.root / unquote(urlsplit(request_path).path).lstrip("/")).resolve()
        return path if path.is_relative_to(self.root) and path.is_file() else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        storage = self

        class Handler(ReadHandler):
            seen = storage.seen

            def answer(self, *, body: bool) -> None:
                path = storage._file(self.path)
                data = path.read_bytes() if path is not None else b""
                self.send_response(200 if path is not None else 404)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

        return Handler
