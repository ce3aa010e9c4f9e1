"""Retry timing, Retry-After parsing and the origin rules, without a network."""

from __future__ import annotations

import email.utils

import pytest
import requests

from dxf.exceptions import (
    DXFHTTPError,
    DXFNotFoundError,
    DXFSecurityError,
    DXFUnauthorizedError,
    error_for_response,
)
from dxf.transport import (
    REDACTED,
    RetryPolicy,
    check_followable,
    origin,
    redact_headers,
    redact_url,
    retry_after_seconds,
    same_origin,
)


def test_retry_after_forms() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    now = 1_000_000.0
    assert retry_after_seconds(email.utils.formatdate(now + 20, usegmt=True), now=now) == pytest.approx(
        20, abs=1
    )
    assert retry_after_seconds(email.utils.formatdate(now - 20, usegmt=True), now=now) == 0.0


def _response(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = {401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}.get(status, "Error")
    response.headers.update(headers or {})
    response._content = body
    return response


def test_backoff_is_bounded_and_honours_retry_after() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=4.0, max_retry_after=60)
    for attempt in range(1, 10):
        assert 0 <= policy.delay(attempt, None) <= min(4.0, 0.5 * 2 ** (attempt - 1))
    assert policy.delay(1, _response(429, {"Retry-After": "7"})) == 7.0
    assert policy.delay(1, _response(429, {"Retry-After": "9999"})) == 60


def test_origins() -> None:
    assert origin("https://Registry.example:443/v2/") == ("https", "registry.example", 443)
    assert same_origin("https://a.example/v2/x", "https://a.example:443/other")
    assert not same_origin("https://a.example/", "https://b.example/")
    assert not same_origin("https://a.example/", "http://a.example/")


def test_followable_rules() -> None:
    check_followable("https://r.example/v2/", "https://s3.example/bucket", carries_credentials=False)
    with pytest.raises(DXFSecurityError):
        check_followable("https://r.example/v2/", "http://s3.example/bucket", carries_credentials=False)
    with pytest.raises(DXFSecurityError):
        check_followable("https://r.example/v2/", "https://other.example/upload", carries_credentials=True)
    check_followable("http://r.example/v2/", "http://r.example/v2/uploads/1", carries_credentials=True)


def test_plain_storage_is_followable_only_without_credentials() -> None:
    here, storage = "https://r.example/v2/x/blobs/sha256:0", "http://s3.internal/bucket/data?X-Sig=1"
    check_followable(here, storage, carries_credentials=False, to_plain_storage=True)
    with pytest.raises(DXFSecurityError):
        check_followable(here, storage, carries_credentials=True, to_plain_storage=True)
    with pytest.raises(DXFSecurityError):
        check_followable(here, "ftp://s3.internal/data", carries_credentials=False, to_plain_storage=True)


def test_redaction_drops_query_and_userinfo() -> None:
    assert (
        redact_url("https://user:pw@s3.example:9000/b/k?X-Amz-Signature=abc") == "https://s3.example:9000/b/k"
    )


def test_error_mapping() -> None:
    body = b'{"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry"}]}'
    error = error_for_response(_response(404, {"Content-Type": "application/json"}, body))
    assert isinstance(error, DXFNotFoundError) and isinstance(error, requests.exceptions.HTTPError)
    assert str(error) == "404 Not Found (blob unknown to registry)"
    assert error.errors[0]["code"] == "BLOB_UNKNOWN"
    assert isinstance(error_for_response(_response(401)), DXFUnauthorizedError)
    other = error_for_response(_response(429), "token server")
    assert type(other) is DXFHTTPError and str(other) == "token server: 429 Too Many Requests"


def test_observers_see_secret_headers_as_their_scheme_only() -> None:
    sent = {
        "Authorization": "Bearer eyJ.secret.token",
        "proxy-authorization": "Basic c2VjcmV0",
        "Cookie": "session=secret",
        "Accept": "application/json",
    }
    assert redact_headers(sent) == {
        "Authorization": f"Bearer {REDACTED}",
        "proxy-authorization": f"Basic {REDACTED}",
        "Cookie": REDACTED,
        "Accept": "application/json",
    }


def test_redacted_urls_keep_ipv6_brackets() -> None:
    assert redact_url("http://u:p@[::1]:5000/v2/x?token=s") == "http://[::1]:5000/v2/x"
    assert redact_url("https://[fe80::1]/v2/") == "https://[fe80::1]/v2/"
