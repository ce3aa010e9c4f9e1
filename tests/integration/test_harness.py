"""Proof that the integration-test harness works, talking HTTP with ``requests`` directly."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509

from harness.pki import PkiPaths, libtrust_key_id, load_private_key
from harness.proxy import FaultProxy
from harness.registry import PASSWORD, READER, USERNAME, RegistryProcess, harness_env, start_registry
from harness.tokenserver import DEFAULT_SERVICE, REGISTRY_LEEWAY, decode_jwt_unverified

FRED = (USERNAME, PASSWORD)
TIMEOUT = 10


# -- helpers ----------------------------------------------------------------------------------


def _verify(reg: RegistryProcess) -> str | bool:
    return reg.ca_bundle if reg.ca_bundle is not None else True


def _challenge_params(header: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def _fetch_token(
    reg: RegistryProcess, scopes: list[str], auth: tuple[str, str] | None = FRED
) -> requests.Response:
    assert reg.token_server is not None
    return requests.get(
        reg.token_server.realm,
        params={"service": DEFAULT_SERVICE, "scope": scopes},
        auth=auth,
        verify=_verify(reg),
        timeout=TIMEOUT,
    )


def _bearer(reg: RegistryProcess, scopes: list[str], auth: tuple[str, str] | None = FRED) -> dict[str, str]:
    response = _fetch_token(reg, scopes, auth)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _auth_kwargs(reg: RegistryProcess, repo: str, actions: str = "pull,push") -> dict[str, Any]:
    """requests keyword arguments that authenticate as fred in any mode."""
    kwargs: dict[str, Any] = {"verify": _verify(reg), "timeout": TIMEOUT}
    if reg.mode == "basic":
        kwargs["auth"] = FRED
    elif reg.mode == "token":
        kwargs["headers"] = _bearer(reg, [f"repository:{repo}:{actions}"])
    return kwargs


def _upload_url(location: str, base: str, digest: str) -> str:
    url = location if location.startswith("http") else base + location
    return url + ("&" if "?" in url else "?") + "digest=" + digest


def _push_blob(reg: RegistryProcess, repo: str, data: bytes, base: str | None = None) -> str:
    """Monolithic upload: POST then PUT ?digest=; returns the digest."""
    base = base or reg.url
    kwargs = _auth_kwargs(reg, repo)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = requests.post(f"{base}/v2/{repo}/blobs/uploads/", **kwargs)
    assert started.status_code == 202, started.text
    put_kwargs = dict(kwargs)
    put_kwargs["headers"] = {**kwargs.get("headers", {}), "Content-Type": "application/octet-stream"}
    done = requests.put(_upload_url(started.headers["Location"], base, digest), data=data, **put_kwargs)
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == digest
    return digest


# -- every mode answers /v2/ ------------------------------------------------------------------


def test_plain_registry_answers_v2(registry_plain: RegistryProcess) -> None:
    assert registry_plain.insecure and registry_plain.url.startswith("http://127.0.0.1:")
    response = requests.get(f"{registry_plain.url}/v2/", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_basic_registry_challenges_then_accepts_fred(registry_basic: RegistryProcess) -> None:
    assert registry_basic.url.startswith("https://") and registry_basic.ca_bundle
    url = f"{registry_basic.url}/v2/"
    anonymous = requests.get(url, verify=registry_basic.ca_bundle, timeout=TIMEOUT)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    assert requests.get(url, verify=registry_basic.ca_bundle, auth=FRED, timeout=TIMEOUT).status_code == 200
    assert requests.get(url, verify=registry_basic.ca_bundle, auth=READER, timeout=TIMEOUT).status_code == 200
    wrong = requests.get(url, verify=registry_basic.ca_bundle, auth=(USERNAME, "nope"), timeout=TIMEOUT)
    assert wrong.status_code == 401
    # The certificate really comes from the throwaway CA: the system trust store rejects it.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, auth=FRED, timeout=TIMEOUT)


def test_registry_leeway_without_strict_expiry(registry_token: RegistryProcess, repo_name: str) -> None:
    ts = registry_token.token_server
    assert ts is not None and not ts.strict_expiry
    url = f"{registry_token.url}/v2/{repo_name}/tags/list"
    expired_30s_ago = ts.issue_token(
        USERNAME, [f"repository:{repo_name}:pull"], expires_in=3, now=time.time() - 33
    )
    expired_90s_ago = ts.issue_token(
        USERNAME, [f"repository:{repo_name}:pull"], expires_in=3, now=time.time() - 93
    )
    for token, status in ((expired_30s_ago, 404), (expired_90s_ago, 401)):
        response = requests.get(
            url, headers={"Authorization": f"Bearer {token}"}, verify=_verify(registry_token), timeout=5
        )
        assert response.status_code == status


def test_token_registry_challenge_and_token(registry_token: RegistryProcess) -> None:
    ts = registry_token.token_server
    assert ts is not None
    url = f"{registry_token.url}/v2/"
    anonymous = requests.get(url, verify=registry_token.ca_bundle, timeout=TIMEOUT)
    assert anonymous.status_code == 401
    challenge = anonymous.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    params = _challenge_params(challenge)
    assert params["realm"] == ts.realm
    assert params["service"] == DEFAULT_SERVICE

    ts.reset_log()
    answer = _fetch_token(registry_token, ["repository:x/y:pull,push"])
    assert answer.status_code == 200
    body = answer.json()
    assert body["token"] and body["access_token"] == body["token"]
    assert body["expires_in"] == 300
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["issued_at"])
    header, claims = decode_jwt_unverified(body["token"])
    assert header == {"typ": "JWT", "alg": "RS256", "kid": ts.key_id}
    assert re.fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", ts.key_id)
    assert (
        claims["iss"] == "dxf-test-issuer" and claims["aud"] == DEFAULT_SERVICE and claims["sub"] == USERNAME
    )
    assert claims["exp"] - claims["iat"] in (300, 301)  # exp is rounded up to the next second
    assert claims["access"] == [{"type": "repository", "name": "x/y", "actions": ["pull", "push"]}]
    log = ts.requests_log
    assert [(e["user"], e["scopes"], e["status"]) for e in log] == [
        (USERNAME, ["repository:x/y:pull,push"], 200)
    ]

    authorized = requests.get(
        url,
        headers={"Authorization": f"Bearer {body['token']}"},
        verify=registry_token.ca_bundle,
        timeout=TIMEOUT,
    )
    assert authorized.status_code == 200


def test_kid_is_libtrust_id_of_issuer_cert(harness_pki: PkiPaths, registry_token: RegistryProcess) -> None:
    # The registry derives key IDs from the certificate in rootcertbundle; the token server from its key.
    cert = x509.load_pem_x509_certificate(harness_pki.issuer_cert.read_bytes())
    key_id = libtrust_key_id(cert.public_key())
    assert key_id == libtrust_key_id(load_private_key(harness_pki.issuer_key).public_key())
    assert re.fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", key_id)
    assert registry_token.token_server is not None and registry_token.token_server.key_id == key_id


def test_forged_kid_is_rejected(registry_token: RegistryProcess, repo_name: str) -> None:
    ts = registry_token.token_server
    assert ts is not None
    good = ts.issue_token(USERNAME, [f"repository:{repo_name}:pull"])
    header, _ = decode_jwt_unverified(good)
    url = f"{registry_token.url}/v2/{repo_name}/tags/list"
    ok = requests.get(
        url, headers={"Authorization": f"Bearer {good}"}, verify=_verify(registry_token), timeout=5
    )
    assert ok.status_code == 404  # authorized; the repository just does not exist
    original = ts.key_id
    ts.key_id = "AAAA:" * 11 + "AAAA"
    try:
        forged = ts.issue_token(USERNAME, [f"repository:{repo_name}:pull"])
    finally:
        ts.key_id = original
    bad = requests.get(
        url, headers={"Authorization": f"Bearer {forged}"}, verify=_verify(registry_token), timeout=5
    )
    assert bad.status_code == 401
    assert header["kid"] == original


@pytest.mark.parametrize("mode", ["plain", "basic", "token"])
def test_harness_env(mode: str, request: pytest.FixtureRequest) -> None:
    reg: RegistryProcess = request.getfixturevalue(f"registry_{mode}")
    env = harness_env(reg)
    assert env["DXF_HOST"] == reg.host
    if mode == "plain":
        assert env["DXF_INSECURE"] == "1" and "DXF_TLSVERIFY" not in env and "DXF_USERNAME" not in env
    else:
        assert env["DXF_TLSVERIFY"] == reg.ca_bundle and os.path.isfile(env["DXF_TLSVERIFY"])
        assert (env["DXF_USERNAME"], env["DXF_PASSWORD"]) == FRED
        assert "DXF_INSECURE" not in env


def test_every_mode_round_trips_a_blob(registry: RegistryProcess, repo_name: str) -> None:
    data = os.urandom(4096)
    digest = _push_blob(registry, repo_name, data)
    got = requests.get(
        f"{registry.url}/v2/{repo_name}/blobs/{digest}", **_auth_kwargs(registry, repo_name, "pull")
    )
    assert got.status_code == 200 and got.content == data


def test_repo_name_is_unique_and_valid(repo_name: str, request: pytest.FixtureRequest) -> None:
    component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    assert re.fullmatch(rf"{component}(?:/{component})*", repo_name)
    assert repo_name.startswith("test/test-repo-name-is-unique-and-valid-")
    assert request.getfixturevalue("repo_name") == repo_name  # stable within one test


# -- token mode: upload, policy, failures -----------------------------------------------------


def test_token_monolithic_upload_and_pull(registry_token: RegistryProcess, repo_name: str) -> None:
    data = os.urandom(10_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    headers = _bearer(registry_token, [f"repository:{repo_name}:pull,push"])
    verify = _verify(registry_token)
    # Without a token the registry refuses, naming the scope it wants.
    refused = requests.post(
        f"{registry_token.url}/v2/{repo_name}/blobs/uploads/", verify=verify, timeout=TIMEOUT
    )
    assert refused.status_code == 401
    # distribution lists the actions in random order (it iterates a Go map)
    wanted = _challenge_params(refused.headers["WWW-Authenticate"])["scope"]
    prefix, _, actions = wanted.rpartition(":")
    assert prefix == f"repository:{repo_name}" and set(actions.split(",")) == {"pull", "push"}

    started = requests.post(
        f"{registry_token.url}/v2/{repo_name}/blobs/uploads/", headers=headers, verify=verify, timeout=TIMEOUT
    )
    assert started.status_code == 202
    location = started.headers["Location"]
    done = requests.put(
        _upload_url(location, registry_token.url, digest),
        data=data,
        headers={**headers, "Content-Type": "application/octet-stream"},
        verify=verify,
        timeout=TIMEOUT,
    )
    assert done.status_code == 201, done.text
    got = requests.get(
        f"{registry_token.url}/v2/{repo_name}/blobs/{digest}", headers=headers, verify=verify, timeout=TIMEOUT
    )
    assert got.status_code == 200 and got.content == data


def test_anonymous_can_pull_public_but_not_push(registry_token: RegistryProcess, repo_name: str) -> None:
    repo = "public/" + repo_name.replace("/", "-")
    data = b"public data"
    digest = _push_blob(registry_token, repo, data)  # as fred
    verify = _verify(registry_token)

    answer = _fetch_token(registry_token, [f"repository:{repo}:pull,push"], auth=None)
    assert answer.status_code == 200
    _, claims = decode_jwt_unverified(answer.json()["token"])
    assert claims["sub"] == ""
    assert claims["access"] == [{"type": "repository", "name": repo, "actions": ["pull"]}]
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    got = requests.get(
        f"{registry_token.url}/v2/{repo}/blobs/{digest}", headers=headers, verify=verify, timeout=TIMEOUT
    )
    assert got.status_code == 200 and got.content == data
    push = requests.post(
        f"{registry_token.url}/v2/{repo}/blobs/uploads/", headers=headers, verify=verify, timeout=5
    )
    assert push.status_code == 401
    assert 'error="insufficient_scope"' in push.headers["WWW-Authenticate"]

    # A private repository: the anonymous token is issued but grants nothing.
    private = _fetch_token(registry_token, [f"repository:{repo_name}:pull"], auth=None)
    assert private.status_code == 200
    assert decode_jwt_unverified(private.json()["token"])[1]["access"] == []
    assert registry_token.token_server is not None
    assert registry_token.token_server.requests_log[-1]["user"] is None


def test_reader_and_catalog_policy(registry_token: RegistryProcess) -> None:
    verify = _verify(registry_token)
    reader = _fetch_token(
        registry_token, ["repository:a/b:pull,push,delete", "registry:catalog:*"], auth=READER
    )
    assert decode_jwt_unverified(reader.json()["token"])[1]["access"] == [
        {"type": "repository", "name": "a/b", "actions": ["pull"]}
    ]
    fred = _fetch_token(registry_token, ["registry:catalog:*", "repository:a/b:*"])
    assert decode_jwt_unverified(fred.json()["token"])[1]["access"] == [
        {"type": "registry", "name": "catalog", "actions": ["*"]},
        {"type": "repository", "name": "a/b", "actions": ["*"]},
    ]
    catalog = f"{registry_token.url}/v2/_catalog"
    as_fred = requests.get(
        catalog, headers={"Authorization": f"Bearer {fred.json()['token']}"}, verify=verify, timeout=TIMEOUT
    )
    assert as_fred.status_code == 200 and "repositories" in as_fred.json()
    as_reader = requests.get(
        catalog, headers={"Authorization": f"Bearer {reader.json()['token']}"}, verify=verify, timeout=TIMEOUT
    )
    assert as_reader.status_code == 401


def test_token_server_rejects_wrong_password(registry_token: RegistryProcess) -> None:
    ts = registry_token.token_server
    assert ts is not None
    ts.reset_log()
    assert _fetch_token(registry_token, ["repository:x/y:pull"], auth=(USERNAME, "wrong")).status_code == 401
    assert (
        _fetch_token(registry_token, ["repository:x/y:pull"], auth=("mallory", PASSWORD)).status_code == 401
    )
    assert [(e["user"], e["status"]) for e in ts.requests_log] == [(USERNAME, 401), ("mallory", 401)]
    ts.reset_log()
    assert ts.requests_log == []


def test_short_token_registry_and_quirks(short_token_registry: RegistryProcess, repo_name: str) -> None:
    ts = short_token_registry.token_server
    assert ts is not None
    answer = _fetch_token(short_token_registry, [f"repository:{repo_name}:pull"])
    body = answer.json()
    assert body["expires_in"] == 3 and ts.strict_expiry
    _, claims = decode_jwt_unverified(body["token"])
    assert claims["exp"] - claims["iat"] in (3 - REGISTRY_LEEWAY, 4 - REGISTRY_LEEWAY)

    # Tokens really lapse after 3 s despite the registry's leeway (minted with an earlier clock).
    url = f"{short_token_registry.url}/v2/{repo_name}/tags/list"
    verify = _verify(short_token_registry)
    scopes = [f"repository:{repo_name}:pull"]
    young = ts.issue_token(USERNAME, scopes, now=time.time() - 1)
    old = ts.issue_token(USERNAME, scopes, now=time.time() - 4)
    for token, status in ((young, 404), (old, 401)):
        response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, verify=verify, timeout=5)
        assert response.status_code == status

    ts.empty_access_token = True
    ts.omit_issued_at = True
    quirky = _fetch_token(short_token_registry, [f"repository:{repo_name}:pull"]).json()
    assert quirky["access_token"] == "" and "issued_at" not in quirky
    response = requests.get(
        f"{short_token_registry.url}/v2/",
        headers={"Authorization": f"Bearer {quirky['token']}"},
        verify=_verify(short_token_registry),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert len(ts.requests_log) == 2 and all(e["time"] > 0 for e in ts.requests_log)


def test_token_repeated_scope_parameters(registry_token: RegistryProcess) -> None:
    answer = _fetch_token(registry_token, ["repository:a/b:pull", "repository:c/d:push"])
    access = decode_jwt_unverified(answer.json()["token"])[1]["access"]
    assert access == [
        {"type": "repository", "name": "a/b", "actions": ["pull"]},
        {"type": "repository", "name": "c/d", "actions": ["push"]},
    ]


# -- restart ----------------------------------------------------------------------------------


def test_restart_keeps_blobs_port_and_secret(tmp_path: Path) -> None:
    reg = start_registry("plain", tmp_path / "restartable")
    try:
        data = os.urandom(2048)
        digest = _push_blob(reg, "keep/me", data)
        # An upload session started before the restart: its state is signed with http.secret.
        pending = requests.post(f"{reg.url}/v2/keep/me/blobs/uploads/", timeout=TIMEOUT)
        assert pending.status_code == 202
        host, pid = reg.host, reg.pid
        reg.restart()
        assert reg.host == host and reg.pid != pid and reg.running
        got = requests.get(f"{reg.url}/v2/keep/me/blobs/{digest}", timeout=TIMEOUT)
        assert got.status_code == 200 and got.content == data
        other = b"finished after restart"
        other_digest = "sha256:" + hashlib.sha256(other).hexdigest()
        done = requests.put(
            _upload_url(pending.headers["Location"], reg.url, other_digest), data=other, timeout=5
        )
        assert done.status_code == 201, done.text
    finally:
        reg.close()
    assert not reg.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{reg.url}/v2/", timeout=2)


def test_start_failure_is_loud(tmp_path: Path) -> None:
    reg = start_registry("plain", tmp_path / "broken")
    reg.stop()
    reg.config_path.write_text(reg.config_path.read_text().replace("version: 0.1", "version: 9.9"))
    with pytest.raises(RuntimeError, match=r"exited with status \d+ during start-up") as failure:
        reg.start()
    assert "9.9" in str(failure.value)  # the registry's own complaint is quoted
    assert not reg.running


# -- fault proxy ------------------------------------------------------------------------------


def test_proxy_forwards_blob_get_and_upload(
    proxy: FaultProxy, registry_plain: RegistryProcess, repo_name: str
) -> None:
    data = os.urandom(300_000)
    digest = _push_blob(registry_plain, repo_name, data, base=proxy.url)  # upload through the proxy
    with requests.Session() as session:
        head = session.head(f"{proxy.url}/v2/{repo_name}/blobs/{digest}", timeout=TIMEOUT)
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(data)
        got = session.get(f"{proxy.url}/v2/{repo_name}/blobs/{digest}", timeout=TIMEOUT)  # same connection
        assert got.status_code == 200 and got.content == data
    stats = proxy.stats()
    assert stats["bytes_upstream"] > len(data) and stats["bytes_downstream"] > len(data)
    assert stats["connections"] >= 2 and stats["injected"] == 0 and stats["cuts"] == 0
    started = requests.post(f"{proxy.url}/v2/{repo_name}/blobs/uploads/", timeout=TIMEOUT)
    assert started.headers["Location"].startswith(proxy.url + "/")


def test_proxy_rewrites_location_from_target_address() -> None:
    class Redirector(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            own = f"127.0.0.1:{port}"  # the upstream's own address, bound below
            body = f"see http://{own}/there".encode()
            self.send_response(302)
            self.send_header("Location", f"http://{own}/there?x=1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        with FaultProxy("127.0.0.1", port) as p:
            response = requests.get(f"{p.url}/here", allow_redirects=False, timeout=TIMEOUT)
            assert response.status_code == 302
            assert response.headers["Location"] == f"{p.url}/there?x=1"
            assert response.text == f"see http://127.0.0.1:{port}/there"  # bodies are untouched
            assert p.locations_rewritten == 1
    finally:
        server.shutdown()
        server.server_close()


def test_cut_after_downstream_breaks_a_blob_get(
    proxy: FaultProxy, registry_plain: RegistryProcess, repo_name: str
) -> None:
    data = os.urandom(256 * 1024)
    digest = _push_blob(registry_plain, repo_name, data)
    url = f"{proxy.url}/v2/{repo_name}/blobs/{digest}"
    with requests.Session() as session:
        assert session.get(url, timeout=TIMEOUT).content == data  # warm keep-alive connection
        proxy.cut_after(10_000, direction="downstream")
        with pytest.raises(requests.exceptions.RequestException):
            session.get(url, timeout=TIMEOUT).content  # noqa: B018 - reading the body triggers the error
        assert proxy.cuts == 1 and proxy.pending_faults == 0
        again = session.get(url, timeout=TIMEOUT)  # times=1: the next transfer is whole
        assert again.status_code == 200 and again.content == data


def test_cut_after_upstream_breaks_an_upload(
    proxy: FaultProxy, registry_plain: RegistryProcess, repo_name: str
) -> None:
    data = os.urandom(1024 * 1024)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = requests.post(f"{proxy.url}/v2/{repo_name}/blobs/uploads/", timeout=TIMEOUT)
    assert started.status_code == 202
    proxy.cut_after(50_000, direction="upstream")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.put(_upload_url(started.headers["Location"], proxy.url, digest), data=data, timeout=TIMEOUT)
    assert proxy.cuts == 1
    assert (
        requests.head(f"{registry_plain.url}/v2/{repo_name}/blobs/{digest}", timeout=TIMEOUT).status_code
        == 404
    )


def test_inject_status_429_with_retry_after(proxy: FaultProxy, repo_name: str) -> None:
    with requests.Session() as session:
        assert session.get(f"{proxy.url}/v2/", timeout=TIMEOUT).status_code == 200
        proxy.inject_status(429, times=1, retry_after=1)
        limited = session.get(f"{proxy.url}/v2/", timeout=TIMEOUT)  # on the kept-alive connection
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        assert limited.json()["errors"][0]["code"] == "INJECTED"
        assert session.get(f"{proxy.url}/v2/", timeout=TIMEOUT).status_code == 200
    assert proxy.injected == 1

    # Requests with bodies are read and dropped; `times` counts requests.
    proxy.inject_status(503, times=2)
    for _ in range(2):
        response = requests.post(f"{proxy.url}/v2/{repo_name}/blobs/uploads/", data=b"x" * 5000, timeout=5)
        assert response.status_code == 503 and "Retry-After" not in response.headers
    assert proxy.injected == 3
    assert requests.get(f"{proxy.url}/v2/", timeout=TIMEOUT).status_code == 200


def test_inject_status_for_one_method_skips_the_first_matches(proxy: FaultProxy, repo_name: str) -> None:
    """``method``/``skip``: the third DELETE is answered with 503; GETs and the first two DELETEs
    pass through to the registry (which answers them itself), whatever comes in between."""
    proxy.inject_status(503, method="delete", skip=2)
    url = f"{proxy.url}/v2/{repo_name}/manifests/sha256:{'0' * 64}"
    with requests.Session() as session:
        answers = [session.delete(url, timeout=TIMEOUT).status_code for _ in range(2)]
        assert session.get(f"{proxy.url}/v2/", timeout=TIMEOUT).status_code == 200
        assert proxy.injected == 0 and proxy.pending_faults == 1
        assert session.delete(url, timeout=TIMEOUT).status_code == 503
        assert 503 not in answers and proxy.injected == 1 and proxy.pending_faults == 0
        assert session.delete(url, timeout=TIMEOUT).status_code == answers[0]
