"""The ``dxf`` command's environment and argument checks, and its failure lines: no registry needed."""

from __future__ import annotations

import http.client

import pytest
import requests
import urllib3
from hypothesis import given
from hypothesis import strategies as st

from dxf import exceptions as ex
from dxf.cli.environment import MAX_TIMEOUT, ConfigError, progress_wanted, read_settings
from dxf.cli.errors import classify, report
from dxf.cli.grammar import check_arguments
from dxf.exceptions import MAX_DETAIL_CHARS, describe_response, printable
from dxf.limits import MAX_ERROR_BODY_SIZE

DIGEST = "sha256:" + "ab" * 32
HOST = {"DXF_HOST": "localhost:5000"}


# -- DXF_HOST and DXF_AUTH_HOST ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host", ["localhost", "localhost:5000", "registry.example.com:443", "127.0.0.1:1", "[::1]:5000", "[::1]"]
)
def test_hosts_accepted(host: str) -> None:
    assert read_settings({"DXF_HOST": host}).host == host
    assert read_settings({**HOST, "DXF_AUTH_HOST": host}).auth_host == host


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("fred:s3cretpw@registry.example.com", "user name or password"),
        ("https://registry.example.com", "scheme"),
        ("registry.example.com/v2", "path or query"),
        ("registry.example.com?x=1", "path or query"),
        ("localhost:99999", "port must be 1 to 65535"),
        ("localhost:0", "port must be 1 to 65535"),
        ("::1", "IPv6 address needs brackets"),
        ("::1:5000", "IPv6 address needs brackets"),
        ("[nothex]:5000", "not a valid host name"),
        ("local host", "not a valid host name"),
    ],
)
@pytest.mark.parametrize("key", ["DXF_HOST", "DXF_AUTH_HOST"])
def test_hosts_rejected_without_echoing_them(key: str, host: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        read_settings({**HOST, key: host})
    message = str(info.value)
    assert message.startswith(f"{key} must be host[:port], e.g. localhost:5000 or [::1]:5000 (")
    assert message.endswith(f"{problem})")
    assert "s3cretpw" not in message and "fred" not in message and "example" not in message


# -- yes/no variables ----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["DXF_INSECURE", "DXF_SKIPTLSVERIFY", "DXF_BLOB_INFO"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[("1", True), ("true", True), ("YES", True), (" On ", True)],
        *[("0", False), ("False", False), ("no", False), ("OFF", False), ("", False)],
    ],
)
def test_boolean_spellings(key: str, value: str, expected: bool) -> None:
    settings = read_settings({**HOST, key: value})
    got = {
        "DXF_INSECURE": settings.insecure,
        "DXF_SKIPTLSVERIFY": settings.tlsverify is False,
        "DXF_BLOB_INFO": settings.blob_info,
    }[key]
    assert got is expected


@pytest.mark.parametrize("key", ["DXF_INSECURE", "DXF_SKIPTLSVERIFY", "DXF_BLOB_INFO", "DXF_DEBUG"])
@pytest.mark.parametrize("value", ["2", "y", "enable", "truee"])
def test_boolean_misspellings_rejected(key: str, value: str) -> None:
    with pytest.raises(
        ConfigError, match=f"^{key} must be 1/0, true/false, yes/no or on/off, not '{value}'$"
    ):
        read_settings({**HOST, key: value})


def test_progress_keeps_python_dxf_any_other_value_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", Terminal())
    assert progress_wanted({"DXF_PROGRESS": "off"}) is False
    assert progress_wanted({"DXF_PROGRESS": "No"}) is False
    assert progress_wanted({"DXF_PROGRESS": "auto"}) is True  # any other value: when stderr is a tty
    monkeypatch.setattr("sys.stderr", None)
    assert progress_wanted({"DXF_PROGRESS": "TRUE"}) is True
    assert progress_wanted({"DXF_PROGRESS": "auto"}) is False


