"""Start and stop real CNCF distribution registries (``docker-registry serve``) for tests.

Three modes:

* ``plain``: plain HTTP, no authentication;
* ``basic``: TLS (throwaway CA) with htpasswd (bcrypt) basic authentication;
* ``token``: TLS with bearer-token authentication against a :class:`TokenServer`;
* ``mtls`` (not in :data:`MODES`, started on demand): TLS that requires a client certificate
  signed by the harness CA (distribution's ``http.tls.clientcas``), no other authentication.

The registry binary is taken from ``$DXF_TEST_REGISTRY_BIN``, else ``docker-registry`` on
``PATH``, else ``/usr/bin/docker-registry``.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import bcrypt

from .pki import PkiPaths, generate_pki
from .tokenserver import DEFAULT_ISSUER, DEFAULT_SERVICE, TokenServer

__all__ = [
    "MODES",
    "PASSWORD",
    "READER",
    "START_TIMEOUT",
    "USERNAME",
    "RegistryProcess",
    "find_registry_binary",
    "free_port",
    "harness_env",
    "start_registry",
]

USERNAME = "fred"
PASSWORD = "somepassword"
READER = ("reader", "readerpass")
MODES = ("plain", "basic", "token")
#: Modes started only by the tests that need them (not part of the ``registry`` parametrization).
EXTRA_MODES = ("mtls",)
START_TIMEOUT = 15.0
_LOG_TAIL = 4000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_registry_binary() -> str:
    """Locate the distribution registry binary or raise ``RuntimeError``."""
    candidates = [
        os.environ.get("DXF_TEST_REGISTRY_BIN"),
        shutil.which("docker-registry"),
        "/usr/bin/docker-registry",
    ]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "docker-registry (CNCF distribution) not found; install the Debian package `docker-registry` "
        "or set DXF_TEST_REGISTRY_BIN"
    )


def _htpasswd_line(user: str, password: str) -> str:
    # Cost 4 (the minimum Go's bcrypt accepts) keeps every authenticated request cheap.
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()
    return f"{user}:{hashed}\n"


def _yaml_str(value: object) -> str:
    """Quote a scalar for YAML (double-quoted style; JSON escaping is valid YAML)."""
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(eq=False)
class RegistryProcess:
    """A ``docker-registry serve`` child process and everything it needs."""

    mode: str
    host: str
    insecure: bool
    ca_bundle: str | None
    storage_dir: Path
    token_server: TokenServer | None
    client_cert: tuple[str, str] | None = None
    workdir: Path = field(repr=False, default=Path("."))
    config_path: Path = field(repr=False, default=Path("config.yml"))
    log_path: Path = field(repr=False, default=Path("registry.log"))
    binary: str = field(repr=False, default="docker-registry")
    _proc: subprocess.Popen[bytes] | None = field(repr=False, default=None)
    _log_file: IO[bytes] | None = field(repr=False, default=None)

    @property
    def url(self) -> str:
        return f"{'http' if self.insecure else 'https'}://{self.host}"

    @property
    def port(self) -> int:
        return int(self.host.rsplit(":", 1)[1])

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, limit: int = _LOG_TAIL) -> str:
        """The end of the registry's combined stdout/stderr log."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace")

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_bundle)
        if self.client_cert is not None:
            context.load_cert_chain(*self.client_cert)
        return context

    def _probe(self, timeout: float = 0.5) -> int | None:
        """GET /v2/ once; the HTTP status, or ``None`` when nothing answered."""
        conn: http.client.HTTPConnection
        if self.insecure:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        else:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=timeout, context=self._ssl_context()
            )
        try:
            conn.request("GET", "/v2/")
            response = conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()

    def start(self) -> None:
        """Start the registry and wait until ``GET /v2/`` answers (any status)."""
        if self.running:
            return
        if self.token_server is not None and not self.token_server.running:
            self.token_server.start()
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self._proc = subprocess.Popen(
            [self.binary, "serve", str(self.config_path)],
            # distribution 2.8's s3-aws driver panics at start (LoadCustomCABundleError) when
            # AWS_CA_BUNDLE is set; the registry never needs it.
            env={k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"},
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=str(self.workdir),
        )
        _LIVE.add(self)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._cleanup_handles()
                raise RuntimeError(
                    f"{self.mode} registry on {self.host} exited with status {code} during start-up; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if self._probe() is not None and self._proc.poll() is None:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.mode} registry on {self.host} did not answer GET /v2/ "
                    f"within {START_TIMEOUT:.0f} s; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.05)  # readiness polling interval

    def _cleanup_handles(self) -> None:
        _LIVE.discard(self)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._proc = None

    def stop(self) -> None:
        """Terminate the registry (SIGTERM to its PID), wait, and SIGKILL it if needed."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._cleanup_handles()

    def restart(self) -> None:
        """Stop and start again on the same port, storage and ``http.secret``."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the registry and its token server (if any)."""
        self.stop()
        if self.token_server is not None:
            self.token_server.stop()


#: Registries started and not yet stopped; stopped at interpreter exit as a safety net
#: (the registries also share pytest's process group, so Ctrl-C reaches them).
_LIVE: set[RegistryProcess] = set()


@atexit.register
def _stop_leftovers() -> None:
    for registry in list(_LIVE):
        with contextlib.suppress(Exception):
            registry.stop()


def _config_text(
    *,
    port: int,
    storage_dir: Path,
    secret: str,
    pki: PkiPaths | None,
    htpasswd: Path | None,
    token_server: TokenServer | None,
    log_level: str,
    client_cas: Path | None = None,
    storage_redirect: str | None = None,
    s3: S3Storage | None = None,
    catalog_maxentries: int | None = None,
) -> str:
    lines = [
        "version: 0.1",
        "log:",
        f"  level: {log_level}",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        *(
            _s3_lines(s3)
            if s3 is not None
            else ["  filesystem:", f"    rootdirectory: {_yaml_str(storage_dir)}"]
        ),
        "  delete:",
        "    enabled: true",
        "  maintenance:",
        "    uploadpurging:",
        "      enabled: false",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        f"  secret: {_yaml_str(secret)}",
    ]
    if pki is not None:
        lines += [
            "  tls:",
            f"    certificate: {_yaml_str(pki.server_cert)}",
            f"    key: {_yaml_str(pki.server_key)}",
        ]
    if client_cas is not None:
        lines += ["    clientcas:", f"      - {_yaml_str(client_cas)}"]
    if htpasswd is not None:
        lines += [
            "auth:",
            "  htpasswd:",
            "    realm: dxf-test-registry",
            f"    path: {_yaml_str(htpasswd)}",
        ]
    if token_server is not None:
        assert pki is not None
        lines += [
            "auth:",
            "  token:",
            f"    realm: {_yaml_str(token_server.realm)}",
            f"    service: {_yaml_str(token_server.service)}",
            f"    issuer: {_yaml_str(token_server.issuer)}",
            f"    rootcertbundle: {_yaml_str(pki.issuer_cert)}",
        ]
    if catalog_maxentries is not None:
        # distribution pages /v2/_catalog only up to this many names a page (and caps ``n`` at it),
        # answering a ``Link`` to the next page; its tags/list ignores ``n`` and sends every tag.
        lines += ["catalog:", f"  maxentries: {catalog_maxentries}"]
    if storage_redirect is not None:
        # distribution's storage middleware "redirect": blob GETs/HEADs are answered with a 307 to
        # <baseurl><path in the storage driver>. (storage.redirect.disable must not be set.)
        lines += [
            "middleware:",
            "  storage:",
            "    - name: redirect",
            "      options:",
            f"        baseurl: {_yaml_str(storage_redirect)}",
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class S3Storage:
    """Where an S3-backed registry keeps its blobs: ``endpoint`` (``http://127.0.0.1:PORT``) and a
    bucket that exists. Blob reads are answered with a 307 to a presigned URL on ``endpoint``."""

    endpoint: str
    bucket: str


def _s3_lines(s3: S3Storage) -> list[str]:
    """distribution's ``s3-aws`` driver against a local S3 server (keys are not checked there)."""
    return [
        "  s3:",
        "    accesskey: dxf-test",
        "    secretkey: dxf-test-secret",
        "    region: us-east-1",
        f"    regionendpoint: {_yaml_str(s3.endpoint)}",
        f"    bucket: {_yaml_str(s3.bucket)}",
        "    secure: false",
        "    v4auth: true",
        "    rootdirectory: /registry",
    ]


def start_registry(
    mode: str,
    workdir: Path,
    *,
    token_expires_in: int = 300,
    strict_token_expiry: bool = False,
    pki: PkiPaths | None = None,
    log_level: str = "warn",
    storage_redirect: str | None = None,
    s3: S3Storage | None = None,
    catalog_maxentries: int | None = None,
) -> RegistryProcess:
    """Create config, storage and credentials under ``workdir`` and start a registry.

    ``pki`` may be passed to reuse already generated key material (saves RSA key
    generation); otherwise a fresh PKI is written to ``workdir/pki``.
    ``strict_token_expiry`` sets :attr:`TokenServer.strict_expiry` (tokens really stop
    working after ``token_expires_in`` seconds, despite the registry's 60 s leeway). Raises
    ``RuntimeError`` (with the registry's log tail) if it does not come up. ``storage_redirect``
    (a base URL) turns on distribution's ``redirect`` storage middleware: blob reads are answered
    with a redirect to ``<base URL><path under workdir/storage>`` (serve it with
    :class:`harness.storage.StorageServer`). ``s3`` keeps the blobs in an S3 bucket instead (see
    :mod:`harness.s3`), with the driver's redirects to presigned URLs on. ``catalog_maxentries``
    sets distribution's ``catalog.maxentries``: the most repository names one catalog page holds.
    """
    if mode not in MODES + EXTRA_MODES:
        raise ValueError(f"unknown registry mode {mode!r}; expected one of {MODES + EXTRA_MODES}")
    binary = find_registry_binary()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    storage_dir = workdir / "storage"
    storage_dir.mkdir(exist_ok=True)

    tls = mode != "plain"
    if tls and pki is None:
        pki = generate_pki(workdir / "pki")
    if not tls:
        pki = None

    htpasswd: Path | None = None
    if mode == "basic":
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text(_htpasswd_line(USERNAME, PASSWORD) + _htpasswd_line(*READER))

    token_server: TokenServer | None = None
    if mode == "token":
        assert pki is not None
        token_server = TokenServer(
            cert_file=pki.server_cert,
            key_file=pki.server_key,
            signing_key_file=pki.issuer_key,
            issuer=DEFAULT_ISSUER,
            service=DEFAULT_SERVICE,
            expires_in=token_expires_in,
            strict_expiry=strict_token_expiry,
        )
        token_server.start()

    config_path = workdir / "config.yml"
    secret = secrets.token_hex(32)
    attempts = 3
    for attempt in range(attempts):
        # The free port may be taken by someone else before the registry binds it: retry
        # with another one (only here; restart() keeps its port).
        port = free_port()
        config_path.write_text(
            _config_text(
                port=port,
                storage_dir=storage_dir,
                secret=secret,
                pki=pki,
                htpasswd=htpasswd,
                token_server=token_server,
                log_level=log_level,
                client_cas=pki.ca_cert if mode == "mtls" and pki is not None else None,
                storage_redirect=storage_redirect,
                s3=s3,
                catalog_maxentries=catalog_maxentries,
            )
        )
        registry = RegistryProcess(
            mode=mode,
            host=f"127.0.0.1:{port}",
            insecure=not tls,
            ca_bundle=str(pki.ca_cert) if pki is not None else None,
            storage_dir=storage_dir,
            token_server=token_server,
            client_cert=(
                (str(pki.client_cert), str(pki.client_key)) if mode == "mtls" and pki is not None else None
            ),
            workdir=workdir,
            config_path=config_path,
            log_path=workdir / "registry.log",
            binary=binary,
        )
        try:
            registry.start()
            return registry
        except RuntimeError as error:
            if "address already in use" in str(error) and attempt < attempts - 1:
                continue
            if token_server is not None:
                token_server.stop()
            raise
        except BaseException:
            registry.stop()
            if token_server is not None:
                token_server.stop()
            raise
    raise AssertionError("unreachable")


def harness_env(registry: RegistryProcess) -> dict[str, str]:
    """Environment variables a CLI test would set to talk to ``registry``."""
    env = {"DXF_HOST": registry.host}
    if registry.insecure:
        env["DXF_INSECURE"] = "1"
    elif registry.ca_bundle is not None:
        env["DXF_TLSVERIFY"] = registry.ca_bundle
    if registry.mode in ("basic", "token"):
        env["DXF_USERNAME"] = USERNAME
        env["DXF_PASSWORD"] = PASSWORD
    return env
