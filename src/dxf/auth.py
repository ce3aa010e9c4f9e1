"""Which ``Authorization`` header each request carries, and how bearer tokens are obtained.

Registries answer an unauthenticated request with 401 and a ``WWW-Authenticate`` challenge: ``Basic``
(send credentials on every request) or ``Bearer realm=...,service=...,scope=...`` (trade credentials for
a short-lived token at the realm; Docker's token protocol). python-dxf kept one header for everything
and asked its ``auth`` callback again whenever a request failed with 401. We keep that contract and add
what long sessions need:

* a token cache keyed by *scope class* (repository + the kind of access a request needs), so a push
  does not trade a pull token back and forth with a push token on every request;
* each token's lifetime (``expires_in``, measured from when we received it, which is immune to clock
  skew between us and the token server), refreshed shortly before it runs out whenever we still hold
  the credentials that bought it, by one thread while the others using that scope wait for it;
* the realm is checked: tokens are never fetched over plain HTTP when credentials would travel.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from . import statuses
from .challenge import Challenge, find_challenge, parse_challenges
from .exceptions import (
    DXFAuthInsecureError,
    DXFSecurityError,
    DXFUnauthorizedError,
    DXFUnexpectedError,
    DXFUnexpectedStatusCodeError,
)
from .limits import MAX_TOKEN_RESPONSE_SIZE, read_capped
from .statuses import Outcome, error_for_response
from .transport import Transport, redact_url

#: Lifetime assumed when the token server omits ``expires_in`` (Docker token spec default).
DEFAULT_TOKEN_LIFETIME = 60.0
#: Refresh a token when this share of its lifetime remains (capped below), so a request never
#: starts with a token that dies in flight.
REFRESH_FRACTION = 1 / 3
MAX_REFRESH_MARGIN = 30.0
#: python-dxf's default User-Agent for token requests (some token servers key behaviour on it).
TOKEN_USER_AGENT = "Docker-Client/19.03.2 (linux)"


_SCOPE_CLASS = {
    "GET": "pull",
    "HEAD": "pull",
    "POST": "push",
    "PUT": "push",
    "PATCH": "push",
    "DELETE": "delete",
}


def scope_key(repo: str | None, method: str) -> str:
    """The token-cache key of a request: which repository, and which kind of access it needs."""
    if repo is None:
        return "registry"
    return f"{repo}|{_SCOPE_CLASS.get(method.upper(), 'other')}"


def challenged_scope(repo: str | None, response: requests.Response) -> str | None:
    """The token-cache key of the request ``response`` answered (None when it is not known)."""
    request = getattr(response, "request", None)
    method = getattr(request, "method", None)
    return scope_key(repo, method) if isinstance(method, str) else None


def basic_header(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Credentials:
    """What ``authenticate`` was given: a user and password, a ready ``Authorization`` value, or an
    identity (OAuth2 refresh) token as ``docker login`` leaves in config.json / credential helpers."""

    username: str | None = None
    password: str | None = None
    authorization: str | None = None
    identity_token: str | None = None

    def header(self) -> str | None:
        if self.username is not None and self.password is not None:
            return basic_header(self.username, self.password)
        return self.authorization

    def __repr__(self) -> str:  # never print secrets, even in a debugger or a log
        return (
            f"Credentials(username={self.username!r}, password=<hidden>, authorization=<hidden>, "
            "identity_token=<hidden>)"
        )


@dataclass(frozen=True)
class Token:
    """A bearer token with the scope it was bought for and the monotonic time it stops being fresh."""

    value: str
    scope: str
    refresh_at: float

    def fresh(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.refresh_at

    def __repr__(self) -> str:
        return f"Token(scope={self.scope!r}, value=<hidden>)"


def token_from_response(body: Any, scope: str, received_at: float) -> Token:
    """Read a token server's JSON answer (``access_token`` wins when non-empty, else ``token``)."""
    if not isinstance(body, dict):
        raise DXFUnexpectedError(type(body).__name__, "a JSON object from the token server")
    value = body.get("access_token") or body.get("token")
    if not isinstance(value, str) or not value:
        raise DXFUnexpectedError("no token", "a token in the token server's answer")
    lifetime = body.get("expires_in")
    if not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool) or lifetime <= 0:
        lifetime = DEFAULT_TOKEN_LIFETIME
    margin = min(MAX_REFRESH_MARGIN, float(lifetime) * REFRESH_FRACTION)
    return Token(value=value, scope=scope, refresh_at=received_at + float(lifetime) - margin)


