"""Credentials the way container tools keep them, against the real registries of the harness.

Docker's config.json (every key spelling, base64 ``auth``, ``username``/``password``, identity
tokens exchanged at the harness token server), credential helpers written by each test as small
executables first on ``PATH`` that log their calls, ``dxf login``/``logout``, client certificates
against a registry that requires them, and proxies. Every test points ``DOCKER_CONFIG`` at its own
temporary directory.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from test_cli import fails, ok, run

import dxf
from dxf.credentials import Keychain
from harness.connectproxy import ConnectProxy
from harness.pki import PkiPaths
from harness.registry import PASSWORD, USERNAME, RegistryProcess, harness_env

DATA = b"credentials test blob"
DIGEST = dxf.hash_bytes(DATA)


# -- helpers -------------------------------------------------------------------------------------------
HELPER_SOURCE = """#!{python}
import json, sys, time
STORE, LOG, BEHAVIOUR = {store!r}, {log!r}, {behaviour!r}
action = sys.argv[1]
data = sys.stdin.read()
with open(LOG, "a") as log:
    log.write(json.dumps([action, data]) + "\\n")
if BEHAVIOUR == "hang":
    time.sleep(60)
if BEHAVIOUR == "broken":
    print("the keyring is locked")
    sys.exit(3)
try:
    with open(STORE) as f:
        store = json.load(f)
except FileNotFoundError:
    store = {{}}
if action == "get":
    if data not in store:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps(dict(store[data], ServerURL=data)))
elif action == "store":
    entry = json.loads(data)
    store[entry["ServerURL"]] = {{"Username": entry["Username"], "Secret": entry["Secret"]}}
elif action == "erase":
    if store.pop(data, None) is None:
        print("credentials not found in native keychain")
        sys.exit(1)
with open(STORE, "w") as f:
    json.dump(store, f)
