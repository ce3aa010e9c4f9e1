"""What the ``dxf`` command reads from its environment (``DXF_*``), validated once."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .auth import Credentials
from .credentials import DEFAULT_CERTS_D, Keychain, certs_dir
from .journal import default_directory
from .transport import ClientCert


class ConfigError(Exception):
    """A missing or invalid environment variable; one line, exit 2."""


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
    platform: str | None
    blob_info: bool
    state_dir: str
    keychain: Keychain | None = None
    cert: ClientCert = None


def _positive_number(environ: Mapping[str, str], key: str, kind: Callable[[str], Any], minimum: float) -> Any:
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
        raise ConfigError(f"{key} must be a {bound} {what}, not {value!r}")
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


def read_settings(environ: Mapping[str, str], host: str | None = None) -> Settings:
    """Read and check the variables the command uses; :class:`ConfigError` when one is wrong.

    ``host`` is the registry a command names itself (``dxf login HOST``), instead of ``DXF_HOST``."""
    host = (host or environ.get("DXF_HOST", "")).strip()
    if not host:
        raise ConfigError("DXF_HOST is not set (it names the registry, e.g. localhost:5000)")
    tlsverify: bool | str
    if environ.get("DXF_SKIPTLSVERIFY") == "1":
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
    timeout = _positive_number(environ, "DXF_TIMEOUT", float, 1e-9)
    retries = _positive_number(environ, "DXF_RETRIES", int, 0)
    chunk_size = _positive_number(environ, "DXF_CHUNK_SIZE", int, 1)
    return Settings(
        host=host,
        insecure=environ.get("DXF_INSECURE") == "1",
        username=environ.get("DXF_USERNAME"),
        password=environ.get("DXF_PASSWORD"),
        authorization=environ.get("DXF_AUTHORIZATION"),
        auth_host=environ.get("DXF_AUTH_HOST") or None,
        token=environ.get("DXF_TOKEN") or None,
        tlsverify=tlsverify,
        timeout=timeout,
        retries=retries,
        chunk_size=chunk_size,
        platform=environ.get("DXF_PLATFORM") or None,
        blob_info=environ.get("DXF_BLOB_INFO") == "1",
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


def progress_wanted(environ: Mapping[str, str]) -> bool:
    setting = environ.get("DXF_PROGRESS")
    if setting == "1":
        return True
    if setting == "0":
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # closed stream
        return False
