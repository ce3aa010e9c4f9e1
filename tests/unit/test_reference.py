"""Tests for repository names, tags, hosts and references."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dxf.digest import Digest
from dxf.exceptions import DXFInvalidReferenceError, DXFUnexpectedDigestMethodError
from dxf.reference import (
    Reference,
    is_digest_reference,
    normalize_host,
    repository_path,
    validate_repository,
    validate_tag,
)

DIGEST = Digest.of_bytes(b"hello")


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "alpine",
        "library/alpine",
        "my-org/my.repo/sub_dir/x",
        "a__b",
        "a---b",
        "a.b_c-d",
        "0/1/2",
        "a" * 255,
        "/".join(["abc"] * 63) + "/ab",
    ],
)
def test_valid_repository(name: str) -> None:
    assert validate_repository(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Alpine",
        "a..b",
        "a//b",
        "/a",
        "a/",
        "a b",
        "a%2fb",
        "a/../b",
        "..",
        "a___b",
        "-a",
        "a-",
        "a_.b",
        "a\n",
        "a:b",
        "a@b",
        "é",
        "a" * 256,
    ],
)
def test_invalid_repository(name: str) -> None:
    with pytest.raises(DXFInvalidReferenceError):
        validate_repository(name)


def test_invalid_repository_message_names_value_but_stays_short() -> None:
    with pytest.raises(DXFInvalidReferenceError, match="'Bad/Name'"):
        validate_repository("Bad/Name")
    with pytest.raises(DXFInvalidReferenceError) as info:
        validate_repository("X" * 10_000)
    assert len(str(info.value)) < 250
    assert "XXXX..." in str(info.value)


def test_overlong_repository_message_gives_length() -> None:
    with pytest.raises(DXFInvalidReferenceError, match="256 characters"):
        validate_repository("a" * 256)


def test_non_string_repository() -> None:
    with pytest.raises(DXFInvalidReferenceError, match="not a string"):
        validate_repository(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A-b.C_d", "0", "a" * 128])
def test_valid_tag(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", ".x", "-x", "a:b", "a/b", "a b", "a" * 129, "a\n", "é", "a@b"])
def test_invalid_tag(tag: str) -> None:
    with pytest.raises(DXFInvalidReferenceError, match="invalid tag"):
        validate_tag(tag)


def test_non_string_tag() -> None:
    with pytest.raises(DXFInvalidReferenceError):
        validate_tag(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (str(DIGEST), True),
        ("sha512:" + "0" * 128, True),
        ("sha384:abc", True),  # right shape, unsupported algorithm: Digest.parse says why
        ("latest", False),
        ("sha256", False),
        ("sha256:", False),
        (":abc", False),
        ("sha256:abc/def", False),
        ("Sha256:abc", False),
    ],
)
def test_is_digest_reference(text: str, expected: bool) -> None:
    assert is_digest_reference(text) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("docker.io", "registry-1.docker.io"),
        ("index.docker.io", "registry-1.docker.io"),
        ("Docker.IO", "registry-1.docker.io"),
        ("docker.io:443", "registry-1.docker.io:443"),
        ("index.docker.io:5000", "registry-1.docker.io:5000"),
        ("registry-1.docker.io", "registry-1.docker.io"),
        ("localhost:5000", "localhost:5000"),
        ("ghcr.io", "ghcr.io"),
        ("mydocker.io", "mydocker.io"),
        ("[::1]:5000", "[::1]:5000"),
    ],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


@pytest.mark.parametrize(
    ("host", "repo", "expected"),
    [
        ("docker.io", "alpine", "library/alpine"),
        ("registry-1.docker.io", "alpine", "library/alpine"),
        ("registry-1.docker.io:443", "alpine", "library/alpine"),
        ("notdocker.io", "alpine", "library/alpine"),  # python-dxf's suffix test
        ("docker.io", "me/alpine", "me/alpine"),
        ("localhost:5000", "alpine", "alpine"),
        ("docker.io.example.com", "alpine", "alpine"),
    ],
)
def test_repository_path(host: str, repo: str, expected: str) -> None:
    assert repository_path(host, repo) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alpine", Reference("docker.io", "alpine")),
        ("alpine:3.19", Reference("docker.io", "alpine", "3.19")),
        ("me/repo:tag", Reference("docker.io", "me/repo", "tag")),
        ("localhost/repo", Reference("localhost", "repo")),
        ("localhost:5000/a/b:t", Reference("localhost:5000", "a/b", "t")),
        ("ghcr.io/org/repo", Reference("ghcr.io", "org/repo")),
        ("127.0.0.1:5000/repo:t", Reference("127.0.0.1:5000", "repo", "t")),
        ("[::1]:5000/repo", Reference("[::1]:5000", "repo")),
        (f"repo@{DIGEST}", Reference("docker.io", "repo", None, DIGEST)),
        (f"r.io/repo:t@{DIGEST}", Reference("r.io", "repo", "t", DIGEST)),
        ("localhost", Reference("docker.io", "localhost")),
    ],
)
def test_parse_reference(text: str, expected: Reference) -> None:
    assert Reference.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Upper/repo",
        "repo:",
        "repo:bad tag",
        "repo@",
        "repo@sha256:xyz",
        "/repo",
        "r.io/",
        "r.io//repo",
        "bad_host.io/repo",
        "r.io:port/repo",
        "a/b:c/d",
    ],
)
def test_parse_invalid_reference(text: str) -> None:
    with pytest.raises(DXFInvalidReferenceError):
        Reference.parse(text)


def test_parse_unsupported_digest_algorithm() -> None:
    with pytest.raises(DXFUnexpectedDigestMethodError):
        Reference.parse("repo@md5:" + "0" * 32)


def test_direct_construction_is_validated() -> None:
    with pytest.raises(DXFInvalidReferenceError):
        Reference("docker.io", "a..b")
    with pytest.raises(DXFInvalidReferenceError):
        Reference("docker.io", "a", "-tag")
    with pytest.raises(DXFInvalidReferenceError):
        Reference("docker.io", "a", None, str(DIGEST))  # type: ignore[arg-type]
    with pytest.raises(DXFInvalidReferenceError):
        Reference("a b", "a")


def test_reference_str_and_properties() -> None:
    ref = Reference.parse(f"alpine:3@{DIGEST}")
    assert str(ref) == f"docker.io/alpine:3@{DIGEST}"
    assert ref.host == "registry-1.docker.io"
    assert ref.path == "library/alpine"
    local = Reference.parse("localhost:5000/x")
    assert (str(local), local.host, local.path) == ("localhost:5000/x", "localhost:5000", "x")


# --- property tests -------------------------------------------------------------------------------

components = st.from_regex(r"[a-z0-9]{1,6}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,6}){0,2}", fullmatch=True)
repositories = st.lists(components, min_size=1, max_size=5).map("/".join)
tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True)
registries = st.sampled_from(["docker.io", "localhost", "localhost:5000", "r.example.com", "10.0.0.1:443"])


@given(repositories)
def test_generated_names_are_accepted(name: str) -> None:
    assert validate_repository(name) == name


@given(
    repositories,
    st.sampled_from(["..", "A", "//", " ", "%2f", "\\", "\x00", ":", "@"]),
    st.integers(min_value=0),
)
def test_names_with_bad_sequences_are_rejected(name: str, bad: str, where: int) -> None:
    at = where % (len(name) + 1)
    with pytest.raises(DXFInvalidReferenceError):
        validate_repository(name[:at] + bad + name[at:])


@given(repositories)
def test_leading_or_trailing_slash_is_rejected(name: str) -> None:
    for bad in ("/" + name, name + "/"):
        with pytest.raises(DXFInvalidReferenceError):
            validate_repository(bad)


@given(components, st.integers(min_value=256, max_value=600))
def test_overlong_names_are_rejected(component: str, length: int) -> None:
    name = "/".join([component] * (length // (len(component) + 1) + 1))
    assume(len(name) > 255)
    with pytest.raises(DXFInvalidReferenceError):
        validate_repository(name)


@given(tags)
def test_generated_tags_are_accepted(tag: str) -> None:
    assert validate_tag(tag) == tag


@given(st.text(max_size=140))
def test_tag_validation_matches_grammar(tag: str) -> None:
    valid = re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", tag, re.ASCII) is not None
    try:
        validate_tag(tag)
    except DXFInvalidReferenceError:
        assert not valid
    else:
        assert valid


@given(registries, repositories, st.none() | tags, st.none() | st.binary(max_size=8).map(Digest.of_bytes))
def test_reference_round_trip(registry: str, repo: str, tag: str | None, digest: Digest | None) -> None:
    ref = Reference(registry, repo, tag, digest)
    assert Reference.parse(str(ref)) == ref
