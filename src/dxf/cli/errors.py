"""Failures of the ``dxf`` command as one line each, with the exit status, and no credentials.

:func:`classify` is the one table from exceptions to exit statuses and reasons; :func:`redact`
removes every credential the environment holds from any text before it is printed.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import re
import signal
import ssl
import sys
import traceback
from collections.abc import Iterator, Mapping
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
import urllib3

from .. import exceptions as dxf_exceptions
from ..auth import basic_header
from ..limits import read_error_body
from .environment import ConfigError, Settings, debug_wanted, read_settings

if TYPE_CHECKING:
    from .grammar import Invocation

#: Exit statuses (python-dxf's: ``errno.EACCES`` for refused credentials, ``errno.ENOENT`` for 404).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = errno.ENOENT
EXIT_UNAUTHORIZED = errno.EACCES
#: After Ctrl-C: 128 + SIGINT, as a shell reports a command a signal ended.
EXIT_INTERRUPTED = 128 + signal.SIGINT
#: After SIGTERM or SIGHUP: 128 + the signal's number (143, 129), once temporary files are removed.
EXIT_SIGNAL_BASE = 128
#: When standard output's reader went away (``| head``): 128 + SIGPIPE, quietly.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE

#: Environment keys whose values must never be printed.
_SECRET_KEYS = ("DXF_PASSWORD", "DXF_AUTHORIZATION", "DXF_TOKEN")
#: The longest failure line printed (a registry's texts are already cut shorter; this bounds the rest).
MAX_LINE_CHARS = 2000
_DIGEST_RE = re.compile(r"^(@?)([a-z0-9]+):([0-9a-f]{20,})$")


def _shorten_arg(arg: str) -> str:
    match = _DIGEST_RE.match(arg)
    if match:
        return f"{match.group(1)}{match.group(2)}:{match.group(3)[:12]}…"
    return arg


def describe(inv: Invocation) -> str:
    """``<command> <repo> <args...>``, digests shortened, for the start of an error line."""
    words = [inv.command]
    if inv.repo is not None:
        words.append(inv.repo)
    words.extend(_shorten_arg(a) for a in inv.args)
    return " ".join(words)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (``reason``, exception ``args``, cause, context), breadth first."""
    seen: set[int] = set()
    queue: list[BaseException] = [exc]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            queue.append(reason)
        queue.extend(a for a in current.args if isinstance(a, BaseException))
        if current.__cause__ is not None:
            queue.append(current.__cause__)
        if current.__context__ is not None:
            queue.append(current.__context__)


def _target(exc: requests.exceptions.RequestException, settings: Settings | None) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        if parts.hostname:
            return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return settings.host if settings is not None else "the registry"


def _os_reason(exc: BaseException) -> str | None:
    """The innermost socket-level explanation (``Connection refused``, a DNS failure...)."""
    found: str | None = None
    for e in _chain(exc):
        if isinstance(e, ssl.SSLError):
            message = getattr(e, "verify_message", None) or e.reason or e.strerror
            if isinstance(e, ssl.SSLCertVerificationError) and message:
                return f"certificate verify failed: {message}"
            return str(message) if message else str(e)
        if isinstance(e, OSError) and type(e).__module__ in ("builtins", "socket") and e.strerror:
            found = str(e.strerror)
    return found


#: OpenSSL's reasons when the other end answered a TLS hello in plain HTTP.
_PLAIN_HTTP_TLS_REASONS = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure")
#: Go's net/http answer (400) to a plain-HTTP request on a TLS port, as distribution sends it.
_HTTPS_ONLY_BODY = "client sent an http request to an https server"


#: OpenSSL's X509_V_ERR_* verify codes (x509_vfy.h) grouped by what the user can do about them.
_EXPIRED_CODES = frozenset({9, 10})  # CERT_NOT_YET_VALID, CERT_HAS_EXPIRED
_HOST_MISMATCH_CODES = frozenset({62, 64})  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
_UNTRUSTED_CODES = frozenset({18, 19, 20, 21})  # self-signed (leaf or chain), issuer unknown here
_SKIP_HINT = "or DXF_SKIPTLSVERIFY=1 to skip verification (insecure)"


