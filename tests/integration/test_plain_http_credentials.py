"""Over plain HTTP (``insecure=True`` / ``DXF_INSECURE=1``) no credential ever goes on the wire.

A loopback listener records every header it receives: one answers like an anonymous registry, one
challenges like a registry that wants credentials. The plain-HTTP test registry shows anonymous
access keeps working with a token configured (and the token stays home).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

import dxf
from dxf import exceptions as ex
from harness.hooks import Exchanges
from harness.registry import RegistryProcess, harness_env
from harness.stub import Reply, StubRequest, StubServer

TOKEN = "plain-http-secret-token"
USER, PASSWORD = "fred", "plain-http-secret-password"
AUTHORIZATION = "Basic cGxhaW4taHR0cC1zZWNyZXQ="
DXF_SCRIPT = Path(sys.executable).parent / "dxf"


def _anonymous(request: StubRequest) -> Reply:
    return Reply(200, {"Content-Type": "application/json"}, b'{"name": "team/data", "tags": ["v1"]}')


def _challenging(request: StubRequest) -> Reply:
    return Reply(401, {"WWW-Authenticate": 'Basic realm="registry"'}, b"")


@pytest.fixture
def anonymous() -> Iterator[StubServer]:
    with StubServer(_anonymous) as server:
        yield server


@pytest.fixture
def challenging() -> Iterator[StubServer]:
    with StubServer(_challenging) as server:
        yield server


def _client(
    server: StubServer, auth: Callable[[dxf.DXFBase, requests.Response], None] | None = None
) -> dxf.DXF:
    return dxf.DXF(server.host, "team/data", auth, insecure=True, retries=0)


def test_token_is_not_sent_to_an_anonymous_plain_registry(anonymous: StubServer) -> None:
    client = _client(anonymous)
    client.token = TOKEN
    assert client.list_aliases() == ["v1"]
    assert client.token == TOKEN  # python-dxf's property keeps what was assigned
    assert anonymous.seen and anonymous.headers_seen("Authorization") == []


def _authenticate(obj: dxf.DXFBase, response: requests.Response) -> None:
    obj.authenticate(USER, PASSWORD, response=response)


def _assign_token(obj: dxf.DXFBase, _response: requests.Response) -> None:
    obj.token = TOKEN


@pytest.mark.parametrize(
    ("auth", "token"),
    [(None, TOKEN), (_authenticate, None), (_authenticate, TOKEN), (_assign_token, None)],
    ids=["token", "callback-authenticates", "token-and-callback", "callback-sets-token"],
)
def test_challenge_over_plain_http_raises_auth_insecure(
    challenging: StubServer, auth: Callable[[dxf.DXFBase, requests.Response], None] | None, token: str | None
) -> None:
    client = _client(challenging, auth)
    if token:
        client.token = token
    with pytest.raises(ex.DXFAuthInsecureError):
        client.list_aliases()
    assert challenging.seen and challenging.headers_seen("Authorization") == []


def test_challenge_without_any_credential_is_unauthorized(challenging: StubServer) -> None:
    with pytest.raises(ex.DXFUnauthorizedError):
        _client(challenging).list_aliases()


def _run_cli(server: StubServer, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXF_")}
    env.update({"DXF_HOST": server.host, "DXF_INSECURE": "1", "DXF_RETRIES": "0", **extra})
    return subprocess.run(
        [str(DXF_SCRIPT), "list-aliases", "team/data"], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.parametrize(
    "credential",
    [
        {"DXF_TOKEN": TOKEN},
        {"DXF_USERNAME": USER, "DXF_PASSWORD": PASSWORD},
        {"DXF_AUTHORIZATION": AUTHORIZATION},
        {"DXF_TOKEN": TOKEN, "DXF_USERNAME": USER, "DXF_PASSWORD": PASSWORD},
    ],
    ids=["token", "user-password", "authorization", "token-and-user"],
)
def test_command_never_sends_credentials_in_clear(
    challenging: StubServer, credential: dict[str, str]
) -> None:
    done = _run_cli(challenging, credential)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("dxf: list-aliases team/data: ")
    assert "HTTPS" in done.stderr and "Traceback" not in done.stderr
    assert not any(secret in done.stderr for secret in (TOKEN, PASSWORD, AUTHORIZATION))
    assert challenging.seen and challenging.headers_seen("Authorization") == []


def test_command_with_token_works_anonymously_over_plain_http(anonymous: StubServer) -> None:
    done = _run_cli(anonymous, {"DXF_TOKEN": TOKEN})
    assert (done.returncode, done.stdout) == (0, "v1\n"), done.stderr
    assert anonymous.headers_seen("Authorization") == []


def test_plain_registry_with_a_token_works_and_never_sees_it(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path, exchanges: Exchanges
) -> None:
    client = dxf.DXF(registry_plain.host, repo_name, insecure=True)
    client.token = TOKEN
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(20_000))
    digest = client.push_blob(str(path))
    client.set_alias("v1", digest)
    assert client.get_alias("v1") == [digest]
    assert b"".join(client.pull_blob(digest)) == path.read_bytes()  # type: ignore[arg-type]
    sent = exchanges.to(registry_plain.host)
    assert sent and not any("Authorization" in e.request_headers for e in sent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXF_")}
    env.update({**harness_env(registry_plain), "DXF_TOKEN": TOKEN})
    done = subprocess.run(
        [str(DXF_SCRIPT), "get-alias", repo_name, "v1"], capture_output=True, text=True, env=env, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, digest + "\n"), done.stderr
