"""The transport's retry and redirect rules at their edges, without a network (issue 9)."""

from __future__ import annotations

import email.utils
import time

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from dxf.exceptions import DXFSecurityError
from dxf.transport import RetryPolicy, check_followable, retry_after_seconds, same_origin


def _answer(retry_after: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = retry_after
    return response


@given(
    backoff=st.floats(0.001, 10),
    max_backoff=st.floats(0.001, 100),
    attempt=st.integers(1, 200),
)
def test_backoff_never_exceeds_its_exponential_ceiling(
    backoff: float, max_backoff: float, attempt: int
) -> None:
    policy = RetryPolicy(backoff=backoff, max_backoff=max_backoff)
    assert 0 <= policy.delay(attempt, None) <= min(max_backoff, backoff * 2 ** (attempt - 1))


def test_backoff_is_full_jitter_over_the_whole_range() -> None:
    """Waits spread from near 0 to near the ceiling, so clients refused together do not return together."""
    policy = RetryPolicy(backoff=0.5, max_backoff=30)
    waits = [policy.delay(4, None) for _ in range(400)]  # ceiling 0.5 * 2**3 = 4 s
    assert min(waits) < 0.2 and max(waits) > 3.8
    assert len(set(waits)) == len(waits)


def test_retry_after_in_seconds_and_as_a_date_is_obeyed_and_capped() -> None:
    policy = RetryPolicy(max_retry_after=120)
    assert policy.delay(3, _answer("7")) == 7.0  # a hint replaces the backoff, whatever the attempt
    assert policy.delay(1, _answer("100000")) == 120
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8 <= policy.delay(1, _answer(in_ten)) <= 10
    in_a_day = email.utils.formatdate(time.time() + 86400, usegmt=True)
    assert policy.delay(1, _answer(in_a_day)) == 120
    assert policy.delay(1, _answer(email.utils.formatdate(time.time() - 60, usegmt=True))) == 0.0


@pytest.mark.parametrize("value", ["", "soon", "-5", "1.5", "Mon, 99 Foo 2020 25:00:00 GMT"])
def test_a_retry_after_we_cannot_read_falls_back_to_backoff(value: str) -> None:
    assert retry_after_seconds(value) is None
    policy = RetryPolicy(backoff=0.5, max_backoff=30)
    assert 0 <= policy.delay(1, _answer(value)) <= 0.5


def test_retry_after_tolerates_surrounding_space() -> None:
    assert retry_after_seconds(" 12 ") == 12.0


def test_origins_compare_default_ports_and_scheme() -> None:
    assert same_origin("http://r.example/v2/", "http://R.EXAMPLE:80/v2/x")
    assert not same_origin("https://r.example/", "https://r.example:8443/")
    assert not same_origin("http://r.example:443/", "https://r.example/")


def test_redirects_that_keep_or_raise_security_are_followable() -> None:
    check_followable("http://r.example/v2/", "https://s3.example/b", carries_credentials=False)
    check_followable("http://r.example/v2/", "http://s3.example/b", carries_credentials=False)
    check_followable("https://r.example/v2/", "https://r.example:443/v2/up/1", carries_credentials=True)
    check_followable(
        "https://r.example/v2/", "https://s3.example/b", carries_credentials=False, to_plain_storage=True
    )


def test_credentials_stay_on_the_origin_even_without_a_downgrade() -> None:
    for elsewhere in ("https://r.example:8443/up", "https://evil.example/up", "http://r.example/up"):
        with pytest.raises(DXFSecurityError):
            check_followable("https://r.example/v2/", elsewhere, carries_credentials=True)


def test_refusals_name_the_target_without_its_secrets() -> None:
    with pytest.raises(DXFSecurityError) as refused:
        check_followable(
            "https://r.example/v2/",
            "http://user:pw@s3.example/b?X-Signature=s3cret",
            carries_credentials=False,
        )
    assert "http://s3.example/b" in str(refused.value)
    assert not any(s in str(refused.value) for s in ("pw", "s3cret", "user"))
