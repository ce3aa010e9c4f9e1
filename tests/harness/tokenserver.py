"""A small HTTPS token server implementing the Docker registry token protocol.

``GET /token?service=SERVICE&scope=SCOPE[&scope=SCOPE...]`` with an optional
``Authorization: Basic`` header answers
``{"token": JWT, "access_token": JWT, "expires_in": N, "issued_at": RFC3339}``.

Tokens are RS256 JWTs whose header ``kid`` is the libtrust key ID of the signing key,
which is how distribution 2.8 finds the key in ``auth.token.rootcertbundle``.

Policy (see :data:`DEFAULT_USERS` and :func:`allowed_actions`):

* ``fred`` / ``somepassword``: every action on every repository, plus ``registry:catalog:*``;
* ``reader`` / ``readerpass``: ``pull`` on every repository;
* anonymous: ``pull`` on repositories whose name starts with ``public/``.

A scope is granted as the intersection of the requested and the allowed actions; a
token is always issued to an authenticated or anonymous caller, possibly with an
empty ``access`` list. Wrong credentials get a 401.

``POST /token`` is the OAuth2 form of the Docker token spec (``application/x-www-form-urlencoded``):

* ``grant_type=refresh_token&refresh_token=R&service=S&scope=A B``: R must be a refresh
  (identity) token this server issued (:meth:`TokenServer.issue_refresh_token`);
* ``grant_type=password&username=U&password=P&access_type=offline``: also answers a new
  ``refresh_token``.

Both answer ``{"access_token", "token", "expires_in", ...}``; a bad grant gets 401. With
``oauth_enabled`` off, POST answers 404, as token servers without OAuth2 do; a GET whose basic
password is a refresh token of that user is then accepted (what such registries do with identity
tokens).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import json
import math
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .pki import libtrust_key_id, load_private_key

__all__ = [
    "ALL_ACTIONS",
    "DEFAULT_ISSUER",
    "DEFAULT_SERVICE",
    "DEFAULT_USERS",
    "REGISTRY_LEEWAY",
    "TokenServer",
    "allowed_actions",
    "decode_jwt_unverified",
    "parse_scope",
]

#: distribution 2.8 accepts a token this many seconds past its ``exp`` (and before ``nbf``).
REGISTRY_LEEWAY = 60
DEFAULT_ISSUER = "dxf-test-issuer"
DEFAULT_SERVICE = "dxf-test-registry"
ALL_ACTIONS: tuple[str, ...] = ("pull", "push", "delete", "*")
#: username -> password
DEFAULT_USERS: dict[str, str] = {"fred": "somepassword", "reader": "readerpass"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_jwt_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(header, claims)`` of a JWT without checking its signature (for test assertions)."""
    header, claims, _signature = token.split(".")
    return json.loads(_b64url_decode(header)), json.loads(_b64url_decode(claims))


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """Split ``type:name:actions`` into ``(type, name, [actions])``; ``None`` if malformed.

    The name may itself contain ':' (e.g. a host:port prefix), so the type is the first
    field and the actions the last. A resource class such as ``repository(plugin)`` is
    reduced to its type.
    """
    first = scope.find(":")
    last = scope.rfind(":")
    if first <= 0 or last == first:
        return None
    rtype = scope[:first].split("(", 1)[0]
    name = scope[first + 1 : last]
    actions = [a for a in scope[last + 1 :].split(",") if a]
    if not name:
        return None
    return rtype, name, actions


def allowed_actions(user: str | None, rtype: str, name: str) -> set[str]:
    """The actions the harness policy allows ``user`` (``None`` = anonymous) on a resource."""
    if user == "fred":
        if rtype == "repository":
            return set(ALL_ACTIONS)
        if rtype == "registry" and name == "catalog":
            return {"*"}
        return set()
    if user == "reader":
        return {"pull"} if rtype == "repository" else set()
    if user is None and rtype == "repository" and name.startswith("public/"):
        return {"pull"}
    return set()


