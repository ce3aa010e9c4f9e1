"""Where credentials come from when nobody passed them: the files and helpers container tools share.

``docker login``, ``podman login``, ``oras login`` and ``crane auth login`` leave credentials in a JSON
file (Docker: ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``; podman/skopeo:
``$REGISTRY_AUTH_FILE`` or ``$XDG_RUNTIME_DIR/containers/auth.json``) or hand them to a credential
helper program, ``docker-credential-<name>``. This module reads both, so dxf works wherever those
tools already do, and writes them for ``dxf login``/``dxf logout``.

Lookup for one registry host, file by file in the order of :func:`credential_files`, stopping at the
first that knows the host:

1. the helper named for the host in ``credHelpers``, else the one in ``credsStore``;
2. the ``auths`` entry for the host: base64 ``auth`` (``user:password``), ``username``/``password``,
   or an ``identitytoken`` (an OAuth2 refresh token, exchanged for access tokens by :mod:`dxf.auth`).

Keys in ``auths`` and ``credHelpers`` may be written ``host``, ``https://host`` or
``https://host/v1/``; Docker Hub's key is ``https://index.docker.io/v1/`` and stands for
``docker.io``, ``index.docker.io`` and ``registry-1.docker.io``.

The parsing functions are pure (dicts in, values out); only :class:`CredentialHelper` runs programs,
always with a timeout. No message built here contains a secret.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .auth import Credentials
from .exceptions import DXFCredentialError

#: The ``auths``/``credHelpers`` key Docker uses for Docker Hub (and sends to helpers as the server URL).
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
#: Every host name that means Docker Hub's registry; they share one credential.
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
#: Username a helper answers when ``Secret`` is an identity token (docker-credential-helpers' convention).
IDENTITY_TOKEN_USERNAME = "<token>"
#: Seconds a credential helper may take before we give up on it (it may be waiting on a keyring).
DEFAULT_HELPER_TIMEOUT = 30.0
#: What helpers print when they hold nothing for a server (docker-credential-helpers' message).
_NOT_FOUND_MESSAGE = "credentials not found"
_HELPER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_MAX_ECHO = 200


# -- keys ----------------------------------------------------------------------------------------------
def canonical_host(key: str) -> str:
    """The registry a config key names: scheme and path dropped, lowercased, Docker Hub's names unified.

    ``https://host:5000/v1/``, ``host:5000`` and ``HOST:5000`` all give ``host:5000``; any Docker Hub
    name gives ``docker.io``. A podman key with a repository path (``host/ns/repo``) gives its host.
    """
    text = key.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    host = text.split("/", 1)[0].lower()
    name, _, port = host.partition(":")
    if name in DOCKER_HUB_HOSTS and port in ("", "443"):
        return "docker.io"
    return host


def config_key(host: str) -> str:
    """The key ``dxf login`` writes, and the server URL helpers get: Docker's, so its tools agree."""
    return DOCKER_HUB_KEY if canonical_host(host) == "docker.io" else host.strip().lower()


def matching_keys(mapping: Mapping[str, Any], host: str) -> list[str]:
    """The keys of ``mapping`` that name ``host``: an exact match first, then the other spellings."""
    wanted = canonical_host(host)
    exact = [key for key in (host, config_key(host)) if key in mapping]
    others = [key for key in mapping if key not in exact and canonical_host(key) == wanted]
    return list(dict.fromkeys(exact + others))


# -- reading a config file (pure) ----------------------------------------------------------------------
def helper_name(config: Mapping[str, Any], host: str) -> str | None:
    """The credential helper for ``host``: its ``credHelpers`` entry, else ``credsStore``, else None."""
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key in matching_keys(helpers, host):
            if isinstance(helpers[key], str) and helpers[key]:
                return str(helpers[key])
    store = config.get("credsStore")
    return store if isinstance(store, str) and store else None


