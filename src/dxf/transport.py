"""HTTP for one client: a pooled ``requests.Session``, TLS, timeouts, retries and safe redirects.

Everything that leaves the process goes through :meth:`Transport.send`. It owns three rules that no
caller should have to remember:

* **Retries** are bounded, back off exponentially with full jitter and honour ``Retry-After``; they
  happen on connection errors and on 408/429/500/502/503/504, and only when the request body can be
  sent again (no body, ``bytes``, or a zero-argument factory that makes a fresh body).
* **Redirects** are followed here, not by requests (at most :data:`MAX_REDIRECTS` hops), so that
  ``Authorization`` and cookies are dropped as soon as a redirect leaves the origin they were meant
  for (registries redirect blob downloads to object storage). A redirect from https to http is
  refused, except for blob reads: a registry may keep its blobs in plain-HTTP storage (an in-house
  S3 store), and a blob read carries no secret to another origin and is verified against its digest.
* **TLS** verification is on unless the caller turned it off; ``REQUESTS_CA_BUNDLE`` is honoured when
  verification is simply ``True`` (requests merges it from the environment).

* **One budget per host**: every thread of a client shares, per origin, a limit on requests in
  flight (sent, answer head not yet back). A 429 halves that limit and pauses every thread's next
  request to the host for the back-off; answers without 429 raise it again one step at a time, up to
  the configured ceiling (additive increase, multiplicative decrease). So ``push-blobs --jobs 32``
  against a rate-limited registry slows down together instead of 32 threads retrying on their own.

Every request that gets an answer, and every one that fails without one, is reported to the observers
registered with :func:`observe` as an :class:`Exchange`, with credentials redacted: a window on the
wire for logging, metrics and tests that does not need the session itself.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
from urllib3.exceptions import InsecureRequestWarning

from . import statuses
from ._version import __version__
from .exceptions import DXFSecurityError
from .limits import MAX_ANSWER_SIZE, header_int, read_capped, read_error_body

#: Statuses worth retrying: timeouts, throttling and transient server failures.
RETRY_STATUSES = statuses.RETRY
#: Seconds to wait for a TCP connection: finite, so a dead host fails in seconds, not minutes.
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Seconds a read may stall; generous because registries can take a while to hash large uploads.
DEFAULT_READ_TIMEOUT = 300.0
MAX_REDIRECTS = 10
#: Requests in flight to one host at once, per client (browsers allow 6 connections per host; a
#: registry serves blobs well beyond that, and bodies that stream do not count once their head is in).
DEFAULT_HOST_REQUESTS = 16
USER_AGENT = f"dxf/{__version__}"

#: What a request body may be: nothing, bytes, a file/iterable streamed once, or a factory for a
#: fresh replayable body each attempt.
Body = None | bytes | IO[bytes] | Iterable[bytes] | Callable[[], Any]
#: A timeout as requests takes it: one number for both phases, or (connect, read).
Timeout = float | tuple[float, float] | tuple[float, None] | None
#: A TLS client certificate as requests takes it: one PEM with both, or (certificate, key) paths.
ClientCert = str | tuple[str, str] | None


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how patiently, to try a request again.

    ``attempts`` counts every try, the first included; ``attempts=1`` disables retries.
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    statuses: frozenset[int] = field(default=RETRY_STATUSES)

    def delay(self, attempt: int, response: requests.Response | None) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 1)."""
        if response is not None:
            hinted = retry_after_seconds(response.headers.get("Retry-After"))
            if hinted is not None:
                return min(hinted, self.max_retry_after)
        ceiling = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse ``Retry-After`` (RFC 9110 10.2.3): delta-seconds or an HTTP date; None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    seconds = header_int(value)
    if seconds is not None:
        return float(seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with default ports filled in: the unit credentials belong to."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def same_origin(a: str, b: str) -> bool:
    return origin(a) == origin(b)


def check_followable(
    current: str, target: str, *, carries_credentials: bool, to_plain_storage: bool = False
) -> None:
    """Refuse a location that would downgrade https to http.

    ``carries_credentials`` adds the stricter rule for upload locations: they must stay on the same
    origin, since we send our ``Authorization`` there. ``to_plain_storage`` allows the downgrade for a
    request that sends nothing secret to another origin (a blob read, credentials stripped).
    """
    downgrade = urlsplit(current).scheme == "https" and urlsplit(target).scheme != "https"
    to_storage = to_plain_storage and not carries_credentials and urlsplit(target).scheme == "http"
    if downgrade and not to_storage:
        raise DXFSecurityError(f"refusing to follow {redact_url(target)}: it downgrades https to http")
    if carries_credentials and not same_origin(current, target):
        raise DXFSecurityError(
            f"refusing to send credentials to {redact_url(target)}: it is not the registry's origin"
        )


def _read_unstreamed(response: requests.Response, method: str) -> None:
    """Read the body of an answer whose caller did not ask to stream it, as requests would have, but
    within a cap: an error's within :data:`~dxf.limits.MAX_ERROR_BODY_SIZE` (the rest is dropped),
    any other within :data:`~dxf.limits.MAX_ANSWER_SIZE` (past it: :class:`DXFProtocolError`).
    ``response.content`` then holds it. A HEAD answer has no body, whatever its ``Content-Length``
    (the size of what a GET would bring) says."""
    if method == "HEAD":
        response.content  # noqa: B018 - nothing to read: this only marks the body as read
    elif statuses.is_error(response):
        read_error_body(response)
    else:
        read_capped(response, MAX_ANSWER_SIZE, "the registry's answer")


def redact_url(url: str) -> str:
    """The URL without query or userinfo, for messages (presigned storage URLs carry secrets there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets (RFC 3986 3.2.2)
        host = f"[{host}]"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


#: Request headers whose values are secrets: observers see only their scheme (``Bearer <redacted>``).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
REDACTED = "<redacted>"


@dataclass(frozen=True)
class Exchange:
    """One request on the wire and what came of it, as :func:`observe` reports it.

    Redirect hops and retries are separate exchanges. Nothing secret is kept: ``url`` is
    :func:`redact_url`'s (no query, no userinfo: presigned URLs and upload state live there) and
    ``request_headers`` hold the headers as sent, with :data:`SECRET_HEADERS` reduced to their scheme.
    """

    method: str
    url: str
    #: The answer's status; ``None`` when none came (connection failure, timeout: see ``error``).
    status: int | None
    request_headers: Mapping[str, str]
    #: The exception's class name when the request got no answer, else ``None``.
    error: str | None = None


Observer = Callable[[Exchange], None]

_observers: tuple[Observer, ...] = ()
_observers_lock = threading.Lock()


@contextmanager
def observe(observer: Observer) -> Iterator[Observer]:
    """Call ``observer`` with an :class:`Exchange` for every request any dxf client in this process
    sends while the ``with`` block runs.

    Process-wide, like :mod:`logging`, so that clients a caller never sees (``DXF.from_base``, the
    command's) are covered too; filter on ``url`` to watch one registry. The observer runs in the
    thread that sent the request (parallel transfers use several), as soon as the answer's head has
    arrived; it should be quick and must be thread-safe. An exception it raises propagates to the
    caller of the dxf method, as the request's own failure would.
    """
    global _observers
    with _observers_lock:
        _observers = (*_observers, observer)
    try:
        yield observer
    finally:
        with _observers_lock:
            remaining = list(_observers)
            remaining.remove(observer)
            _observers = tuple(remaining)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with each secret value replaced by its scheme (the word before the first space)."""
    return {
        name: _redacted_value(value) if name.lower() in SECRET_HEADERS else value
        for name, value in headers.items()
    }


def _redacted_value(value: str) -> str:
    scheme, sep, _secret = value.partition(" ")
    return f"{scheme} {REDACTED}" if sep else REDACTED


def _report(build: Callable[..., Exchange], *args: Any) -> None:
    """Hand ``build(*args)`` to the observers; built only when someone is watching."""
    observers = _observers
    if not observers:
        return
    seen = build(*args)
    for observer in observers:
        observer(seen)


def _answered(method: str, url: str, response: requests.Response) -> Exchange:
    sent = response.request.headers if response.request is not None else {}
    return Exchange(method, redact_url(url), response.status_code, redact_headers(sent))


def _unanswered(method: str, url: str, headers: Mapping[str, str], error: BaseException) -> Exchange:
    return Exchange(method, redact_url(url), None, redact_headers(headers), type(error).__name__)


class HostBudget:
    """Requests in flight to one origin, shared by every thread of a client; see the module docstring.

    The thread whose request was throttled waits its own back-off (the transport's retry delay);
    the shared pause holds the other threads, so nobody waits twice."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.in_flight = 0
        self._successes = 0
        self._paused_until = 0.0
        self._paused_by: int | None = None
        self._changed = threading.Condition()

    def acquire(self, sleep: Callable[[float], None]) -> None:
        """Wait for a free slot, then for the end of a shared pause, then take the slot."""
        with self._changed:
            while self.in_flight >= self.limit:
                self._changed.wait()
            self.in_flight += 1
            pause = self._paused_until - time.monotonic()
            if self._paused_by == threading.get_ident():
                pause = 0.0
        if pause > 0:
            sleep(pause)

    def release(self, *, throttled_for: float | None) -> None:
        """Give the slot back; ``throttled_for`` (seconds) when the host answered 429."""
        with self._changed:
            self.in_flight -= 1
            now = time.monotonic()
            if throttled_for is not None:
                if now >= self._paused_until:  # one decrease per pause, not one per answer of a burst
                    self.limit = max(1, self.limit // 2)
                    self._successes = 0
                if now + throttled_for > self._paused_until:
                    self._paused_until = now + throttled_for
                    self._paused_by = threading.get_ident()
            elif self.limit < self.ceiling:
                self._successes += 1
                if self._successes >= self.limit:
                    self.limit += 1
                    self._successes = 0
            self._changed.notify_all()


class Transport:
    """One pooled session plus the retry, redirect and TLS rules above; safe to share between threads.

    ``requests.Session`` is used from several threads here only through ``Session.request``, whose
    connection pool (urllib3) is thread-safe; the session's mutable state (cookies, default headers)
    is never changed after construction.
    """

    def __init__(
        self,
        *,
        tlsverify: bool | str = True,
        timeout: Timeout = None,
        retry: RetryPolicy | None = None,
        pool_size: int = 10,
        user_agent: str = USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
        cert: ClientCert = None,
        connections: int = 1,
        host_requests: int = DEFAULT_HOST_REQUESTS,
    ) -> None:
        self.tlsverify = tlsverify
        #: Connections one large blob download may use at once (see :mod:`dxf.segments`).
        self.connections = max(1, connections)
        self.host_requests = max(1, host_requests)
        self._budgets: dict[tuple[str, str, int], HostBudget] = {}
        self._budgets_lock = threading.Lock()
        #: Presented to every https server this transport talks to that asks for one (mutual TLS).
        self.cert = cert
        self.timeout: Timeout = timeout
        self.retry = retry or RetryPolicy()
        self.user_agent = user_agent
        self.sleep = sleep
        self.session = self._new_session(pool_size)

    @staticmethod
    def _new_session(pool_size: int) -> requests.Session:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 1))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def close(self) -> None:
        self.session.close()

    def budget(self, url: str) -> HostBudget:
        """The shared budget of ``url``'s origin."""
        key = origin(url)
        with self._budgets_lock:
            found = self._budgets.get(key)
            if found is None:
                found = self._budgets[key] = HostBudget(self.host_requests)
            return found

    def effective_timeout(self) -> Timeout:
        """The caller's timeout, or our finite defaults (python-dxf had none: a dead host hung)."""
        if self.timeout is None:
            return (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
        return self.timeout

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        body: Body = None,
        stream: bool = False,
        follow_redirects: bool = True,
        retry: bool = True,
        blob_read: bool = False,
    ) -> requests.Response:
        """Send one request with retries and safe redirects; return the final response, any status.

        Callers map statuses to errors themselves (see :mod:`dxf.registry`); connection failures that
        survive the retries propagate as requests' own exceptions. ``retry=False`` leaves recovery to
        the caller: an upload ``PATCH`` must not be resent blind, since the registry may have stored
        part of it. ``blob_read`` (GET/HEAD of a blob) lets a redirect lead to plain-HTTP storage.
        """
        replayable = body is None or isinstance(body, bytes) or callable(body)
        attempts = self.retry.attempts if replayable and retry else 1
        attempt = 0
        budget = self.budget(url)
        while True:
            attempt += 1
            data = body() if callable(body) else body
            try:
                response = self._send_budgeted(
                    budget, attempt, method, url, headers, params, data, stream, follow_redirects, blob_read
                )
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
                if attempt >= attempts:
                    raise
                self.sleep(self.retry.delay(attempt, None))
                continue
            if response.status_code in self.retry.statuses and attempt < attempts:
                delay = self.retry.delay(attempt, response)
                response.close()
                self.sleep(delay)
                continue
            return response

    def _send_budgeted(
        self, budget: HostBudget, attempt: int, method: str, url: str, *args: Any
    ) -> requests.Response:
        """:meth:`_send_following` within ``budget``; a 429 tells the budget how long to pause."""
        budget.acquire(self.sleep)
        throttled_for: float | None = None
        try:
            response = self._send_following(method, url, *args)
            if statuses.throttles(response):
                throttled_for = self.retry.delay(attempt, response)
            return response
        finally:
            budget.release(throttled_for=throttled_for)

    def _send_following(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        data: Any,
        stream: bool,
        follow_redirects: bool,
        blob_read: bool,
    ) -> requests.Response:
        sent_headers = {"User-Agent": self.user_agent, **(headers or {})}
        home = url
        for _ in range(MAX_REDIRECTS + 1):
            cookies = same_origin(home, url)  # the session's cookies are the registry's only
            response = self._send_observed(method, url, sent_headers, params, data, stream, cookies)
            location = response.headers.get("Location")
            if not (follow_redirects and response.is_redirect and location):
                return response
            target = urljoin(response.url or url, location)
            check_followable(url, target, carries_credentials=False, to_plain_storage=blob_read)
            response.close()
            if not same_origin(url, target):
                # Credentials belong to the registry's origin only (requests' should_strip_auth idea).
                sent_headers = {k: v for k, v in sent_headers.items() if k.lower() != "authorization"}
            if statuses.method_after_redirect(response.status_code, method) != method:
                method, data = "GET", None
            url, params = target, None
        raise requests.exceptions.TooManyRedirects(
            f"more than {MAX_REDIRECTS} redirects: stopped before {redact_url(url)}"
        )

    def _send_observed(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None,
        data: Any,
        stream: bool,
        cookies: bool,
    ) -> requests.Response:
        """:meth:`_send_once`, reported to the :func:`observe` observers.

        requests always streams here: a caller that did not ask to stream gets the body read within
        :mod:`dxf.limits`' caps (:func:`_read_unstreamed`) instead of whole, so a server
        answering an upload or a delete with 100 MiB never has them held in memory.
        """
        try:
            response = self._send_once(method, url, headers, params, data, cookies)
            if not stream:
                try:
                    _read_unstreamed(response, method)
                except BaseException:
                    response.close()
                    raise
        except Exception as error:
            _report(_unanswered, method, url, headers, error)
            raise
        try:
            _report(_answered, method, url, response)
        except BaseException:
            response.close()
            raise
        return response

    def _send_once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None,
        data: Any,
        cookies: bool = True,
    ) -> requests.Response:
        """One request, streamed (its body is read by the caller: see :meth:`_send_observed`)."""
        verify = self.tlsverify
        with warnings.catch_warnings():
            if verify is False:
                warnings.simplefilter("ignore", InsecureRequestWarning)
            if not cookies:
                return self._send_without_cookies(method, url, headers, params, data)
            return self.session.request(
                method,
                url,
                headers=dict(headers),
                params=params,
                data=data,
                stream=True,
                allow_redirects=False,
                verify=verify,
                cert=self.cert,
                timeout=self.effective_timeout(),
            )

    def _send_without_cookies(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None,
        data: Any,
    ) -> requests.Response:
        """One request on the pooled connections, without the session's cookie jar: for another
        origin (``Session.request`` would attach every cookie whose domain matches, ignoring ports)."""
        prepared = requests.Request(method, url, headers=dict(headers), params=params, data=data).prepare()
        settings = self.session.merge_environment_settings(prepared.url, {}, True, self.tlsverify, None)
        return self.session.send(
            prepared, allow_redirects=False, timeout=self.effective_timeout(), **settings
        )
