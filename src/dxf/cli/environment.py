"""What the ``dxf`` command reads from its environment (``DXF_*``), validated once."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..auth import Credentials
from ..credentials import DEFAULT_CERTS_D, Keychain, certs_dir
from ..journal import default_directory
from ..layout_repository import layout_root
from ..reference import host_problem
from ..transport import ClientCert


class ConfigError(ValueError):
    """A missing or invalid environment variable; one line, exit 2."""


#: Spellings of a yes/no variable (compared case-insensitively, surrounding blanks ignored).
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
#: The longest DXF_TIMEOUT accepted: beyond it sockets and locks overflow (and nobody waits a year).
MAX_TIMEOUT = 365 * 24 * 3600.0


@dataclass
class Settings:
    """What the environment says, validated."""

    host: str
    insecure: bool
    username: str | None
    password: str | None
    authorization: str | None
    auth_host: str | None
    token: str | None
    tlsverify: bool | str
    timeout: float | None
    retries: int | None
    chunk_size: int | None
    connections: int | None
    host_requests: int | None
    platform: str | None
    blob_info: bool
    state_dir: str
    keychain: Keychain | None = None
    cert: ClientCert = None


def _word(environ: Mapping[str, str], key: str) -> bool | None:
    """A yes/no variable: True or False for the spellings above, None when unset, empty or other."""
    value = environ.get(key, "").strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    return None


def _flag(environ: Mapping[str, str], key: str) -> bool:
    """A yes/no variable that is off when unset or empty; any other spelling is a :class:`ConfigError`."""
    value = _word(environ, key)
    if value is None and environ.get(key, "").strip():
        raise ConfigError(f"{key} must be 1/0, true/false, yes/no or on/off, not {_echo(environ[key])}")
    return bool(value)


def _echo(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _positive_number(
    environ: Mapping[str, str],
    key: str,
    kind: Callable[[str], Any],
    minimum: float,
    maximum: float = math.inf,
) -> Any:
    value = environ.get(key)
    if value is None or value.strip() == "":
        return None
    try:
        number = kind(value.strip())
    except ValueError:
        number = None
    if number is None or number != number or number < minimum:  # NaN != NaN
        bound = "positive" if minimum > 0 else "non-negative"
        what = "integer" if kind is int else "number"
        raise ConfigError(f"{key} must be a {bound} {what}, not {_echo(value)}")
    if number > maximum:
        raise ConfigError(f"{key} must be at most {maximum:g}, not {_echo(value)}")
    return number


def client_cert(environ: Mapping[str, str], host: str) -> tuple[ClientCert, str | None]:
    """The TLS client certificate to present, and a CA found beside it: ``DXF_CERT`` (with
    ``DXF_KEY`` when the key is in its own file), else Docker's ``certs.d/<host>/`` directory under
    ``DXF_CERTS_D`` (default ``/etc/docker/certs.d``)."""
    cert, key = environ.get("DXF_CERT") or None, environ.get("DXF_KEY") or None
    found = certs_dir(environ.get("DXF_CERTS_D") or DEFAULT_CERTS_D, host)
    if key and not cert:
        raise ConfigError("DXF_KEY is set but DXF_CERT is not (DXF_CERT names the client certificate)")
    if cert:
        return ((cert, key) if key else cert), found.ca
    return found.client, found.ca


def _host(environ: Mapping[str, str], key: str) -> str | None:
    """``host[:port]`` from ``key``, or None when unset; the value itself is never echoed (it may
    hold a password: ``user:password@host``)."""
    host = environ.get(key, "").strip()
    return _checked_host(host, key) if host else None


def _checked_host(host: str, what: str) -> str:
    problem = host_problem(host.strip())
    if problem is not None:
        raise ConfigError(f"{what} must be host[:port], e.g. localhost:5000 or [::1]:5000 ({problem})")
    return host.strip()


def read_settings(environ: Mapping[str, str], host: str | None = None) -> Settings:
    """Read and check the variables the command uses; :class:`ConfigError` when one is wrong.

    ``host`` is the registry a command names itself (``dxf login HOST``), instead of ``DXF_HOST``."""
    layout = environ.get("DXF_HOST", "").strip() if host is None else ""
    if layout_root(layout) is not None:  # oci:PATH: a directory of OCI layouts, no registry
        host = layout
    else:
        host = _checked_host(host, "the registry host") if host is not None else _host(environ, "DXF_HOST")
    if host is None:
        raise ConfigError("DXF_HOST is not set (it names the registry, e.g. localhost:5000)")
    tlsverify: bool | str
    if _flag(environ, "DXF_SKIPTLSVERIFY"):
        tlsverify = False
    else:
        tlsverify = (
            environ.get("DXF_TLSVERIFY")
            or environ.get("REQUESTS_CA_BUNDLE")
            or environ.get("CURL_CA_BUNDLE")
            or True
        )
    cert, certs_d_ca = client_cert(environ, host)
    if tlsverify is True and certs_d_ca is not None:
        tlsverify = certs_d_ca
    _flag(environ, "DXF_DEBUG")  # read where failures are reported; rejected here when misspelt
    return Settings(
        host=host,
        insecure=_flag(environ, "DXF_INSECURE"),
        username=environ.get("DXF_USERNAME"),
        password=environ.get("DXF_PASSWORD"),
        authorization=environ.get("DXF_AUTHORIZATION"),
        auth_host=_host(environ, "DXF_AUTH_HOST"),
        token=environ.get("DXF_TOKEN") or None,
        tlsverify=tlsverify,
        timeout=_positive_number(environ, "DXF_TIMEOUT", float, 1e-9, MAX_TIMEOUT),
        retries=_positive_number(environ, "DXF_RETRIES", int, 0),
        chunk_size=_positive_number(environ, "DXF_CHUNK_SIZE", int, 1),
        connections=_positive_number(environ, "DXF_CONNECTIONS", int, 1),
        host_requests=_positive_number(environ, "DXF_HOST_REQUESTS", int, 1),
        platform=environ.get("DXF_PLATFORM") or None,
        blob_info=_flag(environ, "DXF_BLOB_INFO"),
        state_dir=default_directory(environ),
        keychain=Keychain(environ),
        cert=cert,
    )


def resolve_credentials(settings: Settings) -> Credentials:
    """Who to authenticate as: ``DXF_USERNAME``/``DXF_PASSWORD``/``DXF_AUTHORIZATION`` when any is
    set, else what Docker's and podman's files and helpers hold for the host, else nobody. Files and
    helpers are not consulted over plain HTTP, where credentials are never sent."""
    if settings.username is not None or settings.password is not None or settings.authorization:
        return Credentials(settings.username, settings.password, settings.authorization)
    if settings.insecure or settings.keychain is None:
        return Credentials()
    return settings.keychain.lookup(settings.host) or Credentials()


def debug_wanted(environ: Mapping[str, str]) -> bool:
    """``DXF_DEBUG`` asks for tracebacks (an unknown spelling counts as no: this runs while a failure
    is being reported, and :func:`read_settings` rejects it with its own line)."""
    return _word(environ, "DXF_DEBUG") is True


def progress_wanted(environ: Mapping[str, str]) -> bool:
    """``DXF_PROGRESS``: yes or no as spelt above; any other value means "when stderr is a terminal",
    as python-dxf documents."""
    setting = _word(environ, "DXF_PROGRESS")
    if setting is not None:
        return setting
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # closed stream
        return False