class _Handler(BaseHTTPRequestHandler):
    server: _TLSServer
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr access logging
        pass

    def _send_json(self, status: int, body: dict[str, Any], headers: Iterable[tuple[str, str]] = ()) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        if parts.path != "/token":
            self._send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
            return
        query = parse_qs(parts.query, keep_blank_values=True)
        service = (query.get("service") or [""])[0]
        scopes: list[str] = []
        for value in query.get("scope", []):
            scopes.extend(s for s in value.split(" ") if s)

        user: str | None = None
        auth = self.headers.get("Authorization")
        status = 200
        if auth is not None:
            user, ok = owner._check_basic(auth)
            if not ok:
                status = 401
        owner._log(user=user, scopes=scopes, service=service, status=status)
        if status == 401:
            self._refuse()
            return
        self._send_json(200, owner._token_response(user, scopes, service))

    def _refuse(self) -> None:
        self._send_json(
            401,
            {"errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]},
            [("WWW-Authenticate", 'Basic realm="dxf-test-token-server"')],
        )

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        form = {
            k: v[0] for k, v in parse_qs(self.rfile.read(length).decode(), keep_blank_values=True).items()
        }
        if urlsplit(self.path).path != "/token" or not owner.oauth_enabled:
            self._send_json(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
            owner._log(user=None, scopes=[], service="", status=404, method="POST")
            return
        scopes = [s for s in form.get("scope", "").split(" ") if s]
        service = form.get("service", "")
        grant = form.get("grant_type", "")
        user = owner._grant_user(form)
        status = 200 if user is not None else 401
        owner._log(user=user, scopes=scopes, service=service, status=status, method="POST", grant=grant)
        if user is None:
            self._refuse()
            return
        body = owner._token_response(user, scopes, service)
        if grant == "password" and form.get("access_type") == "offline":
            body["refresh_token"] = owner.issue_refresh_token(user)
        self._send_json(200, body)


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: TokenServer
    ssl_context: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the per-connection thread, so a slow or failing
        # client cannot stall the accept loop.
        request.settimeout(30)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-request are not interesting in tests


class TokenServer:
    """HTTPS token server on ``127.0.0.1`` running in a daemon thread.

    Attributes tests may change at run time: ``expires_in`` (seconds),
    ``empty_access_token`` (answer ``"access_token": ""`` beside a valid ``"token"``),
    ``omit_issued_at`` (leave ``issued_at`` out of the answer) and ``strict_expiry``.

    distribution 2.8 accepts tokens up to :data:`REGISTRY_LEEWAY` (60) seconds after
    their ``exp``. With ``strict_expiry`` the JWT's ``exp`` is moved back by that
    leeway, so the registry starts refusing the token exactly ``expires_in`` seconds
    after it was issued (the JSON answer still says ``expires_in``; the JWT's ``exp``
    is then earlier than its ``iat``, which the registry does not mind).
    """

    def __init__(
        self,
        *,
        cert_file: Path,
        key_file: Path,
        signing_key_file: Path,
        issuer: str = DEFAULT_ISSUER,
        service: str = DEFAULT_SERVICE,
        expires_in: int = 300,
        strict_expiry: bool = False,
        users: dict[str, str] | None = None,
        port: int = 0,
    ) -> None:
        self.issuer = issuer
        self.service = service
        self.expires_in = expires_in
        self.strict_expiry = strict_expiry
        self.empty_access_token = False
        self.omit_issued_at = False
        self.oauth_enabled = True
        self._refresh_tokens: dict[str, str] = {}
        self.users = dict(DEFAULT_USERS if users is None else users)
        self._cert_file = Path(cert_file)
        self._key_file = Path(key_file)
        self._signing_key = load_private_key(Path(signing_key_file))
        self.key_id = libtrust_key_id(self._signing_key.public_key())
        self._requested_port = port
        self._lock = threading.Lock()
        self._log_entries: list[dict[str, Any]] = []
        self._server: _TLSServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            return
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self._cert_file), str(self._key_file))
        server = _TLSServer(("127.0.0.1", self._requested_port), _Handler)
        server.owner = self
        server.ssl_context = context
        self._server = server
        self._requested_port = server.server_address[1]  # keep the port across stop()/start()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="token-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> TokenServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("token server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def realm(self) -> str:
        """The ``auth.token.realm`` the registry should announce."""
        return f"{self.url}/token"

    # -- request log -----------------------------------------------------------------------

    @property
    def requests_log(self) -> list[dict[str, Any]]:
        """A snapshot of the token requests received so far.

        Each entry: ``user`` (``None`` when anonymous), ``scopes`` (list of str),
        ``service``, ``status`` (200, 401 or 404), ``method`` (``GET``/``POST``), ``grant``
        (the POST's ``grant_type``, else ``""``) and ``time`` (``time.time()``).
        """
        with self._lock:
            return [dict(entry, scopes=list(entry["scopes"])) for entry in self._log_entries]

    def reset_log(self) -> None:
        with self._lock:
            self._log_entries.clear()

    def _log(
        self,
        *,
        user: str | None,
        scopes: list[str],
        service: str,
        status: int,
        method: str = "GET",
        grant: str = "",
    ) -> None:
        entry = {
            "user": user,
            "scopes": list(scopes),
            "service": service,
            "status": status,
            "method": method,
            "grant": grant,
            "time": time.time(),
        }
        with self._lock:
            self._log_entries.append(entry)

    # -- authentication and tokens ---------------------------------------------------------

    def _check_basic(self, header: str) -> tuple[str | None, bool]:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None, False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        username, sep, password = decoded.partition(":")
        if not sep:
            return username or None, False
        if not self.oauth_enabled and password in self._refresh_tokens:
            return self._refresh_tokens[password], True
        expected = self.users.get(username)
        if expected is None or not secrets.compare_digest(expected.encode(), password.encode()):
            return username, False
        return username, True

    def issue_refresh_token(self, user: str) -> str:
        """A new identity (refresh) token for ``user``, as a login with ``access_type=offline`` gets."""
        token = "rt-" + secrets.token_urlsafe(24)
        with self._lock:
            self._refresh_tokens[token] = user
        return token

    def _password_ok(self, username: str, password: str) -> bool:
        expected = self.users.get(username)
        return expected is not None and secrets.compare_digest(expected.encode(), password.encode())

    def _grant_user(self, form: dict[str, str]) -> str | None:
        """The user an OAuth2 form authenticates, or None when its grant is bad."""
        grant = form.get("grant_type")
        if grant == "refresh_token":
            with self._lock:
                return self._refresh_tokens.get(form.get("refresh_token", ""))
        if grant == "password":
            username = form.get("username", "")
            return username if self._password_ok(username, form.get("password", "")) else None
        return None

    def grant(self, user: str | None, scopes: Iterable[str]) -> list[dict[str, Any]]:
        """The ``access`` claim the policy grants ``user`` for the requested ``scopes``."""
        access: list[dict[str, Any]] = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            rtype, name, requested = parsed
            allowed = allowed_actions(user, rtype, name)
            actions = [a for a in dict.fromkeys(requested) if a in allowed]
            if actions:
                access.append({"type": rtype, "name": name, "actions": actions})
        return access

    def issue_token(
        self,
        user: str | None,
        scopes: Iterable[str],
        *,
        service: str | None = None,
        expires_in: int | None = None,
        now: float | None = None,
        access: list[dict[str, Any]] | None = None,
    ) -> str:
        """Mint a signed JWT (also usable directly by tests, e.g. for an already expired token)."""
        moment = time.time() if now is None else now
        issued = int(moment)
        lifetime = self.expires_in if expires_in is None else expires_in
        # Round up so that the token never lapses before ``moment + lifetime``.
        expiry = math.ceil(moment) + lifetime - (REGISTRY_LEEWAY if self.strict_expiry else 0)
        header = {"typ": "JWT", "alg": "RS256", "kid": self.key_id}
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": service or self.service,
            "exp": expiry,
            "nbf": issued,
            "iat": issued,
            "jti": uuid.uuid4().hex,
            "access": self.grant(user, scopes) if access is None else access,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self._signing_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def _token_response(self, user: str | None, scopes: list[str], service: str) -> dict[str, Any]:
        now = time.time()
        expires_in = self.expires_in
        token = self.issue_token(user, scopes, service=service or None, expires_in=expires_in, now=now)
        body: dict[str, Any] = {
            "token": token,
            "access_token": "" if self.empty_access_token else token,
            "expires_in": expires_in,
        }
        if not self.omit_issued_at:
            body["issued_at"] = (
                datetime.datetime.fromtimestamp(int(now), tz=datetime.timezone.utc)
                .isoformat()
                .replace("+00:00", "Z")
            )
        return body
