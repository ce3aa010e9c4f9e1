"""Digest parsing and hashing."""

from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxf.digest import Digest, hash_bytes, split_digest
from dxf.exceptions import DXFInvalidReferenceError, DXFUnexpectedDigestMethodError


@given(st.binary(max_size=4096))
def test_hashes_agree_with_hashlib(data: bytes) -> None:
    expected = "sha256:" + hashlib.sha256(data).hexdigest()
    assert hash_bytes(data) == expected
    assert str(Digest.of_stream(io.BytesIO(data))) == expected
    assert str(Digest.of_chunks([data[:7], data[7:]])) == expected
    assert str(Digest.parse(expected)) == expected


@given(st.text(max_size=200))
def test_parse_never_accepts_garbage_silently(text: str) -> None:
    try:
        digest = Digest.parse(text)
    except ValueError:
        return
    assert str(digest) == text
    assert "/" not in text and ".." not in text


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256",
        "sha256:",
        "sha256:" + "g" * 64,
        "sha256:" + "A" * 64,
        "sha256:../../x",
        "SHA256:" + "0" * 64,
        "sha256:" + "0" * 65,
        "sha512:" + "0" * 64,
    ],
)
def test_malformed_digests_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        Digest.parse(bad)


def test_unsupported_algorithm_is_the_python_dxf_error() -> None:
    with pytest.raises(DXFUnexpectedDigestMethodError) as info:
        split_digest("md5:" + "0" * 32)
    assert info.value.got == "md5"
    with pytest.raises(DXFInvalidReferenceError):
        split_digest("sha256:short")


def test_sha512_and_verification_helpers() -> None:
    digest = Digest.of_bytes(b"abc", "sha512")
    assert split_digest(str(digest)) == ("sha512", hashlib.sha512(b"abc").hexdigest())
    hasher = digest.hasher()
    hasher.update(b"abc")
    assert digest.matches(hasher)
    assert not Digest.of_bytes(b"abc").matches(hasher)
    assert digest.short == "sha512:" + digest.hex[:12]
