"""A fault-injecting TCP proxy for reliability tests (plain HTTP only).

``FaultProxy(target_host, target_port)`` listens on a free port of 127.0.0.1 and forwards
bytes both ways, one pair of threads per connection. It follows HTTP/1.1 message framing
(request/response heads, ``Content-Length`` and chunked bodies, ``HEAD``/204/304 without
body) just far enough to find where each message starts, which allows two things:

* :meth:`FaultProxy.inject_status` answers the next request(s) itself, on whatever
  connection they arrive (new or kept alive): the request head and body are read and
  dropped, the canned response is sent with ``Connection: close`` and the connection is
  closed. With ``method`` only requests of that method count, and ``skip`` lets that many
  of them through first ("answer the 4th PATCH with 503");
* ``Location`` headers of *response heads* naming the target's ``host:port`` are rewritten
  to the proxy's, so redirects and upload URLs keep going through the proxy. (The
  distribution registry builds absolute ``Location`` URLs from the request's ``Host``
  header, which already names the proxy, so for it the rewrite is a safety net; it
  matters for upstreams configured with a fixed ``http.host``.) Bodies are never altered.

:meth:`FaultProxy.cut_after` breaks transfers: the first connection that forwards data in
the given direction after the call claims the fault, and once ``n_bytes`` (heads included)
have passed in that direction on it, both of its sockets are closed. With ``times`` > 1
the following connections are cut the same way. A connection kept alive from before the
call can claim it, so a client's connection pool cannot dodge the fault.

:meth:`FaultProxy.stall_after` holds a transfer in flight: the first connection that forwards data
in the given direction after the call passes ``n_bytes`` and then forwards nothing more (the
connection stays open) until :meth:`FaultProxy.release_stalls`, :meth:`FaultProxy.reset_faults` or
:meth:`FaultProxy.close`. ``stalls`` counts the connections held so far, so a test can wait for it.

:meth:`FaultProxy.corrupt_after` makes the target send the wrong bytes: the next response
body forwarded downstream (on any connection) has every payload byte after the first
``n_bytes`` inverted (XOR 0xFF). Lengths and framing stay intact, so the client receives a
well-formed response of the right size whose content does not match its digest.

:meth:`FaultProxy.shape` makes loopback look like a long-distance link: every connection's
downstream bytes are paced to ``rate`` bytes per second (each connection on its own, like the
per-connection caps of object stores and CDNs), and every request waits ``delay`` seconds before it
is forwarded (one round trip's worth of added latency per request). The sleeps are the simulated
link itself, not synchronisation: results never depend on them, only durations do.

:meth:`FaultProxy.throttle_above` plays a rate-limited registry: a request that arrives while ``k``
requests are already in flight (forwarded, their response not yet complete) is answered with 429
by the proxy itself (``throttled`` counts them; ``peak_in_flight`` is the most forwarded at once,
each counted from its forwarded head until its response's last bytes are passed on, whether or not
``throttle_above`` is in force).

If the message framing cannot be followed (bad chunk sizes, a 101 upgrade, a body
delimited by close), that direction of that connection just passes bytes through (and is
never corrupted). So does a TLS connection (its first byte opens a TLS handshake record): to a
registry with TLS the proxy still counts, shapes, cuts and stalls, but injects, corrupts and
rewrites nothing.
"""

from __future__ import annotations

import collections
import contextlib
import http
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass

__all__ = ["FaultProxy"]

_MAX_HEAD = 64 * 1024
_RECV = 64 * 1024
_DIRECTIONS = ("upstream", "downstream")
_INVERT = bytes(range(255, -1, -1))  # bytes.translate table: b -> b ^ 0xFF
_TLS_HANDSHAKE = b"\x16"  # the content type of a TLS record that opens a connection (RFC 8446 5.1)


@dataclass
class _CutRule:
    n_bytes: int
    direction: str
    times: int
    hard: bool
    request_containing: bytes = b""


@dataclass
class _StallRule:
    n_bytes: int
    direction: str
    released: threading.Event


