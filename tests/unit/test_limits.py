"""``read_capped`` and ``read_error_body``: the readers of bodies held in memory, whatever ``Content-Length``
says (an error body is cut at its cap instead of refused)."""

from __future__ import annotations

import io

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from dxf.download import declared_length
from dxf.exceptions import DXFProtocolError
from dxf.limits import MAX_ERROR_BODY_SIZE, error_body_complete, header_int, read_capped, read_error_body


def _response(body: bytes, content_length: str | None) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.raw = io.BytesIO(body)
    if content_length is not None:
        response.headers["Content-Length"] = content_length
    return response


@given(st.binary(max_size=64), st.none() | st.text(max_size=8))
def test_a_body_within_the_cap_is_read_whatever_content_length_says(
    body: bytes, declared: str | None
) -> None:
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > 64:
        return
    assert read_capped(_response(body, declared), 64, "a page") == body


@given(st.binary(min_size=65, max_size=200), st.none() | st.sampled_from(["", "²", "10", "abc"]))
def test_a_body_over_the_cap_is_refused(body: bytes, declared: str | None) -> None:
    with pytest.raises(DXFProtocolError, match="it is longer"):
        read_capped(_response(body, declared), 64, "a page")


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    with pytest.raises(DXFProtocolError, match="it declares 65 bytes"):
        read_capped(_response(b"", "65"), 64, "a page")


@given(st.text(max_size=12))
def test_header_int_takes_plain_ascii_digits_only(value: str) -> None:
    number = header_int(value)
    if value.isascii() and value.isdigit():
        assert number == int(value)
    else:
        assert number is None


def test_header_numbers_that_are_unicode_digits_are_not_numbers() -> None:
    """``"²".isdigit()`` is true and ``int("²")`` raises: Content-Length, a Range end and
    OCI-Chunk-Min-Length all go through :func:`header_int` instead."""
    assert header_int("²") is None and header_int(None) is None and header_int("") is None
    response = requests.Response()
    response.headers["Content-Length"] = "²"
    assert declared_length(response) is None


@pytest.mark.parametrize(
    "length", [0, 10, MAX_ERROR_BODY_SIZE, MAX_ERROR_BODY_SIZE + 1, 5 * MAX_ERROR_BODY_SIZE]
)
def test_an_error_body_is_read_up_to_one_byte_past_its_cap(length: int) -> None:
    response = _response(b"e" * length, str(length))
    content = read_error_body(response)
    assert content == b"e" * min(length, MAX_ERROR_BODY_SIZE + 1)
    assert error_body_complete(content) == (length <= MAX_ERROR_BODY_SIZE)
    assert read_error_body(response) == content and response.content == content  # read once, kept


def test_an_error_body_made_by_hand_is_empty() -> None:
    assert read_error_body(requests.Response()) == b""