def auths_entry(config: Mapping[str, Any], host: str) -> dict[str, Any] | None:
    """The ``auths`` entry for ``host``, or None."""
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    for key in matching_keys(auths, host):
        if isinstance(auths[key], dict):
            return dict(auths[key])
    return None


def entry_credentials(entry: Mapping[str, Any]) -> Credentials | None:
    """Credentials from one ``auths`` entry; None when it holds none (e.g. ``{}`` left by a helper).

    ``auth`` is base64 of ``user:password``; ``username``/``password`` fill what it lacks; an
    ``identitytoken`` replaces the password. Raises :class:`DXFCredentialError` for bad base64
    (without echoing it).
    """
    username: str | None = None
    password: str | None = None
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise DXFCredentialError('its "auth" value is not base64 of user:password') from exc
        user, sep, secret = decoded.partition(":")
        if not sep:
            raise DXFCredentialError('its "auth" value is not base64 of user:password')
        username, password = user, secret
    if isinstance(entry.get("username"), str) and entry["username"]:
        username = entry["username"]
    if isinstance(entry.get("password"), str) and entry["password"]:
        password = entry["password"]
    token = entry.get("identitytoken")
    if isinstance(token, str) and token:
        return Credentials(username=username or None, identity_token=token)
    if username and password is not None:
        return Credentials(username=username, password=password)
    return None


def helper_answer(answer: Mapping[str, Any]) -> Credentials | None:
    """Credentials from a helper's ``get`` JSON (``Username``, ``Secret``); ``<token>`` marks an
    identity token."""
    username, secret = answer.get("Username"), answer.get("Secret")
    if not isinstance(secret, str) or not secret:
        return None
    if username == IDENTITY_TOKEN_USERNAME:
        return Credentials(identity_token=secret)
    if not isinstance(username, str):
        return None
    return Credentials(username=username, password=secret)


# -- which files ---------------------------------------------------------------------------------------
def _home(environ: Mapping[str, str]) -> str:
    return environ.get("HOME") or os.path.expanduser("~")


def docker_config_path(environ: Mapping[str, str]) -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``: the file ``dxf login`` writes."""
    directory = environ.get("DOCKER_CONFIG") or os.path.join(_home(environ), ".docker")
    return Path(directory) / "config.json"


def credential_files(environ: Mapping[str, str]) -> list[Path]:
    """The files consulted, most specific first: ``$REGISTRY_AUTH_FILE`` (set on purpose), Docker's
    config, then podman's ``$XDG_RUNTIME_DIR/containers/auth.json``."""
    files: list[Path] = []
    if environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(environ["REGISTRY_AUTH_FILE"]))
    files.append(docker_config_path(environ))
    if environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    return files