"""


class Helper:
    """``docker-credential-<name>`` in a directory of the test's ``PATH``, keeping its credentials
    in a JSON file and logging each call as ``[action, stdin]``."""

    def __init__(self, bin_dir: Path, name: str, behaviour: str = "store") -> None:
        self.store = bin_dir / f"{name}.store.json"
        self.log = bin_dir / f"{name}.log"
        path = bin_dir / f"docker-credential-{name}"
        path.write_text(
            HELPER_SOURCE.format(
                python=sys.executable, store=str(self.store), log=str(self.log), behaviour=behaviour
            )
        )
        path.chmod(0o755)

    def holds(self, server_url: str, username: str, secret: str) -> None:
        entries = json.loads(self.store.read_text()) if self.store.exists() else {}
        entries[server_url] = {"Username": username, "Secret": secret}
        self.store.write_text(json.dumps(entries))

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stored(self) -> dict[str, Any]:
        return dict(json.loads(self.store.read_text())) if self.store.exists() else {}


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    path = tmp_path / "bin"
    path.mkdir()
    return path


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "docker-config"


def write_config(config_dir: Path, config: dict[str, Any]) -> Path:
    config_dir.mkdir(exist_ok=True)
    path = config_dir / "config.json"
    path.write_text(json.dumps(config))
    return path


def auth_value(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def cli_env(registry: RegistryProcess, config_dir: Path, bin_dir: Path | None = None) -> dict[str, str]:
    """The harness environment without DXF_USERNAME/DXF_PASSWORD: credentials come from files."""
    env = {k: v for k, v in harness_env(registry).items() if k not in ("DXF_USERNAME", "DXF_PASSWORD")}
    env["DOCKER_CONFIG"] = str(config_dir)
    path = os.environ.get("PATH", os.defpath)
    env["PATH"] = f"{bin_dir}{os.pathsep}{path}" if bin_dir is not None else path
    return env


def push(env: dict[str, str], repo: str, tmp_path: Path) -> str:
    blob = tmp_path / "blob"
    blob.write_bytes(DATA)
    return ok(["push-blob", repo, str(blob)], env).text.strip()


# -- config.json ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("key_form", ["{host}", "https://{host}", "https://{host}/v1/"])
@pytest.mark.parametrize("entry_form", ["auth", "username-password"])
def test_config_json_entries(
    registry_basic: RegistryProcess,
    config_dir: Path,
    repo_name: str,
    tmp_path: Path,
    key_form: str,
    entry_form: str,
) -> None:
    env = cli_env(registry_basic, config_dir)
    fails(["list-aliases", repo_name], env, errno.EACCES)  # nothing stored yet
    entry = (
        {"auth": auth_value(USERNAME, PASSWORD)}
        if entry_form == "auth"
        else {"username": USERNAME, "password": PASSWORD}
    )
    write_config(config_dir, {"auths": {key_form.format(host=registry_basic.host): entry}})
    assert push(env, repo_name, tmp_path) == DIGEST


def test_token_registry_with_config_password(
    registry_token: RegistryProcess, config_dir: Path, repo_name: str, tmp_path: Path
) -> None:
    env = cli_env(registry_token, config_dir)
    write_config(config_dir, {"auths": {registry_token.host: {"auth": auth_value(USERNAME, PASSWORD)}}})
    assert push(env, repo_name, tmp_path) == DIGEST


def test_dxf_variables_win_over_config_files(
    registry_basic: RegistryProcess, config_dir: Path, repo_name: str, tmp_path: Path
) -> None:
    env = cli_env(registry_basic, config_dir)
    write_config(config_dir, {"auths": {registry_basic.host: {"auth": auth_value(USERNAME, PASSWORD)}}})
    wrong = dict(env, DXF_USERNAME=USERNAME, DXF_PASSWORD="wrong-password")
    result = fails(["list-aliases", repo_name], wrong, errno.EACCES)
    assert "wrong-password" not in result.err and PASSWORD not in result.err


def test_registry_auth_file_and_podman_runtime_file(
    registry_basic: RegistryProcess, config_dir: Path, repo_name: str, tmp_path: Path
) -> None:
    auth_json = {"auths": {registry_basic.host: {"auth": auth_value(USERNAME, PASSWORD)}}}
    runtime = tmp_path / "runtime"
    (runtime / "containers").mkdir(parents=True)
    (runtime / "containers" / "auth.json").write_text(json.dumps(auth_json))
    env = dict(cli_env(registry_basic, config_dir), XDG_RUNTIME_DIR=str(runtime))
    assert push(env, repo_name, tmp_path) == DIGEST
    # REGISTRY_AUTH_FILE comes first: a wrong password there is what gets used.
    explicit = tmp_path / "explicit.json"
    explicit.write_text(json.dumps({"auths": {registry_basic.host: {"auth": auth_value(USERNAME, "no")}}}))
    fails(["list-aliases", repo_name], dict(env, REGISTRY_AUTH_FILE=str(explicit)), errno.EACCES)


def test_broken_config_file_is_one_line(
    registry_basic: RegistryProcess, config_dir: Path, repo_name: str, tmp_path: Path
) -> None:
    config_dir.mkdir()
    (config_dir / "config.json").write_text('{"auths": {')
    result = fails(["list-aliases", repo_name], cli_env(registry_basic, config_dir), 1)
    assert "config.json is not valid JSON" in result.err


def test_library_keychain_and_callback_precedence(
    registry_basic: RegistryProcess, config_dir: Path, repo_name: str
) -> None:
    write_config(config_dir, {"auths": {registry_basic.host: {"auth": auth_value(USERNAME, PASSWORD)}}})
    keychain = Keychain({"DOCKER_CONFIG": str(config_dir)})
    ca = registry_basic.ca_bundle or True
    with dxf.DXFBase(registry_basic.host, tlsverify=ca, credentials=keychain) as base:
        client = dxf.DXF.from_base(base, repo_name)
        assert client.push_blob(data=DATA, digest=DIGEST) == DIGEST
        assert client.blob_size(DIGEST) == len(DATA)

    def wrong(obj: dxf.DXFBase, response: requests.Response) -> None:
        obj.authenticate(USERNAME, "wrong", response=response)

    client = dxf.DXF(registry_basic.host, repo_name, wrong, tlsverify=ca, credentials=keychain)
    with client, pytest.raises(dxf.exceptions.DXFUnauthorizedError):
        client.blob_size(DIGEST)


# -- identity tokens -----------------------------------------------------------------------------------
@pytest.fixture
def token_server(registry_token: RegistryProcess) -> Iterator[Any]:
    server = registry_token.token_server
    assert server is not None
    server.reset_log()
    yield server
    server.oauth_enabled = True


def test_identity_token_is_exchanged_with_a_refresh_token_grant(
    registry_token: RegistryProcess, token_server: Any, config_dir: Path, repo_name: str, tmp_path: Path
) -> None:
    refresh = token_server.issue_refresh_token(USERNAME)
    write_config(
        config_dir,
        {"auths": {registry_token.host: {"auth": auth_value("fred", ""), "identitytoken": refresh}}},
    )
    assert push(cli_env(registry_token, config_dir), repo_name, tmp_path) == DIGEST
    log = token_server.requests_log
    assert log and all(e["method"] == "POST" and e["grant"] == "refresh_token" for e in log), log
    assert all(e["user"] == USERNAME and e["status"] == 200 for e in log)
    assert any(f"repository:{repo_name}:" in " ".join(e["scopes"]) for e in log)


def test_identity_token_falls_back_to_get_where_post_is_refused(
    registry_token: RegistryProcess, token_server: Any, config_dir: Path, repo_name: str, tmp_path: Path
) -> None:
    token_server.oauth_enabled = False
    refresh = token_server.issue_refresh_token(USERNAME)
    write_config(config_dir, {"auths": {registry_token.host: {"identitytoken": refresh}}})
    assert push(cli_env(registry_token, config_dir), repo_name, tmp_path) == DIGEST
    methods = [(e["method"], e["status"]) for e in token_server.requests_log]
    assert ("POST", 404) in methods and ("GET", 200) in methods


def test_unknown_identity_token_is_refused(
    registry_token: RegistryProcess, token_server: Any, config_dir: Path, repo_name: str, tmp_path: Path
) -> None:
    write_config(config_dir, {"auths": {registry_token.host: {"identitytoken": "rt-not-issued-secret"}}})
    result = fails(["list-aliases", repo_name], cli_env(registry_token, config_dir), errno.EACCES)
    assert "rt-not-issued-secret" not in result.err
    assert [(e["method"], e["grant"], e["status"]) for e in token_server.requests_log] == [
        ("POST", "refresh_token", 401)
    ]


# -- credential helpers --------------------------------------------------------------------------------
def test_cred_helpers_win_over_creds_store(
    registry_basic: RegistryProcess, config_dir: Path, bin_dir: Path, repo_name: str, tmp_path: Path
) -> None:
    per_host = Helper(bin_dir, "perhost")
    per_host.holds(registry_basic.host, USERNAME, PASSWORD)
    store = Helper(bin_dir, "store")
    store.holds(registry_basic.host, USERNAME, "not-this-one")
    write_config(
        config_dir,
        {
            "credsStore": "store",
            "credHelpers": {registry_basic.host: "perhost"},
            "auths": {registry_basic.host: {"auth": auth_value(USERNAME, "nor-this")}},
        },
    )
    env = cli_env(registry_basic, config_dir, bin_dir)
    assert push(env, repo_name, tmp_path) == DIGEST
    assert per_host.calls() == [["get", registry_basic.host]]
    assert store.calls() == []
    # Without the per-host entry, credsStore answers (and its wrong password is what is used).
    write_config(config_dir, {"credsStore": "store"})
    fails(["list-aliases", repo_name], env, errno.EACCES)
    assert store.calls() == [["get", registry_basic.host]]


def test_helper_identity_token(
    registry_token: RegistryProcess,
    token_server: Any,
    config_dir: Path,
    bin_dir: Path,
    repo_name: str,
    tmp_path: Path,
) -> None:
    helper = Helper(bin_dir, "tokens")
    helper.holds(registry_token.host, "<token>", token_server.issue_refresh_token(USERNAME))
    write_config(config_dir, {"credsStore": "tokens"})
    assert push(cli_env(registry_token, config_dir, bin_dir), repo_name, tmp_path) == DIGEST
    assert {e["grant"] for e in token_server.requests_log} == {"refresh_token"}


def test_helper_without_an_entry_falls_back_to_auths(
    registry_basic: RegistryProcess, config_dir: Path, bin_dir: Path, repo_name: str, tmp_path: Path
) -> None:
    helper = Helper(bin_dir, "empty")
    write_config(
        config_dir,
        {"credsStore": "empty", "auths": {registry_basic.host: {"auth": auth_value(USERNAME, PASSWORD)}}},
    )
    assert push(cli_env(registry_basic, config_dir, bin_dir), repo_name, tmp_path) == DIGEST
    assert helper.calls() == [["get", registry_basic.host]]


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("broken", "docker-credential-bad get failed (exit status 3): the keyring is locked"),
        ("missing", "credential helper docker-credential-bad not found on PATH"),
        ("hang", "docker-credential-bad get did not answer within 0.5 s (see DXF_HELPER_TIMEOUT)"),
    ],
)
def test_failing_helper_is_one_line(
    registry_basic: RegistryProcess,
    config_dir: Path,
    bin_dir: Path,
    repo_name: str,
    behaviour: str,
    message: str,
) -> None:
    if behaviour != "missing":
        Helper(bin_dir, "bad", behaviour)
    write_config(config_dir, {"credHelpers": {registry_basic.host: "bad"}})
    env = dict(cli_env(registry_basic, config_dir, bin_dir), DXF_HELPER_TIMEOUT="0.5")
    started = time.monotonic()
    result = fails(["list-aliases", repo_name], env, 1)
    assert time.monotonic() - started < 10
    assert result.err == f"dxf: list-aliases {repo_name}: {message}\n"


# -- dxf login / logout --------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["basic", "token"])
def test_login_logout_round_trip(
    request: pytest.FixtureRequest, mode: str, config_dir: Path, repo_name: str, tmp_path: Path
) -> None:
    registry: RegistryProcess = request.getfixturevalue(f"registry_{mode}")
    host = registry.host
    config = write_config(
        config_dir,
        {"auths": {"other.example:5000": {"auth": auth_value("a", "b")}}, "psFormat": "table {{.ID}}"},
    )
    env = cli_env(registry, config_dir)
    del env["DXF_HOST"]  # login names its host
    done = ok(
        ["login", host, "--username", USERNAME, "--password-stdin"], env, stdin=(PASSWORD + "\n").encode()
    )
    assert done.text == f"logged in to {host}: credentials stored in {config}\n"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    saved = json.loads(config.read_text())
    assert saved["psFormat"] == "table {{.ID}}"
    assert saved["auths"] == {
        "other.example:5000": {"auth": auth_value("a", "b")},
        host: {"auth": auth_value(USERNAME, PASSWORD)},
    }
    assert PASSWORD not in done.err
    with_host = dict(env, DXF_HOST=host)
    assert push(with_host, repo_name, tmp_path) == DIGEST

    assert ok(["logout", host], env).text == f"logged out of {host}: credentials removed from {config}\n"
    saved = json.loads(config.read_text())
    assert saved == {
        "auths": {"other.example:5000": {"auth": auth_value("a", "b")}},
        "psFormat": "table {{.ID}}",
    }
    fails(["list-aliases", repo_name], with_host, errno.EACCES)
    assert ok(["logout", host], env).text == f"not logged in to {host}: no stored credentials\n"


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_login_with_wrong_password_stores_nothing(
    request: pytest.FixtureRequest, mode: str, config_dir: Path
) -> None:
    registry: RegistryProcess = request.getfixturevalue(f"registry_{mode}")
    env = cli_env(registry, config_dir)
    argv = ["login", registry.host, "-u", USERNAME, "--password-stdin"]
    result = fails(argv, env, errno.EACCES, stdin=b"wrong-secret\n")
    assert "wrong-secret" not in result.err
    assert not config_dir.exists()
    config = write_config(config_dir, {"auths": {}, "keep": 1})
    before = config.read_bytes()
    fails(argv, env, errno.EACCES, stdin=b"wrong-secret")
    assert config.read_bytes() == before


def test_login_stores_through_the_creds_store_helper(
    registry_basic: RegistryProcess, config_dir: Path, bin_dir: Path, repo_name: str, tmp_path: Path
) -> None:
    helper = Helper(bin_dir, "vault")
    config = write_config(config_dir, {"credsStore": "vault"})
    before = config.read_bytes()
    env = cli_env(registry_basic, config_dir, bin_dir)
    done = ok(
        ["login", registry_basic.host, "-u", USERNAME, "--password-stdin"], env, stdin=PASSWORD.encode()
    )
    assert done.text.endswith("credentials stored in docker-credential-vault\n")
    assert helper.stored() == {registry_basic.host: {"Username": USERNAME, "Secret": PASSWORD}}
    [(action, payload)] = helper.calls()
    assert action == "store"
    assert json.loads(payload) == {"ServerURL": registry_basic.host, "Username": USERNAME, "Secret": PASSWORD}
    assert config.read_bytes() == before
    assert push(env, repo_name, tmp_path) == DIGEST
    ok(["logout", registry_basic.host], env)
    assert helper.stored() == {}
    assert helper.calls()[-1] == ["erase", registry_basic.host]


def test_login_never_takes_a_password_from_the_command_line(
    registry_basic: RegistryProcess, config_dir: Path
) -> None:
    env = cli_env(registry_basic, config_dir)
    for argv in (
        ["login", registry_basic.host, "-u", USERNAME, "--password", "hunter2-secret"],
        ["login", registry_basic.host, "-u", USERNAME, "--password=hunter2-secret"],
        ["login", registry_basic.host, "-u", USERNAME, "-p", "hunter2-secret"],
    ):
        result = run(argv, env)
        assert result.code == 2, result.err
        assert "never taken from the command line" in result.err
        assert "hunter2" not in result.err
    result = run(["login", registry_basic.host, "-u", USERNAME], env)  # stdin is not a terminal
    assert result.code == 2 and "use --password-stdin or run on a terminal" in result.err
    assert not config_dir.exists()


class _Terminal:
    """A standard input that says it is a terminal and answers one line."""

    def __init__(self, line: str) -> None:
        self.line = line

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.line


def test_login_prompts_without_echo_on_a_terminal(
    registry_basic: RegistryProcess, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "Password: ", stream: Any = None) -> str:
        prompts.append(prompt)
        return PASSWORD

    monkeypatch.setattr("dxf.cli.commands.getpass.getpass", fake_getpass)
    monkeypatch.setattr(sys, "stdin", _Terminal(USERNAME + "\n"))
    from dxf.main import doit

    assert doit(["login", registry_basic.host], cli_env(registry_basic, config_dir)) == 0
    assert prompts == ["Password: "]
    saved = json.loads((config_dir / "config.json").read_text())
    assert saved["auths"][registry_basic.host] == {"auth": auth_value(USERNAME, PASSWORD)}


def test_login_over_plain_http_is_refused(registry_plain: RegistryProcess, config_dir: Path) -> None:
    env = cli_env(registry_plain, config_dir)
    result = fails(["login", registry_plain.host, "-u", "u", "--password-stdin"], env, 1, stdin=b"pw")
    assert result.err.endswith(": Auth requires HTTPS\n")
    assert not config_dir.exists()


# -- client certificates -------------------------------------------------------------------------------
def test_client_certificate_required(
    registry_mtls: RegistryProcess, harness_pki: PkiPaths, repo_name: str, tmp_path: Path
) -> None:
    env = {"DXF_HOST": registry_mtls.host, "DXF_TLSVERIFY": str(harness_pki.ca_cert)}
    result = fails(["list-aliases", repo_name], dict(env, DXF_RETRIES="0"), 1)
    assert f"{registry_mtls.host}" in result.err
    with_cert = dict(env, DXF_CERT=str(harness_pki.client_cert), DXF_KEY=str(harness_pki.client_key))
    assert push(with_cert, repo_name, tmp_path) == DIGEST

    certs_d = tmp_path / "certs.d"
    host_dir = certs_d / registry_mtls.host
    host_dir.mkdir(parents=True)
    (host_dir / "ca.crt").write_bytes(harness_pki.ca_cert.read_bytes())
    (host_dir / "client.cert").write_bytes(harness_pki.client_cert.read_bytes())
    (host_dir / "client.key").write_bytes(harness_pki.client_key.read_bytes())
    from_dir = {"DXF_HOST": registry_mtls.host, "DXF_CERTS_D": str(certs_d)}  # its ca.crt verifies too
    assert ok(["blob-size", repo_name, DIGEST], from_dir).lines == [str(len(DATA))]


def test_client_certificate_module_argument(
    registry_mtls: RegistryProcess, harness_pki: PkiPaths, repo_name: str
) -> None:
    ca = str(harness_pki.ca_cert)
    client = dxf.DXF(registry_mtls.host, repo_name, tlsverify=ca, retries=0)
    with client, pytest.raises(requests.exceptions.ConnectionError):
        client.list_aliases()
    cert = (str(harness_pki.client_cert), str(harness_pki.client_key))
    with dxf.DXF(registry_mtls.host, repo_name, tlsverify=ca, cert=cert) as client:
        assert client.push_blob(data=DATA, digest=DIGEST) == DIGEST


# -- proxies -------------------------------------------------------------------------------------------
@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectProxy]:
    for key in ("https_proxy", "http_proxy", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(key, raising=False)
    with ConnectProxy() as server:
        yield server


def test_https_through_a_connect_proxy(
    registry_basic: RegistryProcess,
    proxy: ConnectProxy,
    config_dir: Path,
    repo_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    write_config(config_dir, {"auths": {registry_basic.host: {"auth": auth_value(USERNAME, PASSWORD)}}})
    assert push(cli_env(registry_basic, config_dir), repo_name, tmp_path) == DIGEST
    seen = proxy.seen
    assert seen and {(r.method, r.target) for r in seen} == {("CONNECT", registry_basic.host)}
    assert all("Authorization" not in r.headers for r in seen)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    ok(["blob-size", repo_name, DIGEST], cli_env(registry_basic, config_dir))
    assert proxy.seen == seen


def test_plain_http_through_a_proxy_carries_no_credentials(
    registry_plain: RegistryProcess,
    proxy: ConnectProxy,
    config_dir: Path,
    repo_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    write_config(config_dir, {"auths": {registry_plain.host: {"auth": auth_value(USERNAME, PASSWORD)}}})
    env = dict(cli_env(registry_plain, config_dir), DXF_USERNAME=USERNAME, DXF_PASSWORD=PASSWORD)
    assert push(env, repo_name, tmp_path) == DIGEST
    assert ok(["pull-blob", repo_name, DIGEST], env).out == DATA
    seen = proxy.seen
    assert seen and all(r.target.startswith(f"http://{registry_plain.host}/v2/") for r in seen)
    assert all(k.lower() != "authorization" for r in seen for k in r.headers), seen