# -- numbers -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["inf", "Infinity", "1e12", "nan", str(MAX_TIMEOUT * 2)])
def test_timeout_must_be_finite_and_bounded(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^DXF_TIMEOUT must be"):
        read_settings({**HOST, "DXF_TIMEOUT": value})
    assert read_settings({**HOST, "DXF_TIMEOUT": str(MAX_TIMEOUT)}).timeout == MAX_TIMEOUT


def test_host_requests_is_a_positive_integer_or_the_module_default() -> None:
    assert read_settings({**HOST, "DXF_HOST_REQUESTS": " 3 "}).host_requests == 3
    assert read_settings({**HOST, "DXF_HOST_REQUESTS": ""}).host_requests is None
    assert read_settings(HOST).host_requests is None
    with pytest.raises(ConfigError, match=r"^DXF_HOST_REQUESTS must be a positive integer, not '0'$"):
        read_settings({**HOST, "DXF_HOST_REQUESTS": "0"})


# -- arguments checked before any transfer -------------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("push-blob", ["big.dat", "@bad/x"], "invalid tag 'bad/x'"),
        ("pull-blob", ["@"], "invalid tag ''"),
        ("pull-blob", [DIGEST, "sha256:abc"], "sha256"),
        ("pull-blobs", ["@ok", "nodigest"], "digest"),
        ("blob-size", ["@a b"], "invalid tag"),
        ("del-blob", ["@-x"], "invalid tag"),
        ("get-alias", ["ok", "no/slash"], "invalid tag"),
        ("del-alias", [".hidden"], "invalid tag"),
        ("get-manifest", ["sha256:12"], "sha256"),
        ("mount-blob", ["Bad/Repo", DIGEST], "invalid repository name"),
        ("mount-blob", ["ok/repo", "md5:00"], "md5"),
        ("mount-blob", ["ok/repo", DIGEST, "@bad alias"], "invalid tag"),
        ("set-alias", ["bad alias", DIGEST], "invalid tag"),
        ("set-alias", ["ok", DIGEST, "not-a-digest"], "digest"),
        ("push-blobs", ["@bad/alias", "a", "b"], "invalid tag"),
    ],
)
def test_arguments_checked_first(command: str, args: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        check_arguments(command, args)
    assert isinstance(info.value, ex.DXFError)


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("push-blob", ["file", "@alias"]),
        ("pull-blob", [DIGEST, "@alias", "@" + DIGEST]),
        ("set-alias", ["alias", DIGEST, "./local/file"]),
        ("push-blobs", ["a", "b"]),
        ("auth", ["pull", "whatever"]),
        ("mount-blob", ["other/repo", DIGEST, "@tag"]),
    ],
)
def test_good_arguments_pass(command: str, args: list[str]) -> None:
    check_arguments(command, args)


# -- registry texts in messages ------------------------------------------------------------------------
def _error_response(
    status: int, reason: str, body: bytes, content_type: str = "application/json"
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    response._content = body
    response.headers["Content-Type"] = content_type
    return response


def test_registry_error_text_is_escaped_and_cut_short() -> None:
    hostile = b'{"errors": [{"code": "X", "message": "\\u001b[2Jgone\\r\\nfake line"}]}'
    text = describe_response(_error_response(500, "Oops\x1b[31m", hostile))
    assert "\x1b" not in text and "\r" not in text and "\n" not in text
    assert text == "500 Oops\\x1b[31m (\\x1b[2Jgone\\x0d\\x0afake line)"
    long = (
        '{"errors": [' + ",".join(['{"code": "C", "message": "' + "m" * 30_000 + '"}'] * 2) + "]}"
    ).encode()
    text = describe_response(_error_response(400, "Bad Request", long))
    assert text.startswith("400 Bad Request (mmm") and len(text) < 3 * MAX_DETAIL_CHARS
    # past MAX_ERROR_BODY_SIZE a body is not parsed (it was not read whole): the status alone
    huge = long.replace(b"m" * 30_000, b"m" * MAX_ERROR_BODY_SIZE)
    assert describe_response(_error_response(400, "Bad Request", huge)) == "400 Bad Request"
    many = ('{"errors": [' + ",".join(f'{{"code": "C{i}"}}' for i in range(50)) + "]}").encode()
    assert describe_response(_error_response(400, "Bad Request", many)).endswith("C2; and 47 more)")


@given(st.text())
def test_printable_never_lets_a_control_character_through(text: str) -> None:
    shown = printable(text, 100)
    assert len(shown) <= 100
    assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in shown)


def test_report_is_one_escaped_bounded_line(capsys: pytest.CaptureFixture[str]) -> None:
    report("pull-blob r", "name\x1b[2J" + "x" * 100_000, {})
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\\x1b[2J" in err and len(err) < 2100


# -- connection failures in words ----------------------------------------------------------------------
def test_cut_short_body_says_so() -> None:
    incomplete = http.client.IncompleteRead(b"x" * 10, 90)
    protocol = urllib3.exceptions.ProtocolError(f"Connection broken: {incomplete!r}", incomplete)
    exc = requests.exceptions.ChunkedEncodingError(protocol)
    code, reason = classify(exc, read_settings(HOST))
    assert code == 1
    assert "closed by the server before the response was complete" in reason
    assert "IncompleteRead" not in reason and "ChunkedEncodingError" not in reason


def test_stalled_read_says_timed_out_not_cannot_connect() -> None:
    stalled = urllib3.exceptions.ReadTimeoutError(None, "/v2/", "Read timed out.")  # type: ignore[arg-type]
    code, reason = classify(requests.exceptions.ConnectionError(stalled), read_settings(HOST))
    assert code == 1 and reason == "timed out waiting for data from localhost:5000 (see DXF_TIMEOUT)"


def test_plain_http_registry_over_https_suggests_insecure() -> None:
    import ssl

    wrong = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    wrong.reason = "WRONG_VERSION_NUMBER"
    code, reason = classify(requests.exceptions.SSLError(wrong), read_settings(HOST))
    assert code == 1 and "DXF_INSECURE=1" in reason and "plain HTTP" in reason


def test_http_request_to_https_registry_says_unset_insecure() -> None:
    response = _error_response(
        400, "Bad Request", b"Client sent an HTTP request to an HTTPS server.\n", "text/plain"
    )
    code, reason = classify(ex.error_for_response(response), read_settings(HOST))
    assert code == 1
    assert reason == "400 Bad Request: the registry speaks HTTPS (unset DXF_INSECURE)"