def token_url(realm: str, service: str | None, scopes: Sequence[str], auth_host: str | None) -> str:
    """The realm URL with ``service`` and one ``scope`` parameter per scope (Docker token spec).

    A realm on plain HTTP is refused: we would send credentials in clear. ``auth_host`` replaces the
    realm's host (python-dxf's ``auth_host``), for registries that advertise an unreachable realm.
    """
    parts = urlsplit(realm)
    if parts.scheme != "https":
        raise DXFSecurityError(f"refusing token realm {redact_url(realm)}: it is not https")
    query = parse_qsl(parts.query)
    if service:
        query.append(("service", service))
    query.extend(("scope", s) for s in scopes if s)
    netloc = auth_host or parts.netloc
    return urlunsplit(("https", netloc, parts.path, urlencode(query), ""))


def challenge_scopes(challenge: Challenge, repo: str | None, actions: Sequence[str] | None) -> list[str]:
    """The scopes to ask for, by python-dxf's rules: explicit actions on our repository win, then the
    challenge's own scope, then (no repository: a catalog call) ``registry:catalog:*``."""
    if actions and repo:
        return [f"repository:{repo}:{','.join(actions)}"]
    scope = challenge.params.get("scope")
    if scope:
        return scope.split()
    if not repo:
        return ["registry:catalog:*"]
    return []


