"""A loopback registry that lists many names in pages linked by ``Link`` headers.

distribution 2.8 pages its catalog but sends every tag of a repository in one answer whatever ``n``
says; other registries (GHCR, ECR, Harbor, Docker Hub) page tags too. :class:`Pager` answers both
``GET /v2/<repo>/tags/list`` and ``GET /v2/_catalog`` from ``count`` generated names
(``name-000000``, ``name-000001``, ...; made when a page is served, never held as a list), ``n`` a
page (``page_size`` when the request has no ``n``), each page but the last with
``Link: </v2/...?last=<last name>&n=<n>>; rel="next"`` as distribution writes it (OCI
distribution spec, "Listing Tags"). ``GET /v2/`` answers 200; anything else is 404.

``hold_after=k`` with ``release``: once ``k`` pages have been served, the next page waits until
``release`` is set (for at most ``hold_timeout`` seconds), so a test can see what a client did with
the first ``k`` pages before it gets more. ``released_in_time`` says whether it was set in time.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from harness.loopback import LoopbackServer, QuietHandler

__all__ = ["Pager", "name_at"]


def name_at(index: int) -> str:
    """The ``index``-th name the pager lists (sorted order is index order)."""
    return f"name-{index:06d}"


class Pager(LoopbackServer):
    """``with Pager(10_000) as pager:`` lists 10,000 names, 100 a page, on ``pager.host``."""

    def __init__(
        self,
        count: int,
        page_size: int = 100,
        *,
        hold_after: int | None = None,
        release: threading.Event | None = None,
        hold_timeout: float = 10.0,
    ) -> None:
        self.count = count
        self.page_size = page_size
        self.hold_after = hold_after
        self.release = release or threading.Event()
        self.hold_timeout = hold_timeout
        self.released_in_time: bool | None = None
        #: Path and query of every listing request served (or being served), in order.
        self.requests: list[str] = []
        self._lock = threading.Lock()
        super().__init__(self._handler())

    @property
    def pages_served(self) -> int:
        with self._lock:
            return len(self.requests)

    def _page(self, query: dict[str, list[str]]) -> tuple[list[str], str | None, int]:
        """The names after ``last`` (``n`` of them), and the ``last`` of the next page if any."""
        size = int(query["n"][0]) if "n" in query else self.page_size
        last = query.get("last", [None])[0]
        start = int(last.rsplit("-", 1)[1]) + 1 if last else 0
        end = min(start + size, self.count)
        names = [name_at(i) for i in range(start, end)]
        return names, (names[-1] if end < self.count else None), size

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        pager = self

        class Handler(QuietHandler):
            # Head and body go out in two writes: with Nagle's algorithm the second waits for the
            # client's delayed ACK (40 ms on Linux), which would make 100 pages take 4 s.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/v2/":
                    self._send(b"{}", None)
                    return
                if parts.path == "/v2/_catalog":
                    key, extra = "repositories", {}
                elif parts.path.endswith("/tags/list"):
                    key, extra = "tags", {"name": parts.path[len("/v2/") : -len("/tags/list")]}
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with pager._lock:
                    pager.requests.append(self.path)
                    served_before = len(pager.requests) - 1
                if pager.hold_after is not None and served_before == pager.hold_after:
                    pager.released_in_time = pager.release.wait(pager.hold_timeout)
                names, next_last, size = pager._page(parse_qs(parts.query))
                link = None
                if next_last is not None:
                    link = f'<{parts.path}?{urlencode({"last": next_last, "n": size})}>; rel="next"'
                self._send(json.dumps({**extra, key: names}).encode(), link)

            def _send(self, body: bytes, link: str | None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if link is not None:
                    self.send_header("Link", link)
                self.end_headers()
                self.wfile.write(body)

        return Handler
