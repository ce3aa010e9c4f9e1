"""Properties of the parsers the other unit files leave without them: the ``Link`` pagination header,
``Retry-After``, ``Content-Range`` and the Docker config file. Each input either parses to something
that round-trips or raises the documented :class:`dxf.exceptions.DXFError` subclass (or, for
``Content-Range``, gives None), never another exception.

(References, digests, challenges and manifests have theirs in test_reference.py, test_digest.py,
test_challenge.py and test_manifest.py.)
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import json
import string
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxf.credentials import auths_entry, entry_credentials, helper_name, load_config, write_config
from dxf.exceptions import DXFCredentialError, DXFSecurityError
from dxf.limits import ContentRange, content_range
from dxf.registry import Registry
from dxf.transport import retry_after_seconds

CURRENT = "https://registry.example:5000/v2/team/data/tags/list?n=100"
_path_chars = string.ascii_letters + string.digits + "-._~/=&?%"


# -- Link -----------------------------------------------------------------------------------------------
@given(st.text())
def test_any_link_header_gives_a_same_origin_url_none_or_a_security_error(link: str) -> None:
    try:
        target = Registry.next_link(CURRENT, link)
    except DXFSecurityError:
        return
    if target is not None:
        assert urlsplit(target).netloc == "registry.example:5000"


@given(
    st.text(_path_chars, min_size=1).filter(lambda p: not p.startswith("//")),
    st.sampled_from(['"next"', "next"]),
)
def test_a_next_link_round_trips(path: str, rel: str) -> None:
    assert Registry.next_link(CURRENT, f"<{path}>; rel={rel}") == urljoin(CURRENT, path)


@given(st.text(string.ascii_lowercase + ".", min_size=1).filter(lambda h: h != "registry.example"))
def test_a_next_link_to_another_host_is_refused(host: str) -> None:
    with pytest.raises(DXFSecurityError):
        Registry.next_link(CURRENT, f'<https://{host}/v2/_catalog?last=x>; rel="next"')


# -- Retry-After ----------------------------------------------------------------------------------------
@given(st.text())
def test_any_retry_after_is_none_or_a_non_negative_delay(value: str) -> None:
    delay = retry_after_seconds(value, now=0.0)
    assert delay is None or delay >= 0


@given(st.integers(min_value=0, max_value=10**9))
def test_delta_seconds_round_trip(seconds: int) -> None:
    assert retry_after_seconds(str(seconds)) == seconds
    assert retry_after_seconds(f" {seconds}\t") == seconds


@given(st.integers(min_value=0, max_value=10**8), st.integers(min_value=0, max_value=10**6))
def test_http_dates_round_trip(now: int, ahead: int) -> None:
    when = datetime.datetime.fromtimestamp(now + ahead, datetime.timezone.utc)
    assert retry_after_seconds(email.utils.format_datetime(when, usegmt=True), now=float(now)) == ahead
    past = email.utils.format_datetime(
        datetime.datetime.fromtimestamp(now, datetime.timezone.utc), usegmt=True
    )
    assert retry_after_seconds(past, now=float(now + ahead)) == 0.0


# -- the Docker config file -----------------------------------------------------------------------------
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
_config = st.dictionaries(
    st.sampled_from(["auths", "credHelpers", "credsStore", "other"]) | st.text(), _json, max_size=4
)
_hosts = st.sampled_from(["localhost:5000", "docker.io", "registry.example", "HOST:1"])


def _use(config: dict[str, Any], host: str) -> None:
    """What dxf does with a config: find the helper and the ``auths`` entry, and read the entry."""
    helper_name(config, host)
    entry = auths_entry(config, host)
    if entry is not None:
        with contextlib.suppress(DXFCredentialError):
            entry_credentials(entry)


def _load(content: bytes) -> dict[str, Any] | None:
    """``load_config`` of a file holding ``content``; None when it raised DXFCredentialError."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "config.json"
        path.write_bytes(content)
        try:
            return load_config(path)
        except DXFCredentialError:
            return None


@given(st.binary(max_size=300), _hosts)
def test_any_config_file_loads_or_raises_a_credential_error(content: bytes, host: str) -> None:
    config = _load(content)
    if config is not None:
        _use(config, host)


@given(st.text(max_size=300) | st.builds(lambda depth: "[" * depth, st.integers(1, 100_000)), _hosts)
def test_any_config_text_loads_or_raises_a_credential_error(text: str, host: str) -> None:
    config = _load(text.encode("utf-8", "surrogatepass"))
    if config is not None:
        _use(config, host)


@given(_config, _hosts)
def test_any_config_object_round_trips_and_is_usable(config: dict[str, Any], host: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "docker" / "config.json"
        write_config(path, config)
        assert load_config(path) == json.loads(json.dumps(config))
    _use(config, host)


# -- Content-Range --------------------------------------------------------------------------------------
@given(st.text(max_size=40))
def test_any_content_range_is_a_satisfied_byte_range_or_none(value: str) -> None:
    parsed = content_range(value)
    if parsed is not None:
        assert 0 <= parsed.first <= parsed.last and (parsed.total is None or parsed.last < parsed.total)
        total = "*" if parsed.total is None else str(parsed.total)
        assert content_range(f"bytes {parsed.first}-{parsed.last}/{total}") == parsed


@given(st.integers(0, 2**64), st.integers(0, 2**64), st.none() | st.integers(1, 2**64))
def test_a_well_formed_content_range_round_trips(first: int, length: int, total: int | None) -> None:
    last = first + length
    shown = f"bytes {first}-{last}/{'*' if total is None else total}"
    expected = ContentRange(first, last, total) if total is None or last < total else None
    assert content_range(shown) == expected


@pytest.mark.parametrize(
    "value",
    [None, "", "bytes 5-", "bytes */100", "bytes 5-4/10", "bytes 0-10/10", "bytes ²-3/4", "items 0-1/2"],
)
def test_content_ranges_that_are_not_satisfied_byte_ranges_give_none(value: str | None) -> None:
    assert content_range(value) is None