def load_config(path: Path) -> dict[str, Any]:
    """A config file as a dict; ``{}`` when it does not exist. A file that is not a JSON object is
    an error (we would rather stop than guess, or overwrite it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise DXFCredentialError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise DXFCredentialError(f"{path} is not UTF-8 text") from exc
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: arrays or objects nested too deeply
        raise DXFCredentialError(f"{path} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise DXFCredentialError(f"{path} does not hold a JSON object")
    return data


# -- credential helpers --------------------------------------------------------------------------------
def helper_timeout(environ: Mapping[str, str]) -> float:
    """``DXF_HELPER_TIMEOUT`` seconds, else :data:`DEFAULT_HELPER_TIMEOUT`."""
    text = (environ.get("DXF_HELPER_TIMEOUT") or "").strip()
    if not text:
        return DEFAULT_HELPER_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise DXFCredentialError(f"DXF_HELPER_TIMEOUT must be a positive number, not {text!r}")
    return value


class CredentialHelper:
    """One ``docker-credential-<name>`` program, spoken to with the credential-helper protocol:
    ``get`` and ``erase`` read the server URL on stdin; ``store`` reads ``{"ServerURL", "Username",
    "Secret"}``; ``get`` answers the same JSON."""

    def __init__(
        self, name: str, *, timeout: float = DEFAULT_HELPER_TIMEOUT, path: str | None = None
    ) -> None:
        if not _HELPER_NAME_RE.fullmatch(name):
            raise DXFCredentialError(f"invalid credential helper name {name[:40]!r}")
        self.name = name
        self.program = f"docker-credential-{name}"
        self.timeout = timeout
        self.path = path

    def get(self, server_url: str) -> Credentials | None:
        """The helper's credentials for ``server_url``; None when it holds none."""
        code, out = self._run("get", server_url.encode())
        if code != 0:
            if _NOT_FOUND_MESSAGE in out.lower():
                return None
            raise self._failure("get", code, out)
        try:
            answer = json.loads(out)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise DXFCredentialError(f"{self.program} get answered something other than JSON credentials")
        return helper_answer(answer)

    def store(self, server_url: str, username: str, secret: str) -> None:
        payload = json.dumps({"ServerURL": server_url, "Username": username, "Secret": secret})
        code, out = self._run("store", payload.encode())
        if code != 0:
            raise self._failure("store", code, out.replace(secret, "<hidden>"))

    def erase(self, server_url: str) -> bool:
        """Forget ``server_url``; False when the helper held nothing for it."""
        code, out = self._run("erase", server_url.encode())
        if code == 0:
            return True
        if _NOT_FOUND_MESSAGE in out.lower():
            return False
        raise self._failure("erase", code, out)

    def _failure(self, action: str, code: int, out: str) -> DXFCredentialError:
        said = " ".join(out.split())[:_MAX_ECHO]
        return DXFCredentialError(
            f"{self.program} {action} failed (exit status {code})" + (f": {said}" if said else "")
        )

    def _executable(self) -> str:
        found = shutil.which(self.program, path=self.path)
        if found is None:
            raise DXFCredentialError(f"credential helper {self.program} not found on PATH")
        return found

    def _run(self, action: str, stdin: bytes) -> tuple[int, str]:
        """Run ``<program> <action>`` in its own process group; kill the group when it overstays.

        Returns the exit status and what it printed (stdout, else stderr), decoded."""
        with subprocess.Popen(
            [self._executable(), action],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as process:
            try:
                out, err = process.communicate(stdin, timeout=self.timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                raise DXFCredentialError(
                    f"{self.program} {action} did not answer within {self.timeout:g} s "
                    "(see DXF_HELPER_TIMEOUT)"
                ) from None
        text = (out or err).decode("utf-8", "replace").strip()
        return process.returncode, text


# -- the keychain --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Found:
    """Credentials and where they came from (a file, or a helper named in it), for messages."""

    credentials: Credentials
    source: str


class Keychain:
    """Credentials per registry host from Docker/podman config files and their helpers.

    Pass one to ``DXF(..., credentials=Keychain())``. Lookups are made on the first 401 from a host,
    remembered per host, and thread-safe; ``environ`` (default ``os.environ``) supplies
    ``DOCKER_CONFIG``, ``HOME``, ``REGISTRY_AUTH_FILE``, ``XDG_RUNTIME_DIR``, ``PATH`` and
    ``DXF_HELPER_TIMEOUT``.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ: Mapping[str, str] = dict(os.environ if environ is None else environ)
        self._lock = threading.Lock()
        self._cache: dict[str, Found | None] = {}

    def helper(self, name: str) -> CredentialHelper:
        path = self.environ.get("PATH") or os.environ.get("PATH") or os.defpath
        return CredentialHelper(name, timeout=helper_timeout(self.environ), path=path)

    def lookup(self, host: str) -> Credentials | None:
        """The credentials stored for ``host``, or None (then requests go anonymous)."""
        found = self.find(host)
        return found.credentials if found is not None else None

    def find(self, host: str) -> Found | None:
        key = canonical_host(host)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        found = self._search(host)
        with self._lock:
            self._cache[key] = found
        return found

    def _search(self, host: str) -> Found | None:
        for path in credential_files(self.environ):
            config = load_config(path)
            name = helper_name(config, host)
            if name is not None:
                from_helper = self.helper(name).get(config_key(host))
                if from_helper is not None:
                    return Found(from_helper, f"docker-credential-{name}")
            entry = auths_entry(config, host)
            if entry is None:
                continue
            try:
                credentials = entry_credentials(entry)
            except DXFCredentialError as exc:
                raise DXFCredentialError(f"{path}: entry for {canonical_host(host)}: {exc}") from None
            if credentials is not None:
                return Found(credentials, str(path))
        return None


# -- writing (dxf login / logout) ----------------------------------------------------------------------
def with_login(config: Mapping[str, Any], host: str, username: str, password: str) -> dict[str, Any]:
    """``config`` with ``host``'s ``auths`` entry replaced by these credentials (other spellings of
    the same host removed, every other key kept)."""
    updated = dict(config)
    auths = dict(config.get("auths") or {}) if isinstance(config.get("auths"), dict) else {}
    for key in matching_keys(auths, host):
        del auths[key]
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    auths[config_key(host)] = {"auth": token}
    updated["auths"] = auths
    return updated


def without_login(config: Mapping[str, Any], host: str) -> tuple[dict[str, Any], bool]:
    """``config`` without ``host``'s ``auths`` entries, and whether there were any."""
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return dict(config), False
    keys = matching_keys(auths, host)
    if not keys:
        return dict(config), False
    remaining = {key: value for key, value in auths.items() if key not in keys}
    return {**config, "auths": remaining}, True


def write_config(path: Path, config: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically by ``config`` as JSON, readable by its owner only (mode 0600).

    The directory is created (mode 0700) when missing; a crash leaves the old file or the new one,
    never half of either."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".config.json.", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(config, out, indent="\t")
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def store_login(keychain: Keychain, host: str, username: str, password: str) -> str:
    """Keep verified credentials for ``host`` where Docker would: its helper, else config.json.
    Returns where they went, for the user."""
    path = docker_config_path(keychain.environ)
    config = load_config(path)
    name = helper_name(config, host)
    if name is not None:
        keychain.helper(name).store(config_key(host), username, password)
        return f"docker-credential-{name}"
    write_config(path, with_login(config, host, username, password))
    return str(path)


def erase_login(keychain: Keychain, host: str) -> list[str]:
    """Forget ``host``'s credentials in its helper and in config.json; returns where some were."""
    path = docker_config_path(keychain.environ)
    config = load_config(path)
    erased: list[str] = []
    name = helper_name(config, host)
    if name is not None and keychain.helper(name).erase(config_key(host)):
        erased.append(f"docker-credential-{name}")
    updated, removed = without_login(config, host)
    if removed:
        write_config(path, updated)
        erased.append(str(path))
    return erased


# -- client certificates -------------------------------------------------------------------------------
#: Docker's per-registry certificate directories live under this root.
DEFAULT_CERTS_D = "/etc/docker/certs.d"


@dataclass(frozen=True)
class CertsDir:
    """What Docker's ``certs.d/<host[:port]>/`` holds for a registry: a CA (``ca.crt``) and a client
    certificate (``<name>.cert`` with ``<name>.key``), each None when absent."""

    ca: str | None = None
    client: tuple[str, str] | None = None


def certs_dir(root: str, host: str) -> CertsDir:
    """Read ``<root>/<host>/`` by Docker's convention; empty when the directory does not exist."""
    directory = Path(root) / host.strip().lower()
    if not directory.is_dir():
        return CertsDir()
    ca = directory / "ca.crt"
    client: tuple[str, str] | None = None
    for cert in sorted(directory.glob("*.cert")):
        key = cert.with_suffix(".key")
        if key.is_file():
            client = (str(cert), str(key))
            break
    return CertsDir(ca=str(ca) if ca.is_file() else None, client=client)
