"""Failures of the ``dxf`` command as one line each, with the exit status, and no credentials.

:func:`classify` is the one table from exceptions to exit statuses and reasons; :func:`redact`
removes every credential the environment holds from any text before it is printed.
"""

from __future__ import annotations

import re
import ssl
import sys
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

import requests

from . import exceptions as dxf_exceptions
from .auth import basic_header
from .cli_args import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_UNAUTHORIZED, Invocation
from .cli_env import Settings

#: Environment keys whose values must never be printed.
_SECRET_KEYS = ("DXF_PASSWORD", "DXF_AUTHORIZATION", "DXF_TOKEN")
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


def _connection_reason(exc: requests.exceptions.RequestException, settings: Settings | None) -> str:
    target = _target(exc, settings)
    if isinstance(exc, requests.exceptions.SSLError):
        tls_reason = _os_reason(exc) or "handshake failed"
        return f"TLS error talking to {target}: {tls_reason} (see DXF_TLSVERIFY and DXF_SKIPTLSVERIFY)"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"cannot connect to {target}: timed out"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"timed out waiting for {target}"
    reason = _os_reason(exc)
    if reason is None:
        for e in _chain(exc):
            if type(e).__name__ in ("RemoteDisconnected", "ProtocolError", "IncompleteRead"):
                reason = "connection closed by the server"
                break
    return f"cannot connect to {target}: {reason or type(exc).__name__}"


def classify(exc: BaseException, settings: Settings | None) -> tuple[int, str]:
    """The exit status and the one-line reason for a failure."""
    if isinstance(exc, dxf_exceptions.DXFUnauthorizedError):
        response = exc.response
        detail = "unauthorized"
        if response is not None:
            detail = f"{response.status_code} {response.reason or 'Unauthorized'}".strip()
            errors = dxf_exceptions._registry_errors(response)
            messages = [str(e.get("message") or e.get("code")) for e in errors]
            if messages:
                detail += f" ({'; '.join(messages)})"
        return EXIT_UNAUTHORIZED, f"{detail}: the registry refused the credentials or token"
    if isinstance(exc, requests.exceptions.HTTPError):
        response = exc.response
        status = response.status_code if response is not None else getattr(exc, "status_code", 0)
        if isinstance(exc, dxf_exceptions.DXFError):
            reason = str(exc)
        elif response is not None:
            reason = f"{response.status_code} {response.reason or ''}".strip()
        else:
            reason = "HTTP error"
        return (EXIT_NOT_FOUND if status == 404 else EXIT_FAILURE), reason
    if isinstance(exc, (dxf_exceptions.DXFDigestMismatchError, dxf_exceptions.DXFSizeMismatchError)):
        return EXIT_FAILURE, f"content does not match its digest: {exc}"
    if isinstance(exc, requests.exceptions.RequestException):
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            return EXIT_FAILURE, _connection_reason(exc, settings)
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
    reason = " ".join(reason.split())  # exactly one line
    sys.stderr.write(redact(f"dxf: {prefix}: {reason}\n", environ))
    sys.stderr.flush()