def _certificate_advice(exc: BaseException) -> str | None:
    """Which certificate problem the handshake met and how to address it, for the problems users
    meet most; ``None`` for the others (they keep OpenSSL's own text and the generic hint)."""
    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            code = e.verify_code
            if code in _EXPIRED_CODES:
                return (
                    "the registry's certificate has expired or is not yet valid: renew it on the registry "
                    f"or check this machine's clock, {_SKIP_HINT}"
                )
            if code in _HOST_MISMATCH_CODES:
                return (
                    "the registry's certificate was issued for another host name: set DXF_HOST to a name "
                    f"the certificate lists, {_SKIP_HINT}"
                )
            if code in _UNTRUSTED_CODES:
                return (
                    "the registry's certificate is self-signed or signed by an unknown CA: set DXF_TLSVERIFY "
                    f"to the CA bundle (or certificate) that signs it, {_SKIP_HINT}"
                )
    return None


def _tls_reason(exc: requests.exceptions.SSLError, target: str) -> str:
    tls_reason = _os_reason(exc) or "handshake failed"
    advice = _certificate_advice(exc)
    if advice is not None:
        return f"TLS error talking to {target}: {tls_reason.rstrip('.')}: {advice}"
    if any(marker in tls_reason for marker in _PLAIN_HTTP_TLS_REASONS):
        return (
            f"TLS error talking to {target}: {tls_reason}: the registry seems to speak plain HTTP "
            "(set DXF_INSECURE=1 to use it without TLS)"
        )
    return f"TLS error talking to {target}: {tls_reason} (see DXF_TLSVERIFY and DXF_SKIPTLSVERIFY)"


def _is_read_timeout(exc: BaseException) -> bool:
    """A read that waited longer than the timeout for data (urllib3 wraps it in ConnectionError
    when it happens in the middle of a body)."""
    return any(
        isinstance(e, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError))
        for e in _chain(exc)
    )


def _is_cut_short(exc: BaseException) -> bool:
    """The server closed the connection before the response was complete."""
    return any(
        isinstance(e, (requests.exceptions.ChunkedEncodingError, http.client.IncompleteRead))
        or type(e).__name__ == "IncompleteRead"  # urllib3's own, not always an http.client subclass
        for e in _chain(exc)
    )


def _connection_reason(exc: requests.exceptions.RequestException, settings: Settings | None) -> str:
    target = _target(exc, settings)
    if isinstance(exc, requests.exceptions.SSLError):
        return _tls_reason(exc, target)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"cannot connect to {target}: timed out"
    if _is_read_timeout(exc):
        return f"timed out waiting for data from {target} (see DXF_TIMEOUT)"
    if _is_cut_short(exc):
        return f"connection to {target} closed by the server before the response was complete"
    reason = _os_reason(exc)
    if reason is None:
        for e in _chain(exc):
            if type(e).__name__ in ("RemoteDisconnected", "ProtocolError"):
                reason = "connection closed by the server"
                break
    return f"cannot connect to {target}: {reason or type(exc).__name__}"


def http_status(exc: requests.exceptions.HTTPError) -> int:
    """The status of an HTTP error (0 when it carries no response)."""
    response = exc.response
    return response.status_code if response is not None else int(getattr(exc, "status_code", 0) or 0)


def _http_reason(exc: requests.exceptions.HTTPError) -> str:
    response = exc.response
    if isinstance(exc, dxf_exceptions.DXFError):
        reason = str(exc)
    elif response is not None:
        reason = dxf_exceptions.describe_response(response)
    else:
        reason = "HTTP error"
    if response is not None and response.status_code == 400 and _HTTPS_ONLY_BODY in _body_start(response):
        reason += ": the registry speaks HTTPS (unset DXF_INSECURE)"
    return reason


def _body_start(response: requests.Response) -> str:
    """The start of an error body, lowercased, for recognising known answers (error bodies are read
    within a cap when the error is made: see :func:`dxf.statuses.error_for_response`)."""
    return read_error_body(response)[:200].decode("utf-8", "replace").lower()