@dataclass(frozen=True)
class _Shape:
    rate: float | None  # bytes per second per connection downstream; None: unlimited
    delay: float  # seconds added before each request is forwarded


@dataclass
class _CorruptRule:
    n_bytes: int
    times: int


@dataclass
class _InjectRule:
    status: int
    times: int
    retry_after: int | float | str | None
    body: bytes | None
    headers: tuple[tuple[str, str], ...]
    method: str | None = None
    skip: int = 0
    request_containing: bytes = b""

    def matches(self, method: str, head: bytes) -> bool:
        return (self.method is None or self.method == method) and self.request_containing in head


class _Framer:
    """Incremental HTTP/1.x framing of one direction; ``feed`` returns ``(kind, bytes)`` events.

    Kinds: ``head`` (a complete message head), ``payload`` (message content: the bytes of a
    ``Content-Length`` body or of a chunk's data), ``body`` (other bytes passed through
    unchanged: chunk-size lines, chunk CRLFs, trailers, unframed bytes) and ``end`` (a
    message just completed, with empty bytes). Requests push their method onto
    ``methods``; responses pop it to know whether a body follows (``HEAD``).
    """

    def __init__(self, *, is_request: bool, methods: collections.deque[str]) -> None:
        self.is_request = is_request
        self.methods = methods
        self.state = "head"
        self.remaining = 0
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        self.buf += data
        events: list[tuple[str, bytes]] = []
        while self.buf:
            if self.state == "head" and self.buf[:1] == _TLS_HANDSHAKE:
                self.state = "raw"  # TLS: passed through, paced and counted, never parsed
            if self.state == "raw":
                events.append(("body", bytes(self.buf)))
                self.buf.clear()
            elif self.state == "head":
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buf) > _MAX_HEAD:
                        self.state = "raw"
                        continue
                    break
                head = bytes(self.buf[: end + 4])
                del self.buf[: end + 4]
                events.append(("head", head))
                self._after_head(head, events)
            elif self.state in ("length", "chunk_data"):
                take = min(self.remaining, len(self.buf))
                # A chunk's ``remaining`` counts its trailing CRLF, which is framing, not payload.
                content = max(0, min(take, self.remaining - 2 if self.state == "chunk_data" else take))
                if content:
                    events.append(("payload", bytes(self.buf[:content])))
                if take > content:
                    events.append(("body", bytes(self.buf[content:take])))
                del self.buf[:take]
                self.remaining -= take
                if self.remaining == 0:
                    if self.state == "length":
                        self.state = "head"
                        events.append(("end", b""))
                    else:
                        self.state = "chunk_size"
            elif self.state in ("chunk_size", "trailer"):
                eol = self.buf.find(b"\r\n")
                if eol < 0:
                    if len(self.buf) > _MAX_HEAD:
                        self.state = "raw"
                        continue
                    break
                line = bytes(self.buf[: eol + 2])
                del self.buf[: eol + 2]
                events.append(("body", line))
                if self.state == "trailer":
                    if line == b"\r\n":
                        self.state = "head"
                        events.append(("end", b""))
                    continue
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self.state = "raw"
                    continue
                if size == 0:
                    self.state = "trailer"
                else:
                    self.state = "chunk_data"
                    self.remaining = size + 2  # chunk data and its CRLF
        return events

    def _after_head(self, head: bytes, events: list[tuple[str, bytes]]) -> None:
        lines = head.split(b"\r\n")
        start = lines[0].split()
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        chunked = headers.get(b"transfer-encoding", b"").lower().replace(b" ", b"").endswith(b"chunked")
        length: int | None = None
        if b"content-length" in headers:
            try:
                length = int(headers[b"content-length"])
            except ValueError:
                self.state = "raw"
                return
        if self.is_request:
            self.methods.append(start[0].decode("latin-1").upper() if start else "GET")
            if chunked:
                self.state = "chunk_size"
            elif length:
                self.state, self.remaining = "length", length
            else:
                events.append(("end", b""))
            return
        try:
            status = int(start[1])
        except (IndexError, ValueError):
            self.state = "raw"
            return
        if 100 <= status < 200:
            if status == 101:
                self.state = "raw"
            return  # interim response: the real one follows
        method = self.methods.popleft() if self.methods else "GET"
        if method == "HEAD" or status in (204, 304):
            events.append(("end", b""))
        elif method == "CONNECT" and 200 <= status < 300:
            self.state = "raw"
        elif chunked:
            self.state = "chunk_size"
        elif length is not None:
            if length:
                self.state, self.remaining = "length", length
            else:
                events.append(("end", b""))
        else:
            self.state = "raw"  # delimited by the connection closing