class AuthState:
    """The headers and tokens of one registry host; shared by a ``DXFBase`` and the ``DXF`` objects made
    from it with ``from_base``. All methods are thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._default: str | None = None
        self._default_token: Token | None = None
        self._tokens: dict[str, Token] = {}
        self._renewals: dict[str, threading.Lock] = {}
        self._credentials: Credentials | None = None
        self._bearer: Challenge | None = None
        self._auth_host: str | None = None
        self._last_token: str | None = None

    # -- what the python-dxf surface reads and writes -------------------------------------------
    @property
    def token(self) -> str | None:
        return self._last_token

    def set_token(self, value: str) -> None:
        """A caller-provided token: used for everything until a 401 says otherwise."""
        with self._lock:
            self._last_token = value
            self._default = "Bearer " + value
            self._default_token = None
            self._tokens.clear()

    def holds_credential(self) -> bool:
        """Whether any secret is set up: a header, a token, or credentials given to ``authenticate``."""
        with self._lock:
            given = self._credentials is not None and self._credentials.header() is not None
            return given or self._default is not None or bool(self._tokens)

    # -- per-request selection -------------------------------------------------------------------
    def header_for(self, scope_key: str, transport: Transport) -> str | None:
        """The header to send for a request of ``scope_key``, refreshing an ageing token first."""
        with self._lock:
            token = self._tokens.get(scope_key) or self._default_token
            credentials, challenge, auth_host = self._credentials, self._bearer, self._auth_host
            default = self._default
        if token is None:
            return default
        if token.fresh():
            return "Bearer " + token.value
        if challenge is None:
            return "Bearer " + token.value
        # One thread renews; the others of this scope wait for its token instead of each buying one
        # (8 threads sharing a client sent 8 token requests per renewal: tests/integration/test_load.py).
        with self._renewal_lock(scope_key):
            with self._lock:
                current = self._tokens.get(scope_key) or self._default_token
            if current is not None and current.fresh():
                return "Bearer " + current.value
            # Refresh with the credentials that bought it (None: anonymous, which is also fine).
            fresh = self.fetch_token(transport, challenge, token.scope.split(), credentials, auth_host)
            self._store(fresh, scope_key)
        return "Bearer " + fresh.value

    def _renewal_lock(self, scope_key: str) -> threading.Lock:
        """The lock held while a token of ``scope_key`` is renewed (one per scope class, like the
        token cache: a renewal for pushes does not hold up pulls)."""
        with self._lock:
            return self._renewals.setdefault(scope_key, threading.Lock())

    # -- authenticate ----------------------------------------------------------------------------
    def answer(
        self,
        transport: Transport,
        response: requests.Response,
        *,
        insecure: bool,
        repo: str | None,
        scope: str | None,
        credentials: Credentials,
        actions: Sequence[str] | None,
        auth_host: str | None,
        user_agent: str = TOKEN_USER_AGENT,
    ) -> str | None:
        """python-dxf's ``authenticate`` rules for the answer ``response``: one that needs no
        credentials returns None; anything but a 401 raises :class:`DXFUnexpectedStatusCodeError`;
        over plain HTTP :class:`DXFAuthInsecureError`; a 401 without a challenge
        :class:`DXFUnauthorizedError`. Otherwise the challenge is answered (:meth:`authenticate`)
        and the token, if any, is filed under ``scope`` (see :func:`challenged_scope`)."""
        outcome = statuses.AUTH_PROBE.of(response)
        if outcome is Outcome.DONE:
            return None
        if outcome is not Outcome.CHALLENGED:
            raise DXFUnexpectedStatusCodeError(response.status_code, statuses.UNAUTHORIZED)
        if insecure:
            raise DXFAuthInsecureError()
        challenge = response.headers.get("WWW-Authenticate")
        if not challenge:
            raise DXFUnauthorizedError(response)
        return self.authenticate(
            transport,
            challenge,
            repo=repo,
            scope=scope,
            credentials=credentials,
            actions=actions,
            auth_host=auth_host,
            user_agent=user_agent,
        )

    def authenticate(
        self,
        transport: Transport,
        www_authenticate: str,
        *,
        repo: str | None,
        scope: str | None,
        credentials: Credentials,
        actions: Sequence[str] | None,
        auth_host: str | None,
        user_agent: str = TOKEN_USER_AGENT,
    ) -> str | None:
        """Answer a 401 challenge: fetch a bearer token, or set up basic auth. Returns the token.

        The token becomes the default for every request and, when ``scope`` is given, the cached
        token for that scope class (the request that was challenged). A direct ``authenticate()``
        has no such request, so its token is only the default.
        """
        challenges = parse_challenges(www_authenticate)
        bearer = find_challenge(challenges, "bearer")
        with self._lock:
            self._credentials = credentials
            self._auth_host = auth_host
        if bearer is None or "realm" not in bearer.params:
            with self._lock:
                self._default = credentials.header()
                self._default_token = None
            return None
        scopes = challenge_scopes(bearer, repo, actions)
        token = self.fetch_token(transport, bearer, scopes, credentials, auth_host, user_agent)
        with self._lock:
            self._bearer = bearer
            self._default = "Bearer " + token.value
            self._default_token = token
        self._store(token, scope)
        return token.value

    def credentials(self) -> Credentials | None:
        return self._credentials

    def _store(self, token: Token, scope_key: str | None) -> None:
        with self._lock:
            self._last_token = token.value
            if scope_key:
                self._tokens[scope_key] = token

    @staticmethod
    def fetch_token(
        transport: Transport,
        challenge: Challenge,
        scopes: Sequence[str],
        credentials: Credentials | None,
        auth_host: str | None,
        user_agent: str = TOKEN_USER_AGENT,
    ) -> Token:
        if credentials is not None and credentials.identity_token:
            return exchange_identity_token(transport, challenge, scopes, credentials, auth_host, user_agent)
        url = token_url(challenge.params["realm"], challenge.params.get("service"), scopes, auth_host)
        headers = {"User-Agent": user_agent}
        header = credentials.header() if credentials else None
        if header:
            headers["Authorization"] = header
        received_at = time.monotonic()
        response = transport.send("GET", url, headers=headers, stream=True)
        return _read_token_answer(response, scopes, received_at)


def _read_token_answer(response: Any, scopes: Sequence[str], received_at: float) -> Token:
    """The token in a token server's answer (read within :data:`MAX_TOKEN_RESPONSE_SIZE`); its
    refusals as our errors (401: :class:`DXFUnauthorizedError`)."""
    if not statuses.TOKEN_ANSWER.accepts(response):
        raise error_for_response(response, "token server")  # reads the body within its cap
    content = read_capped(response, MAX_TOKEN_RESPONSE_SIZE, "the token server's answer")
    try:
        body = json.loads(content)
    except ValueError as exc:
        raise DXFUnexpectedError("a non-JSON answer", "JSON from the token server") from exc
    return token_from_response(body, " ".join(scopes), received_at)


#: ``client_id`` sent with OAuth2 token requests (the Docker token spec asks clients to name themselves).
OAUTH_CLIENT_ID = "dxf"


def exchange_identity_token(
    transport: Transport,
    challenge: Challenge,
    scopes: Sequence[str],
    credentials: Credentials,
    auth_host: str | None,
    user_agent: str = TOKEN_USER_AGENT,
) -> Token:
    """Trade an identity (refresh) token for an access token: ``POST grant_type=refresh_token`` to
    the realm (Docker token spec, "OAuth2 token authentication", as docker, oras and crane do);
    where the realm refuses POST, the classic GET with the identity token as the basic password."""
    assert credentials.identity_token is not None
    service = challenge.params.get("service")
    url = token_url(challenge.params["realm"], None, [], auth_host)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": credentials.identity_token,
        "client_id": OAUTH_CLIENT_ID,
        "scope": " ".join(s for s in scopes if s),
    }
    if service:
        form["service"] = service
    headers = {"User-Agent": user_agent, "Content-Type": "application/x-www-form-urlencoded"}
    received_at = time.monotonic()
    response = transport.send("POST", url, headers=headers, body=urlencode(form).encode(), stream=True)
    if statuses.TOKEN_POST.of(response) is not Outcome.NO_OAUTH:
        return _read_token_answer(response, scopes, received_at)
    response.close()
    username = credentials.username or "<token>"
    basic = Credentials(username=username, password=credentials.identity_token)
    return AuthState.fetch_token(transport, challenge, scopes, basic, auth_host, user_agent)
