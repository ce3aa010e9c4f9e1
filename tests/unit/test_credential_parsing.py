"""The pure parts of dxf.credentials: config keys, entries, helper answers, login edits, certs.d."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxf.auth import Credentials
from dxf.credentials import (
    DOCKER_HUB_KEY,
    auths_entry,
    canonical_host,
    certs_dir,
    config_key,
    credential_files,
    entry_credentials,
    helper_answer,
    helper_name,
    helper_timeout,
    matching_keys,
    with_login,
    without_login,
)
from dxf.exceptions import DXFCredentialError


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "key",
    ["registry.example.com:5000", "https://registry.example.com:5000", "https://registry.example.com:5000/v1/",
     "http://REGISTRY.example.com:5000/v2/", "registry.example.com:5000/team/repo"],
)  # fmt: skip
def test_every_key_form_names_the_host(key: str) -> None:
    assert canonical_host(key) == "registry.example.com:5000"


@pytest.mark.parametrize(
    "key",
    [DOCKER_HUB_KEY, "docker.io", "index.docker.io", "registry-1.docker.io", "https://registry-1.docker.io"],
)
def test_docker_hub_names_are_one_registry(key: str) -> None:
    assert canonical_host(key) == "docker.io"
    assert config_key(key) == DOCKER_HUB_KEY


def test_hub_lookup_finds_dockers_key_for_both_api_hosts() -> None:
    auths = {DOCKER_HUB_KEY: {"auth": b64("hubuser:hubpass")}, "other.io": {"auth": b64("x:y")}}
    for host in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        assert matching_keys(auths, host) == [DOCKER_HUB_KEY]
    assert matching_keys(auths, "docker.io.evil.com") == []


def test_exact_key_is_preferred_over_other_spellings() -> None:
    auths: dict[str, dict[str, str]] = {"https://h:1/v1/": {}, "h:1": {}}
    assert matching_keys(auths, "h:1") == ["h:1", "https://h:1/v1/"]


@given(st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9]{1,8}){0,2}(:[0-9]{1,5})?", fullmatch=True))
def test_canonical_host_is_idempotent_and_scheme_blind(host: str) -> None:
    once = canonical_host(host)
    assert canonical_host(once) == once
    assert canonical_host(f"https://{host}/v1/") == once


def test_cred_helpers_win_over_creds_store() -> None:
    config = {"credsStore": "desktop", "credHelpers": {"https://gcr.io": "gcloud"}}
    assert helper_name(config, "gcr.io") == "gcloud"
    assert helper_name(config, "other.io") == "desktop"
    assert helper_name({"auths": {}}, "other.io") is None


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"auth": b64("fred:pa:ss")}, Credentials("fred", "pa:ss")),
        ({"username": "fred", "password": "pw"}, Credentials("fred", "pw")),
        ({"auth": b64("fred:old"), "password": "new"}, Credentials("fred", "new")),
        ({"auth": b64("fred:"), "identitytoken": "rt"}, Credentials("fred", identity_token="rt")),
        ({"identitytoken": "rt"}, Credentials(identity_token="rt")),
        ({}, None),
        ({"auth": ""}, None),
    ],
)
def test_entry_credentials(entry: dict[str, Any], expected: Credentials | None) -> None:
    assert entry_credentials(entry) == expected


@pytest.mark.parametrize("bad", ["%%%not-base64", b64("no-colon-secretvalue")])
def test_bad_auth_value_is_reported_without_echoing_it(bad: str) -> None:
    with pytest.raises(DXFCredentialError) as caught:
        entry_credentials({"auth": bad})
    assert bad not in str(caught.value) and "secretvalue" not in str(caught.value)


def test_helper_answer_token_username_means_identity_token() -> None:
    assert helper_answer({"Username": "<token>", "Secret": "rt"}) == Credentials(identity_token="rt")
    assert helper_answer({"Username": "fred", "Secret": "pw"}) == Credentials("fred", "pw")
    assert helper_answer({"Username": "fred", "Secret": ""}) is None


def test_credentials_repr_hides_secrets() -> None:
    text = repr(Credentials("fred", "pw-secret", "Basic abc-secret", "rt-secret"))
    assert "fred" in text and "secret" not in text


def test_login_edit_keeps_everything_else_and_replaces_other_spellings() -> None:
    config: dict[str, Any] = {
        "auths": {"https://h:1/v1/": {"auth": b64("old:old")}, "k:2": {"auth": b64("a:b")}},
        "credHelpers": {"x": "y"},
        "psFormat": "table",
    }
    updated = with_login(config, "h:1", "fred", "pw")
    assert updated["auths"] == {"k:2": {"auth": b64("a:b")}, "h:1": {"auth": b64("fred:pw")}}
    assert updated["credHelpers"] == {"x": "y"} and updated["psFormat"] == "table"
    assert config["auths"]["https://h:1/v1/"] == {"auth": b64("old:old")}  # input untouched
    removed, found = without_login(updated, "https://h:1")
    assert found and removed["auths"] == {"k:2": {"auth": b64("a:b")}} and removed["psFormat"] == "table"
    assert without_login(removed, "h:1") == (removed, False)


def test_login_for_docker_hub_writes_dockers_key() -> None:
    assert list(with_login({}, "registry-1.docker.io", "u", "p")["auths"]) == [DOCKER_HUB_KEY]


def test_auths_entry_ignores_non_objects() -> None:
    assert auths_entry({"auths": {"h": "junk"}}, "h") is None
    assert auths_entry({"auths": []}, "h") is None


def test_credential_files_order() -> None:
    environ = {"HOME": "/home/u", "REGISTRY_AUTH_FILE": "/a.json", "XDG_RUNTIME_DIR": "/run/u"}
    assert credential_files(environ) == [
        Path("/a.json"),
        Path("/home/u/.docker/config.json"),
        Path("/run/u/containers/auth.json"),
    ]
    assert credential_files({"DOCKER_CONFIG": "/d", "HOME": "/h"}) == [Path("/d/config.json")]


def test_helper_timeout_setting() -> None:
    assert helper_timeout({}) == 30.0
    assert helper_timeout({"DXF_HELPER_TIMEOUT": "0.5"}) == 0.5
    with pytest.raises(DXFCredentialError, match="DXF_HELPER_TIMEOUT"):
        helper_timeout({"DXF_HELPER_TIMEOUT": "-1"})


def test_certs_dir(tmp_path: Path) -> None:
    assert certs_dir(str(tmp_path), "h:5000").ca is None
    host_dir = tmp_path / "h:5000"
    host_dir.mkdir()
    for name in ("ca.crt", "client.cert", "client.key", "lonely.cert"):
        (host_dir / name).write_text("x")
    found = certs_dir(str(tmp_path), "H:5000")
    assert found.ca == str(host_dir / "ca.crt")
    assert found.client == (str(host_dir / "client.cert"), str(host_dir / "client.key"))
