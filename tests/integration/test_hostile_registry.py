"""Servers that loop or flood: pagination links back to a page already read, and oversized bodies.

Small test servers (:mod:`harness.stub`) play the hostile registry and token server; the real
registry never does either. Each serves at most a bounded amount, so code without the guards fails
these tests instead of hanging them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

import dxf
from dxf import exceptions as ex
from harness.command import RSS_BOUND, STUB_PASSWORD, run_dxf, token_env
from harness.peak import traced_peak_of
from harness.pki import PkiPaths
from harness.stub import Reply, StubRequest, StubServer

REPO = "team/data"
MIB = 1024 * 1024
FLOOD = 100 * MIB
DXF_SCRIPT = Path(sys.executable).parent / "dxf"
JSON = {"Content-Type": "application/json"}


# -- pagination loops --------------------------------------------------------------------------------
def _looping(first: str, second: str, key: str) -> Callable[[StubRequest], Reply]:
    """Page ``first`` links to ``second``, which links back to ``first`` (for 50 requests at most)."""
    served = 0

    def answer(request: StubRequest) -> Reply:
        nonlocal served
        served += 1
        page = 1 if request.path == first else 2
        body = json.dumps({key: [f"item{page}-{served}"]}).encode()
        headers = dict(JSON)
        if served < 50:
            headers["Link"] = f'<{second if page == 1 else first}>; rel="next"'
        return Reply(200, headers, body)

    return answer


def test_catalog_link_back_to_a_seen_page_stops() -> None:
    with StubServer(_looping("/v2/_catalog", "/v2/_catalog?last=x", "repositories")) as server:
        with pytest.raises(ex.DXFProtocolError, match="points back to a page already read"):
            dxf.DXFBase(server.host, insecure=True).list_repos()
        assert len(server.seen) == 2


def test_tags_link_back_with_batch_size_stops() -> None:
    first = f"/v2/{REPO}/tags/list?n=2"
    with StubServer(_looping(first, f"/v2/{REPO}/tags/list?n=2&last=b", "tags")) as server:
        client = dxf.DXF(server.host, REPO, insecure=True)
        it = client.list_aliases(batch_size=2, iterate=True)
        assert next(iter(it)) == "item1-1"
        with pytest.raises(ex.DXFProtocolError):
            list(it)
        assert len(server.seen) == 2


def test_command_reports_a_pagination_loop_in_one_line() -> None:
    with StubServer(_looping(f"/v2/{REPO}/tags/list", f"/v2/{REPO}/tags/list?last=a", "tags")) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DXF_")}
        env.update({"DXF_HOST": server.host, "DXF_INSECURE": "1"})
        done = subprocess.run(
            [str(DXF_SCRIPT), "list-aliases", REPO], capture_output=True, text=True, env=env, timeout=60
        )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "points back to a page already read" in done.stderr
    assert "Traceback" not in done.stderr


# -- oversized bodies ----------------------------------------------------------------------------------
def _flood(declare_length: bool, produced: list[int]) -> Reply:
    """100 MiB of JSON whitespace, produced lazily (and counted) as the client reads it."""

    def pieces() -> Iterator[bytes]:
        yield b"{"
        piece = b" " * MIB
        for _ in range(FLOOD // MIB):
            produced[0] += len(piece)
            yield piece
        yield b"}"

    headers = {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}
    if declare_length:
        headers["Content-Length"] = str(FLOOD + 2)
    return Reply(200, headers, pieces())


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("operation", ["get_alias", "get_manifest_and_response", "list_aliases"])
def test_oversized_manifest_or_page_is_refused_in_bounded_memory(
    declare_length: bool, operation: str
) -> None:
    produced = [0]
    with StubServer(lambda _request: _flood(declare_length, produced)) as server:
        client = dxf.DXF(server.host, REPO, insecure=True, retries=0)
        method = getattr(client, operation)
        error, peak = traced_peak_of(lambda: method() if operation == "list_aliases" else method("big"))
    assert isinstance(error, ex.DXFProtocolError), error
    assert "the limit is 4 MiB" in str(error)
    assert peak < 16 * MIB, peak
    assert produced[0] < FLOOD


def test_manifest_at_the_cap_is_read() -> None:
    """Exactly 4 MiB is still a manifest (the cap is inclusive); the response stays usable."""
    blob = dxf.hash_bytes(b"x")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/octet-stream", "size": 1, "digest": blob},
            "layers": [{"mediaType": "application/octet-stream", "size": 1, "digest": blob}],
        }
    ).encode()
    padded = manifest[:-1] + b" " * (dxf.manifest.MAX_MANIFEST_SIZE - len(manifest)) + b"}"
    headers = {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}
    with StubServer(lambda _request: Reply(200, headers, iter([padded]))) as server:
        client = dxf.DXF(server.host, REPO, insecure=True)
        assert client.get_alias("big") == [blob]
        text, response = client.get_manifest_and_response("big")
        assert len(text) == dxf.manifest.MAX_MANIFEST_SIZE and response.content == padded


def test_oversized_token_answer_is_refused(harness_pki: PkiPaths) -> None:
    produced = [0]
    host = ""

    def answer(request: StubRequest) -> Reply:
        if request.path.startswith("/token"):
            return _flood(False, produced)
        challenge = f'Bearer realm="https://{host}/token",service="stub"'
        return Reply(401, {"WWW-Authenticate": challenge, **JSON}, b'{"errors": []}')

    def auth(obj: dxf.DXFBase, response: requests.Response) -> None:
        obj.authenticate("fred", "pw", response=response)

    tls = (str(harness_pki.server_cert), str(harness_pki.server_key))
    with StubServer(answer, tls=tls) as server:
        host = server.host
        client = dxf.DXF(server.host, REPO, auth, tlsverify=str(harness_pki.ca_cert), retries=0)
        error, peak = traced_peak_of(client.list_aliases)
    assert isinstance(error, ex.DXFProtocolError), error
    assert "the limit is 1 MiB" in str(error)
    assert peak < 16 * MIB, peak


# -- token servers that lie ------------------------------------------------------------------------------
def _token_registry(
    token_reply: Callable[[], Reply], realm: Callable[[str], str]
) -> Callable[[StubRequest], Reply]:
    """A registry that challenges every request with ``realm(its own host)``, whose ``/token``
    answers ``token_reply()``."""

    def answer(request: StubRequest) -> Reply:
        if request.path.startswith("/token"):
            return token_reply()
        challenge = f'Bearer realm="{realm(request.headers.get("Host", ""))}",service="stub"'
        return Reply(401, {"WWW-Authenticate": challenge, **JSON}, b'{"errors": []}')

    return answer


def test_a_10_mib_token_answer_is_refused_in_one_line(
    harness_pki: PkiPaths, record_property: Callable[[str, object], None]
) -> None:
    produced = [0]
    ten = 10 * MIB

    def token() -> Reply:
        def pieces() -> Iterator[bytes]:
            yield b'{"token": "'
            for _ in range(ten // MIB):
                produced[0] += MIB
                yield b"t" * MIB
            yield b'"}'

        return Reply(200, JSON, pieces())

    tls = (str(harness_pki.server_cert), str(harness_pki.server_key))
    with StubServer(_token_registry(token, lambda host: f"https://{host}/token"), tls=tls) as server:
        done = run_dxf(
            ["list-aliases", REPO], token_env(server.host, str(harness_pki.ca_cert), DXF_RETRIES="0")
        )
    line = done.one_line_failure()
    assert "refusing the token server's answer: the limit is 1 MiB" in line and STUB_PASSWORD not in line
    assert done.peak_rss < RSS_BOUND and produced[0] < ten
    record_property("exit_code", done.returncode)
    record_property("peak_rss_mib", done.peak_rss_mib)
    record_property("token_bytes_produced", produced[0])


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<html>login here</html>", "expected JSON from the token server, got a non-JSON answer"),
        (b'{"expires_in": 300}', "expected a token in the token server's answer, got no token"),
        (b'{"token": ""}', "expected a token in the token server's answer, got no token"),
        (b'["token"]', "expected a JSON object from the token server, got list"),
    ],
    ids=["not-json", "no-token", "empty-token", "not-an-object"],
)
def test_a_token_answer_without_a_token_is_one_clear_error(
    body: bytes, said: str, harness_pki: PkiPaths, record_property: Callable[[str, object], None]
) -> None:
    tls = (str(harness_pki.server_cert), str(harness_pki.server_key))
    token = lambda: Reply(200, JSON, body)  # noqa: E731
    with StubServer(_token_registry(token, lambda host: f"https://{host}/token"), tls=tls) as server:
        client = dxf.DXF(server.host, REPO, _auth, tlsverify=str(harness_pki.ca_cert), retries=0)
        with pytest.raises(ex.DXFUnexpectedError) as info:
            client.list_aliases()
        assert str(info.value) == said
        done = run_dxf(
            ["list-aliases", REPO], token_env(server.host, str(harness_pki.ca_cert), DXF_RETRIES="0")
        )
    assert done.one_line_failure().endswith(said)
    record_property("exit_code", done.returncode)


def _auth(obj: dxf.DXFBase, response: requests.Response) -> None:
    obj.authenticate("fred", STUB_PASSWORD, response=response)


def test_a_plain_http_realm_on_an_https_registry_is_refused(
    harness_pki: PkiPaths, record_property: Callable[[str, object], None]
) -> None:
    """The credentials would travel in clear: no request ever reaches the realm."""
    with StubServer(lambda _request: Reply(200, JSON, b'{"token": "t"}')) as realm:
        tls = (str(harness_pki.server_cert), str(harness_pki.server_key))
        registry = _token_registry(lambda: Reply(500), lambda _host: f"http://{realm.host}/token")
        with StubServer(registry, tls=tls) as server:
            client = dxf.DXF(server.host, REPO, _auth, tlsverify=str(harness_pki.ca_cert), retries=0)
            with pytest.raises(ex.DXFSecurityError, match=r"refusing token realm http://.*: it is not https"):
                client.list_aliases()
            done = run_dxf(
                ["list-aliases", REPO], token_env(server.host, str(harness_pki.ca_cert), DXF_RETRIES="0")
            )
        assert realm.seen == []
    line = done.one_line_failure()
    assert "it is not https" in line and STUB_PASSWORD not in line
    record_property("exit_code", done.returncode)
    record_property("realm_requests", len(realm.seen))
