"""Token answers, realm URLs and scope choice."""

from __future__ import annotations

import io
import json
import time

import pytest
import requests

from dxf.auth import AuthState, Credentials, basic_header, challenge_scopes, token_from_response, token_url
from dxf.challenge import parse_challenges
from dxf.exceptions import DXFSecurityError, DXFUnexpectedError


def test_token_answer_variants() -> None:
    token = token_from_response({"token": "t", "access_token": "", "expires_in": 300}, "s", received_at=100.0)
    assert token.value == "t" and token.scope == "s"
    assert token.refresh_at == pytest.approx(100 + 300 - 30)
    assert token_from_response({"access_token": "a", "token": "t"}, "s", 0).value == "a"
    short = token_from_response({"token": "t", "expires_in": 3}, "s", 0)
    assert short.refresh_at == pytest.approx(2.0)
    assert token_from_response({"token": "t"}, "s", 0).refresh_at == pytest.approx(40.0)  # default 60 s
    with pytest.raises(DXFUnexpectedError):
        token_from_response({"token": ""}, "s", 0)
    with pytest.raises(DXFUnexpectedError):
        token_from_response(["t"], "s", 0)


def test_token_url() -> None:
    url = token_url(
        "https://auth.example/token?x=1", "reg", ["repository:a/b:pull", "registry:catalog:*"], None
    )
    assert url == (
        "https://auth.example/token?x=1&service=reg&scope=repository%3Aa%2Fb%3Apull&scope=registry%3Acatalog%3A%2A"
    )
    assert token_url("https://auth.example/token", None, [], "other:8443") == "https://other:8443/token"
    with pytest.raises(DXFSecurityError):
        token_url("http://auth.example/token", "reg", [], None)


def test_scope_choice_follows_python_dxf() -> None:
    (challenge,) = parse_challenges('Bearer realm="https://a/t",service="r",scope="repository:x/y:pull"')
    assert challenge_scopes(challenge, "x/y", ["pull", "push"]) == ["repository:x/y:pull,push"]
    assert challenge_scopes(challenge, "x/y", None) == ["repository:x/y:pull"]
    (bare,) = parse_challenges('Bearer realm="https://a/t"')
    assert challenge_scopes(bare, None, None) == ["registry:catalog:*"]
    assert challenge_scopes(bare, "x/y", None) == []
    (two,) = parse_challenges('Bearer realm="https://a/t",scope="repository:a:pull repository:b:pull"')
    assert challenge_scopes(two, "a", None) == ["repository:a:pull", "repository:b:pull"]


def test_credentials_never_show_in_repr() -> None:
    creds = Credentials("fred", "hunter2", None)
    assert "hunter2" not in repr(creds)
    assert creds.header() == basic_header("fred", "hunter2") == "Basic ZnJlZDpodW50ZXIy"
    assert Credentials(authorization="Bearer x").header() == "Bearer x"


class _TokenRealm:
    """Stands in for the transport on token requests only: answers each with the next token, and
    records what it was asked (no network; a registry request would fail the test)."""

    def __init__(self, expires_in: float) -> None:
        self.expires_in = expires_in
        self.asked: list[tuple[str, str | None]] = []

    def send(self, method: str, url: str, *, headers: dict[str, str], **_: object) -> requests.Response:
        assert url.startswith("https://auth.example/token?"), url
        self.asked.append((url, headers.get("Authorization")))
        body = {"token": f"t{len(self.asked)}", "expires_in": self.expires_in}
        response = requests.Response()
        response.status_code = 200
        response.raw = io.BytesIO(json.dumps(body).encode())
        return response


def _authenticated(realm: _TokenRealm) -> AuthState:
    state = AuthState()
    state.authenticate(
        realm,  # type: ignore[arg-type]
        'Bearer realm="https://auth.example/token",service="reg"',
        repo="a/b",
        scope="a/b:push",
        credentials=Credentials("fred", "hunter2"),
        actions=["pull", "push"],
        auth_host=None,
    )
    return state


def test_a_fresh_token_is_used_as_it_is() -> None:
    realm = _TokenRealm(expires_in=300)
    state = _authenticated(realm)
    assert state.header_for("a/b:push", realm) == "Bearer t1"  # type: ignore[arg-type]
    assert len(realm.asked) == 1


def test_a_token_near_its_end_is_renewed_before_use_with_the_same_credentials() -> None:
    """A lifetime of a microsecond puts the refresh point (two thirds of it) behind us by the time
    the next request asks for a header, without waiting."""
    realm = _TokenRealm(expires_in=1e-6)
    state = _authenticated(realm)
    assert state.header_for("a/b:push", realm) == "Bearer t2"  # type: ignore[arg-type]
    assert len(realm.asked) == 2 and realm.asked[1] == realm.asked[0]  # same scope, same credentials
    assert realm.asked[1][1] == basic_header("fred", "hunter2")
    assert state.token == "t2"


def test_token_freshness_is_monotonic_time_against_the_refresh_point() -> None:
    now = time.monotonic()
    token = token_from_response({"token": "t", "expires_in": 90}, "s", received_at=now)
    assert token.refresh_at == pytest.approx(now + 60)  # renewed with a third of its life left
    assert token.fresh(now + 59.9) and not token.fresh(now + 60)
    assert not token_from_response({"token": "t", "expires_in": 90}, "s", received_at=now - 61).fresh()