def classify(exc: BaseException, settings: Settings | None) -> tuple[int, str]:
    """The exit status and the one-line reason for a failure."""
    if isinstance(exc, dxf_exceptions.DXFUnauthorizedError):
        response = exc.response
        detail = dxf_exceptions.describe_response(response) if response is not None else "unauthorized"
        return EXIT_UNAUTHORIZED, f"{detail}: the registry refused the credentials or token"
    if isinstance(exc, requests.exceptions.HTTPError):
        return (EXIT_NOT_FOUND if http_status(exc) == 404 else EXIT_FAILURE), _http_reason(exc)
    if isinstance(exc, (dxf_exceptions.DXFDigestMismatchError, dxf_exceptions.DXFSizeMismatchError)):
        return EXIT_FAILURE, f"content does not match its digest: {exc}"
    if isinstance(exc, requests.exceptions.RequestException):
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            return EXIT_FAILURE, _connection_reason(exc, settings)
        if _is_cut_short(exc):
            return EXIT_FAILURE, f"{_connection_reason(exc, settings)}: the blob is incomplete"
        return EXIT_FAILURE, f"{type(exc).__name__}: {exc}"
    if isinstance(exc, dxf_exceptions.DXFError):
        text = str(exc) or type(exc).__name__
        return EXIT_FAILURE, text
    if isinstance(exc, OSError):
        if exc.strerror:
            where = exc.filename if exc.filename is not None else None
            return EXIT_FAILURE, f"{where}: {exc.strerror}" if where is not None else exc.strerror
        return EXIT_FAILURE, str(exc) or type(exc).__name__
    if isinstance(exc, ValueError):
        return EXIT_FAILURE, str(exc) or type(exc).__name__
    return EXIT_FAILURE, f"internal error: {type(exc).__name__}: {exc}"


def _secrets(environ: Mapping[str, str]) -> list[str]:
    values = [environ.get(key) or "" for key in _SECRET_KEYS]
    username, password = environ.get("DXF_USERNAME"), environ.get("DXF_PASSWORD")
    if username is not None and password:
        header = basic_header(username, password)
        values += [header, header.split(" ", 1)[1]]
    return sorted({v for v in values if len(v) >= 3}, key=len, reverse=True)


def redact(text: str, environ: Mapping[str, str]) -> str:
    """``text`` with every credential from the environment replaced by ``<hidden>``."""
    for secret in _secrets(environ):
        text = text.replace(secret, "<hidden>")
    return text


def report(prefix: str, reason: str, environ: Mapping[str, str]) -> None:
    """Print ``dxf: <prefix>: <reason>`` on stderr: exactly one line, credentials hidden, control
    characters escaped and the length capped (file names and server texts can hold anything)."""
    line = " ".join(f"{prefix}: {reason}".split() if prefix else reason.split())
    line = dxf_exceptions.printable(redact(line, environ), MAX_LINE_CHARS)
    sys.stderr.write(f"dxf: {line}\n")
    sys.stderr.flush()


def fail(inv: Invocation | None, exc: BaseException, environ: Mapping[str, str]) -> int:
    """Print the failure as one line (after its traceback with --debug/DXF_DEBUG); its exit status."""
    code, reason = classify(exc, _settings_if_valid(environ))
    if (inv is not None and inv.debug) or debug_wanted(environ):
        sys.stderr.write(redact("".join(traceback.format_exception(exc)), environ))
    report(describe(inv) if inv is not None else "", reason, environ)
    return code


def _settings_if_valid(environ: Mapping[str, str]) -> Settings | None:
    """The settings, to name the registry in a reason; None when the environment is what failed."""
    try:
        return read_settings(environ)
    except ConfigError:
        return None


# -- signals ----------------------------------------------------------------------------------------
class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived. A ``KeyboardInterrupt``, so every cleanup written for Ctrl-C
    (temporary files removed, a resumable part file kept) runs for these signals too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


#: The signals that end the command the way Ctrl-C does.
TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def terminating_signals() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread. Once one has
    arrived, repeats are ignored so that the cleanup it started can finish (SIGKILL still works)."""
    arrived: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        if arrived:
            return
        arrived.append(signum)
        raise Terminated(signum)

    previous = {signum: signal.signal(signum, handler) for signum in TERMINATING_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def interruption_reason(exc: KeyboardInterrupt) -> str:
    if isinstance(exc, Terminated):
        return f"terminated by {signal.Signals(exc.signum).name}"
    return "interrupted"


def interruption_status(exc: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a command that a signal ended."""
    return EXIT_SIGNAL_BASE + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)