def _request_method(head: bytes) -> str:
    return head.split(b" ", 1)[0].decode("latin-1").upper()


class _Cut(Exception):
    pass


class _Connection:
    def __init__(self, proxy: FaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.methods: collections.deque[str] = collections.deque()
        self.cut_remaining: dict[str, int | None] = {"upstream": None, "downstream": None}
        self.cut_hard: dict[str, bool] = {"upstream": False, "downstream": False}
        self.stall: dict[str, _StallRule | None] = {"upstream": None, "downstream": None}
        self.stall_remaining: dict[str, int] = {"upstream": -1, "downstream": -1}
        # Corruption of the response body being forwarded downstream: None until its first
        # payload bytes (then a rule may claim it), -1 for a body left intact, else the number
        # of payload bytes still to pass untouched before inverting starts.
        self.corrupt_keep: int | None = None
        self.corrupt_counted = False
        self._closed = False
        self._lock = threading.Lock()
        self._down_thread: threading.Thread | None = None
        # The head of the latest request on this connection, lowercased.
        self.last_head = b""
        # Requests on this connection admitted by the throttle whose responses are not complete yet.
        self.admitted = 0
        # When the paced downstream link of this connection is free again (time.monotonic()).
        self._link_free_at = 0.0

    # -- teardown --------------------------------------------------------------------------

    def abort(self, *, hard: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.proxy._finished(self, self.admitted)
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                if hard:
                    # Linger 0 makes close() send RST; SHUT_RD wakes a thread blocked in recv()
                    # without sending a FIN first.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.shutdown(socket.SHUT_RD)
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        self.proxy._forget(self)

    # -- sending with fault accounting -----------------------------------------------------

    def _send(self, direction: str, sock: socket.socket, data: bytes) -> None:
        data = self._maybe_stall(direction, sock, data)
        if not data:
            return
        remaining = self.cut_remaining[direction]
        if remaining is None:
            rule = self.proxy._claim_cut(direction, self.last_head)
            if rule is not None:
                remaining = self.cut_remaining[direction] = rule.n_bytes
                self.cut_hard[direction] = rule.hard
        # Counters are updated before the bytes leave, so whatever a client observes has
        # already been counted.
        if remaining is not None and len(data) >= remaining:
            self.proxy._count(direction, remaining)
            self.proxy._count_cut()
            if remaining:
                sock.sendall(data[:remaining])
            raise _Cut
        self.proxy._count(direction, len(data))
        sock.sendall(data)
        if remaining is not None:
            self.cut_remaining[direction] = remaining - len(data)
        if direction == "downstream":
            self._pace(len(data))

    def _pace(self, n_bytes: int) -> None:
        """Hold the downstream pump until ``n_bytes`` would have crossed a link of the shaped rate."""
        rate = self.proxy.shaping.rate
        if rate is None:
            return
        now = time.monotonic()
        self._link_free_at = max(now, self._link_free_at) + n_bytes / rate
        if self._link_free_at > now:
            time.sleep(self._link_free_at - now)

    def _maybe_stall(self, direction: str, sock: socket.socket, data: bytes) -> bytes:
        """Pass the bytes before a stall point, then block until the stall is released."""
        rule = self.stall[direction]
        if rule is None and data:
            rule = self.stall[direction] = self.proxy._claim_stall(direction)
            if rule is not None:
                self.stall_remaining[direction] = rule.n_bytes
        remaining = self.stall_remaining[direction]
        if rule is None or remaining < 0 or len(data) < remaining:
            if remaining >= 0:
                self.stall_remaining[direction] = remaining - len(data)
            return data
        self.stall_remaining[direction] = -1
        if remaining:
            self.proxy._count(direction, remaining)
            sock.sendall(data[:remaining])
        self.proxy._count_stall()
        rule.released.wait()
        return data[remaining:]

    def _connect_upstream(self) -> socket.socket:
        if self.upstream is None:
            self.upstream = socket.create_connection(
                (self.proxy.target_host, self.proxy.target_port), timeout=10
            )
            self.upstream.settimeout(None)
            self._down_thread = threading.Thread(target=self._pump_downstream, name="proxy-down", daemon=True)
            self._down_thread.start()
        return self.upstream

    # -- pumps -----------------------------------------------------------------------------

    def run(self) -> None:
        framer = _Framer(is_request=True, methods=self.methods)
        injecting: _InjectRule | None = None
        try:
            while True:
                data = self.client.recv(_RECV)
                if not data:
                    if self.upstream is not None:
                        with contextlib.suppress(OSError):
                            self.upstream.shutdown(socket.SHUT_WR)
                    break
                for kind, chunk in framer.feed(data):
                    if kind == "head" and self.proxy.shaping.delay:
                        time.sleep(self.proxy.shaping.delay)
                    if kind == "head":
                        self.last_head = chunk.lower()
                        self.proxy._record(chunk)
                    if kind == "head" and injecting is None:
                        injecting = self.proxy._claim_injection(_request_method(chunk), chunk.lower())
                    if kind == "head" and injecting is None:
                        injecting = self.proxy._admit(self)
                    if injecting is not None:
                        if kind == "end":
                            self._answer(injecting)
                            self.abort()
                            return
                        continue
                    if chunk:
                        self._send("upstream", self._connect_upstream(), chunk)
        except _Cut:
            self.abort(hard=self.cut_hard["upstream"])
            return
        except OSError:
            self.abort()
            return
        if self._down_thread is not None:
            self._down_thread.join(timeout=60)
        self.abort()

    def _pump_downstream(self) -> None:
        upstream = self.upstream
        assert upstream is not None
        framer = _Framer(is_request=False, methods=self.methods)
        try:
            while True:
                data = upstream.recv(_RECV)
                if not data:
                    with contextlib.suppress(OSError):
                        self.client.shutdown(socket.SHUT_WR)
                    return
                events = framer.feed(data)
                # A response stops counting as in flight before its last bytes leave: once the
                # client has them it may send its next request, which must not find it counted.
                ends = sum(1 for kind, _chunk in events if kind == "end")
                if ends:
                    self.proxy._finished(self, ends)
                for kind, chunk in events:
                    if kind == "head":
                        out = self.proxy._rewrite_head(chunk)
                        self.corrupt_keep, self.corrupt_counted = None, False  # a new response
                    elif kind == "payload":
                        out = self._maybe_corrupt(chunk)
                    else:
                        out = chunk
                    self._send("downstream", self.client, out)
        except _Cut:
            self.abort(hard=self.cut_hard["downstream"])
        except OSError:
            self.abort()

    def _maybe_corrupt(self, payload: bytes) -> bytes:
        if self.corrupt_keep is None:
            rule = self.proxy._claim_corruption()
            self.corrupt_keep = -1 if rule is None else rule.n_bytes
        keep = self.corrupt_keep
        if keep < 0:
            return payload
        if keep >= len(payload):
            self.corrupt_keep = keep - len(payload)
            return payload
        self.corrupt_keep = 0
        self.proxy._count_corrupted(len(payload) - keep, first=not self.corrupt_counted)
        self.corrupt_counted = True
        return payload[:keep] + payload[keep:].translate(_INVERT)

    def _answer(self, rule: _InjectRule) -> None:
        try:
            phrase = http.HTTPStatus(rule.status).phrase
        except ValueError:
            phrase = "Injected"
        body = rule.body
        if body is None:
            body = json.dumps(
                {"errors": [{"code": "INJECTED", "message": f"status {rule.status} injected by FaultProxy"}]}
            ).encode()
        lines = [f"HTTP/1.1 {rule.status} {phrase}", "Content-Type: application/json"]
        if rule.retry_after is not None:
            lines.append(f"Retry-After: {rule.retry_after}")
        lines += [f"{name}: {value}" for name, value in rule.headers]
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        self.proxy._count_injected()  # before sending: the client may look at the counter at once
        with contextlib.suppress(OSError):
            self.client.sendall("\r\n".join(lines).encode("latin-1") + body)


class FaultProxy:
    """TCP proxy from ``127.0.0.1:<free port>`` to ``target_host:target_port`` with faults.

    Counters (read at any time): ``connections``, ``bytes_upstream`` (client to target),
    ``bytes_downstream`` (target to client), ``injected`` (responses the proxy made up),
    ``cuts`` (connections broken by :meth:`cut_after`), ``corrupted`` (response bodies altered
    by :meth:`corrupt_after`), ``bytes_corrupted``, ``locations_rewritten`` and ``peak_active`` (the
    most connections open at once).
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = int(target_port)
        self.connections = 0
        self.bytes_upstream = 0
        self.bytes_downstream = 0
        self.injected = 0
        self.cuts = 0
        self.stalls = 0
        self.corrupted = 0
        self.bytes_corrupted = 0
        self.locations_rewritten = 0
        #: The most connections that were open at once.
        self.peak_active = 0
        #: The head of every request that reached the proxy, as received (for checks of what a
        #: client sent to the host behind it).
        self.request_heads: list[bytes] = []
        #: Requests answered 429 by :meth:`throttle_above`, and the most requests forwarded at once.
        self.throttled = 0
        self.peak_in_flight = 0
        self._in_flight = 0
        self._throttle: _InjectRule | None = None
        self._throttle_limit = 0
        #: The simulated link (see :meth:`shape`); unshaped by default.
        self.shaping = _Shape(None, 0.0)
        self._lock = threading.Lock()
        self._cut_rules: list[_CutRule] = []
        self._inject_rules: list[_InjectRule] = []
        self._corrupt_rules: list[_CorruptRule] = []
        self._stall_rules: list[_StallRule] = []
        self._claimed_stalls: list[_StallRule] = []
        self._active: set[_Connection] = set()
        self._closed = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port: int = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        self._thread.start()

    # -- addresses -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` of the proxy (what a client should use as registry host)."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    # -- faults ----------------------------------------------------------------------------

    def cut_after(
        self,
        n_bytes: int,
        direction: str = "downstream",
        times: int = 1,
        *,
        hard: bool = False,
        request_containing: bytes = b"",
    ) -> None:
        """Close both sockets of the next ``times`` connection(s) after ``n_bytes`` in ``direction``.

        ``direction`` is ``"upstream"`` (client to target) or ``"downstream"``. With
        ``hard=True`` the sockets are reset (RST) instead of closed with FIN. With
        ``request_containing``, only a connection whose latest request head contains those bytes
        (compared in lower case) claims the rule: one client's among several.
        """
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be one of {_DIRECTIONS}, not {direction!r}")
        if n_bytes < 0 or times < 1:
            raise ValueError("n_bytes must be >= 0 and times >= 1")
        with self._lock:
            self._cut_rules.append(_CutRule(n_bytes, direction, times, hard, request_containing.lower()))

    def shape(self, rate: float | None = None, delay: float = 0.0) -> None:
        """Cap each connection's downstream bytes to ``rate`` per second (``None``: no cap) and hold
        every request ``delay`` seconds before forwarding it; applies to connections open or new."""
        if (rate is not None and rate <= 0) or delay < 0:
            raise ValueError("rate must be positive (or None) and delay >= 0")
        self.shaping = _Shape(rate, delay)

    def throttle_above(self, k: int, retry_after: int | float | str | None = None) -> None:
        """Answer 429 (with ``Retry-After`` when given) to any request that arrives while ``k``
        others are in flight; see the module docstring."""
        if k < 1:
            raise ValueError("k must be >= 1")
        with self._lock:
            self._throttle_limit = k
            self._throttle = _InjectRule(429, 0, retry_after, None, ())

    def _record(self, head: bytes) -> None:
        with self._lock:
            self.request_heads.append(head)

    def _admit(self, conn: _Connection) -> _InjectRule | None:
        """Count a request as in flight, or return the 429 rule when ``k`` already are."""
        with self._lock:
            if self._throttle is not None and self._in_flight >= self._throttle_limit:
                self.throttled += 1
                return self._throttle
            self._in_flight += 1
            conn.admitted += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            return None

    def _finished(self, conn: _Connection, count: int) -> None:
        """``count`` of ``conn``'s admitted requests are no longer in flight."""
        with self._lock:
            count = min(count, conn.admitted)
            conn.admitted -= count
            self._in_flight -= count

    def stall_after(self, n_bytes: int, direction: str = "downstream") -> None:
        """Stop forwarding on the next connection after ``n_bytes`` in ``direction`` (see the module
        docstring) until the stall is released; the connection stays open meanwhile."""
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be one of {_DIRECTIONS}, not {direction!r}")
        if n_bytes < 0:
            raise ValueError("n_bytes must be >= 0")
        with self._lock:
            self._stall_rules.append(_StallRule(n_bytes, direction, threading.Event()))

    def release_stalls(self) -> None:
        """Let every stalled (or still pending) stall go on forwarding."""
        with self._lock:
            rules, self._stall_rules = self._stall_rules, []
            rules += self._claimed_stalls
            self._claimed_stalls = []
        for rule in rules:
            rule.released.set()

    def corrupt_after(self, n_bytes: int, times: int = 1) -> None:
        """Invert every byte after the first ``n_bytes`` of the next ``times`` response bodies.

        The rule is claimed by the next response with a non-empty body forwarded downstream,
        on any connection (responses without a body, like HEAD's, do not claim it). Lengths
        and HTTP framing are kept, so only the content is wrong. A body no longer than
        ``n_bytes`` uses the rule up unchanged.
        """
        if n_bytes < 0 or times < 1:
            raise ValueError("n_bytes must be >= 0 and times >= 1")
        with self._lock:
            self._corrupt_rules.append(_CorruptRule(n_bytes, times))

    def inject_status(
        self,
        status: int,
        times: int = 1,
        retry_after: int | float | str | None = None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        method: str | None = None,
        skip: int = 0,
        request_containing: bytes = b"",
    ) -> None:
        """Answer the next ``times`` HTTP requests with ``status`` instead of forwarding them.

        ``retry_after`` adds a ``Retry-After`` header; the default body is a registry-style
        JSON error. Each injected response closes its connection. ``method`` limits the rule
        to requests of that method; ``skip`` forwards that many matching requests untouched
        before the rule answers (the client's own request order, not a test's timing, decides).
        ``request_containing`` limits it to requests whose head contains those bytes (in lower case).
        """
        if times < 1 or skip < 0:
            raise ValueError("times must be >= 1 and skip >= 0")
        rule = _InjectRule(
            status,
            times,
            retry_after,
            body,
            tuple((headers or {}).items()),
            method and method.upper(),
            skip,
            request_containing.lower(),
        )
        with self._lock:
            self._inject_rules.append(rule)

    def reset_faults(self) -> None:
        """Drop all pending (not yet triggered) faults."""
        with self._lock:
            self._cut_rules.clear()
            self._inject_rules.clear()
            self._corrupt_rules.clear()
        self.release_stalls()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return (
                sum(r.times for r in self._cut_rules)
                + sum(r.times for r in self._inject_rules)
                + sum(r.times for r in self._corrupt_rules)
                + len(self._stall_rules)
            )

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "connections": self.connections,
                "bytes_upstream": self.bytes_upstream,
                "bytes_downstream": self.bytes_downstream,
                "injected": self.injected,
                "cuts": self.cuts,
                "stalls": self.stalls,
                "corrupted": self.corrupted,
                "bytes_corrupted": self.bytes_corrupted,
                "locations_rewritten": self.locations_rewritten,
                "active": len(self._active),
                "peak_active": self.peak_active,
                "throttled": self.throttled,
                "peak_in_flight": self.peak_in_flight,
            }

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop listening and abort every open connection."""
        self.release_stalls()
        with self._lock:
            self._closed = True
            active = list(self._active)
        for conn in active:
            conn.abort()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._listener.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
            try:
                client, _addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, client)
            with self._lock:
                if self._closed:
                    client.close()
                    return
                self.connections += 1
                self._active.add(conn)
                self.peak_active = max(self.peak_active, len(self._active))
            threading.Thread(target=conn.run, name="proxy-up", daemon=True).start()

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._active.discard(conn)

    def _claim_cut(self, direction: str, head: bytes) -> _CutRule | None:
        with self._lock:
            for rule in self._cut_rules:
                if rule.direction == direction and rule.times > 0 and rule.request_containing in head:
                    rule.times -= 1
                    if rule.times == 0:
                        self._cut_rules.remove(rule)
                    return rule
        return None

    def _claim_stall(self, direction: str) -> _StallRule | None:
        with self._lock:
            for rule in self._stall_rules:
                if rule.direction == direction:
                    self._stall_rules.remove(rule)
                    self._claimed_stalls.append(rule)
                    return rule
        return None

    def _count_stall(self) -> None:
        with self._lock:
            self.stalls += 1

    def _claim_injection(self, method: str, head: bytes) -> _InjectRule | None:
        """The first pending rule for a request of ``method``, if it answers this one."""
        with self._lock:
            rule = next((r for r in self._inject_rules if r.matches(method, head)), None)
            if rule is None:
                return None
            if rule.skip:
                rule.skip -= 1
                return None
            rule.times -= 1
            if rule.times == 0:
                self._inject_rules.remove(rule)
            return rule

    def _claim_corruption(self) -> _CorruptRule | None:
        with self._lock:
            if not self._corrupt_rules:
                return None
            rule = self._corrupt_rules[0]
            rule.times -= 1
            if rule.times == 0:
                self._corrupt_rules.pop(0)
            return rule

    def _count_corrupted(self, n: int, *, first: bool) -> None:
        with self._lock:
            self.corrupted += int(first)
            self.bytes_corrupted += n

    def _count(self, direction: str, n: int) -> None:
        with self._lock:
            if direction == "upstream":
                self.bytes_upstream += n
            else:
                self.bytes_downstream += n

    def _count_cut(self) -> None:
        with self._lock:
            self.cuts += 1

    def _count_injected(self) -> None:
        with self._lock:
            self.injected += 1

    def _rewrite_head(self, head: bytes) -> bytes:
        targets = {f"{self.target_host}:{self.target_port}"}
        if self.target_host in ("127.0.0.1", "localhost"):
            targets |= {f"127.0.0.1:{self.target_port}", f"localhost:{self.target_port}"}
        mine = f"//{self.host}".encode()
        lines = head.split(b"\r\n")
        changed = False
        for i, line in enumerate(lines[1:], start=1):
            name, sep, value = line.partition(b":")
            if not sep or name.strip().lower() != b"location":
                continue
            new = value
            for target in targets:
                new = new.replace(b"//" + target.encode(), mine)
            if new != value:
                lines[i] = name + b":" + new
                changed = True
        if not changed:
            return head
        with self._lock:
            self.locations_rewritten += 1
        return b"\r\n".join(lines)
