"""What a dxf client sent, seen through the public observer (:func:`dxf.transport.observe`).

The ``exchanges`` fixture (tests/conftest.py) records every request dxf makes during a test; a test
reads the ones sent to the host it cares about. Steering requests (refusing the 4th PATCH, say) is the
fault proxy's job (:meth:`harness.proxy.FaultProxy.inject_status` with ``method``/``skip``), so no test
needs to reach into a client.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from dxf.transport import Exchange


class Exchanges:
    """A thread-safe record of exchanges (parallel transfers report from several threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[Exchange] = []

    def __call__(self, exchange: Exchange) -> None:
        with self._lock:
            self._seen.append(exchange)

    def clear(self) -> None:
        """Forget what was recorded so far (a test's setup requests, say)."""
        with self._lock:
            self._seen.clear()

    def to(self, host: str) -> list[Exchange]:
        """The exchanges with ``host`` (``127.0.0.1:PORT``), in the order their answers came."""
        with self._lock:
            return [e for e in self._seen if urlsplit(e.url).netloc == host]

    def calls(self, host: str) -> list[tuple[str, str, int | None]]:
        """(method, URL without query, status) of each exchange with ``host``."""
        return [(e.method, e.url, e.status) for e in self.to(host)]
