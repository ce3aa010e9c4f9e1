"""Token answers, realm URLs and scope choice."""

from __future__ import annotations

import pytest

from dxf.auth import Credentials, basic_header, challenge_scopes, token_from_response, token_url
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
