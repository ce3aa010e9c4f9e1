"""Tests for the ``WWW-Authenticate`` parser."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxf.challenge import Challenge, find_challenge, parse_challenges

DOCKER_HUB = (
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
    'scope="repository:library/alpine:pull"'
)


def test_docker_hub_bearer() -> None:
    assert parse_challenges(DOCKER_HUB) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/alpine:pull",
            },
        )
    ]


def test_basic_realm() -> None:
    assert parse_challenges('Basic realm="Registry Realm"') == [
        Challenge("basic", {"realm": "Registry Realm"})
    ]


def test_several_challenges_in_one_value() -> None:
    assert parse_challenges('Basic realm="a", Bearer realm="b",service="c"') == [
        Challenge("basic", {"realm": "a"}),
        Challenge("bearer", {"realm": "b", "service": "c"}),
    ]


def test_several_header_values() -> None:
    assert parse_challenges(['Basic realm="a"', 'Bearer realm="b", service=c']) == [
        Challenge("basic", {"realm": "a"}),
        Challenge("bearer", {"realm": "b", "service": "c"}),
    ]


def test_folded_header_values_like_requests() -> None:
    folded = ", ".join(["Negotiate", 'Basic realm="a"', DOCKER_HUB])
    assert [c.scheme for c in parse_challenges(folded)] == ["negotiate", "basic", "bearer"]


def test_comma_inside_quoted_string() -> None:
    (challenge,) = parse_challenges('Bearer realm="r",scope="repository:a/b:pull,push"')
    assert challenge.params == {"realm": "r", "scope": "repository:a/b:pull,push"}


def test_backslash_escapes() -> None:
    (challenge,) = parse_challenges(r'Basic realm="a\"b\\c\d"')
    assert challenge.params["realm"] == 'a"b\\cd'


def test_unquoted_values_and_whitespace_around_separators() -> None:
    (challenge,) = parse_challenges("Bearer  realm = https://auth/token ,\tservice=reg ,  scope =x")
    assert challenge.params == {"realm": "https://auth/token", "service": "reg", "scope": "x"}


def test_empty_list_elements() -> None:
    assert parse_challenges(',, Basic realm="a" ,, , Bearer realm=b,,service=c,,') == [
        Challenge("basic", {"realm": "a"}),
        Challenge("bearer", {"realm": "b", "service": "c"}),
    ]


def test_empty_quoted_value() -> None:
    assert parse_challenges('Basic realm=""') == [Challenge("basic", {"realm": ""})]


@pytest.mark.parametrize(
    ("header", "token68"),
    [("Negotiate abc==", "abc=="), ("Negotiate a/b+c~d.e_f-g", "a/b+c~d.e_f-g"), ("X y= ", "y=")],
)
def test_token68(header: str, token68: str) -> None:
    assert parse_challenges(header) == [Challenge(header.split()[0].lower(), token68=token68)]


def test_token68_followed_by_another_challenge() -> None:
    assert parse_challenges('Negotiate abc==, Basic realm="a"') == [
        Challenge("negotiate", token68="abc=="),
        Challenge("basic", {"realm": "a"}),
    ]


def test_scheme_alone() -> None:
    assert parse_challenges("Negotiate, NTLM") == [Challenge("negotiate"), Challenge("ntlm")]


def test_scheme_and_keys_are_lowercased_values_are_not() -> None:
    (challenge,) = parse_challenges('BEARER Realm="HTTPS://Auth"')
    assert challenge == Challenge("bearer", {"realm": "HTTPS://Auth"})


def test_unknown_schemes_are_kept() -> None:
    assert [c.scheme for c in parse_challenges('Foo a=1, Bearer realm="r"')] == ["foo", "bearer"]


def test_repeated_parameter_keeps_first() -> None:
    (challenge,) = parse_challenges('Bearer realm="first", REALM="second"')
    assert challenge.params == {"realm": "first"}


def test_obs_fold_whitespace() -> None:
    (challenge,) = parse_challenges('Bearer realm="r",\r\n service="s"')
    assert challenge.params == {"realm": "r", "service": "s"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", []),
        ("   ,  ,", []),
        # parameters without a scheme are not challenges
        ('realm="x", service="y"', []),
        # an unterminated quoted string swallows the rest of the value
        ('Bearer realm="r", service="s', [Challenge("bearer", {"realm": "r"})]),
        # a parameter without a value is dropped, its neighbours kept
        ("Bearer realm=r, service=, scope=s", [Challenge("bearer", {"realm": "r", "scope": "s"})]),
        # stray text after a value drops that parameter only
        ('Bearer realm="r" junk, service=s', [Challenge("bearer", {"service": "s"})]),
        # a bad character where a scheme should be skips that element
        ('"quoted", Basic realm=a', [Challenge("basic", {"realm": "a"})]),
        ("@@@ x=y, Basic realm=a", [Challenge("basic", {"realm": "a"})]),
        # a scheme glued to garbage is not a challenge
        ('Basic"realm", Bearer realm=b', [Challenge("bearer", {"realm": "b"})]),
        # token68-looking text followed by more text is neither
        ("Negotiate abc== xyz, Basic", [Challenge("negotiate"), Challenge("basic")]),
        ("Bearer realm=a=b", [Challenge("bearer", {"realm": "a=b"})]),
        # a trailing backslash inside quotes leaves the string unterminated
        ('Basic realm="a\\', [Challenge("basic")]),
    ],
)
def test_malformed_input_best_effort(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges(header) == expected


def test_non_string_items_are_ignored() -> None:
    assert parse_challenges([b"Basic realm=a", "Basic realm=b"]) == [Challenge("basic", {"realm": "b"})]  # type: ignore[list-item]


def test_find_challenge() -> None:
    challenges = parse_challenges('Basic realm="a", Bearer realm="b", Bearer realm="c"')
    assert find_challenge(challenges, "BEARER") == Challenge("bearer", {"realm": "b"})
    assert find_challenge(challenges, "basic") == Challenge("basic", {"realm": "a"})
    assert find_challenge(challenges, "digest") is None
    assert find_challenge([], "basic") is None


# --- property tests -------------------------------------------------------------------------------

_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
tokens = st.text(alphabet=_TOKEN_CHARS, min_size=1, max_size=8)
token68s = st.builds(
    str.__add__,
    st.text(alphabet="abcXYZ019-._~+/", min_size=1, max_size=10),
    st.sampled_from(["", "=", "=="]),
)
ows = st.sampled_from(["", " ", "  ", "\t"])
separators = st.sampled_from([",", ", ", " , ", ",,", ", ,\t", ",\t"])


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def challenge_and_text(draw: st.DrawFn) -> tuple[Challenge, str]:
    scheme = draw(tokens)
    kind = draw(st.sampled_from(["bare", "token68", "params"]))
    if kind == "bare":
        return Challenge(scheme.lower()), scheme
    if kind == "token68":
        token68 = draw(token68s)
        return Challenge(scheme.lower(), token68=token68), f"{scheme} {token68}{draw(ows)}"
    names = draw(st.lists(tokens, min_size=1, max_size=3, unique_by=str.lower))
    params: dict[str, str] = {}
    parts: list[str] = []
    for name in names:
        value = draw(st.one_of(tokens, st.text(max_size=12)))
        params[name.lower()] = value
        unquoted = _TOKEN_RE.fullmatch(value) is not None and draw(st.booleans())
        parts.append(f"{name}{draw(ows)}={draw(ows)}{value if unquoted else _quote(value)}")
    text = scheme + " " + draw(ows)
    for i, part in enumerate(parts):
        text += (draw(separators) if i else "") + part
    return Challenge(scheme.lower(), params), text


@given(st.lists(challenge_and_text(), max_size=4), separators, st.booleans())
def test_round_trip(items: list[tuple[Challenge, str]], separator: str, as_list: bool) -> None:
    expected = [challenge for challenge, _ in items]
    texts = [text for _, text in items]
    parsed = parse_challenges(texts) if as_list else parse_challenges(separator.join(texts))
    assert parsed == expected


@given(st.text())
def test_never_raises_on_arbitrary_text(text: str) -> None:
    for challenge in parse_challenges(text):
        assert challenge.scheme == challenge.scheme.lower()
        assert all(key == key.lower() for key in challenge.params)
        assert not (challenge.params and challenge.token68)


@given(st.lists(st.text(alphabet=' \t,="\\abAB=/@', max_size=30), max_size=4))
def test_never_raises_on_header_like_text(values: list[str]) -> None:
    parse_challenges(values)
