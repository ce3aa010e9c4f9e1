"""``read_capped``: the one reader of bodies held in memory, whatever ``Content-Length`` says."""

from __future__ import annotations

import io

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from dxf.exceptions import DXFProtocolError
from dxf.limits import read_capped


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
