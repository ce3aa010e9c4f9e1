"""The python-dxf module API against real registries, in every auth mode."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests

import dxf
import dxf.auth
from dxf import exceptions as ex
from dxf.manifest import OCI_INDEX, OCI_MANIFEST
from harness.hooks import Exchanges
from harness.registry import PASSWORD, READER, USERNAME, RegistryProcess


def make_client(
    registry: RegistryProcess, repo: str, user: tuple[str, str] | None = (USERNAME, PASSWORD)
) -> dxf.DXF:
    def auth(obj: dxf.DXFBase, response: requests.Response) -> None:
        if user is None:
            obj.authenticate(response=response)
        else:
            obj.authenticate(user[0], user[1], response=response)

    return dxf.DXF(
        registry.host, repo, auth, insecure=registry.insecure, tlsverify=registry.ca_bundle or True
    )


def make_base(registry: RegistryProcess) -> dxf.DXFBase:
    def auth(obj: dxf.DXFBase, response: requests.Response) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)

    return dxf.DXFBase(registry.host, auth, insecure=registry.insecure, tlsverify=registry.ca_bundle or True)


@pytest.fixture
def client(registry: RegistryProcess, repo_name: str) -> dxf.DXF:
    return make_client(registry, repo_name)


@pytest.fixture
def blob_file(tmp_path: Path) -> Path:
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return path


def test_module_hash_helpers(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    expected = "sha256:" + hashlib.sha256(b"hello").hexdigest()
    assert dxf.hash_bytes(b"hello") == expected
    assert dxf.hash_file(str(path)) == expected
    assert dxf.split_digest(expected) == ("sha256", expected[7:])
    with pytest.raises(ex.DXFUnexpectedDigestMethodError):
        dxf.split_digest("md5:" + "0" * 32)


def test_push_file_reports_progress_and_pulls_back(client: dxf.DXF, blob_file: Path) -> None:
    calls: list[tuple[Any, ...]] = []
    digest = client.push_blob(str(blob_file), progress=lambda *a: calls.append(a))
    data = blob_file.read_bytes()
    assert digest == dxf.hash_bytes(data)
    assert calls[0] == (digest, b"", len(data))
    assert all(len(c) == 3 and c[0] == digest and c[2] == len(data) for c in calls)
    assert sum(len(c[1]) for c in calls) == len(data)
    assert b"".join(client.pull_blob(digest)) == data  # type: ignore[arg-type]
    it, size = client.pull_blob(digest, size=True)
    assert size == len(data) and b"".join(it) == data  # type: ignore[arg-type]
    assert b"".join(client.pull_blob(digest, chunk_size=7)) == data  # type: ignore[arg-type]
    assert client.blob_size(digest) == len(data)


def test_push_existing_blob_skips_upload_and_progress(client: dxf.DXF, blob_file: Path) -> None:
    digest = client.push_blob(str(blob_file))
    calls: list[tuple[Any, ...]] = []
    assert client.push_blob(str(blob_file), progress=lambda *a: calls.append(a)) == digest
    assert calls == []
    # check_exists=False uploads again, reporting progress.
    assert client.push_blob(str(blob_file), progress=lambda *a: calls.append(a), check_exists=False) == digest
    assert calls and calls[0][1] == b""


def test_push_data_iterator(client: dxf.DXF) -> None:
    chunks = [b"a" * 1000, b"b" * 2000, b"c"]
    digest = dxf.hash_bytes(b"".join(chunks))
    calls: list[tuple[Any, ...]] = []
    assert client.push_blob(data=iter(chunks), digest=digest, progress=lambda *a: calls.append(a)) == digest
    assert calls[0] == (digest, b"")
    assert [c[1] for c in calls[1:]] == chunks
    assert b"".join(client.pull_blob(digest)) == b"".join(chunks)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.push_blob(data=iter(chunks))


def test_push_data_with_wrong_digest_is_refused(client: dxf.DXF) -> None:
    wrong = dxf.hash_bytes(b"something else")
    with pytest.raises(requests.exceptions.HTTPError) as info:
        client.push_blob(data=[b"payload"], digest=wrong)
    assert info.value.response is not None and info.value.response.status_code == 400
    with pytest.raises(ex.DXFNotFoundError):
        client.blob_size(wrong)


def test_missing_blob_raises_when_called_not_iterated(client: dxf.DXF) -> None:
    missing = dxf.hash_bytes(b"never pushed")
    with pytest.raises(ex.DXFNotFoundError) as info:
        client.pull_blob(missing)
    assert isinstance(info.value, requests.exceptions.HTTPError)
    assert info.value.response is not None and info.value.response.status_code == 404
    assert "404" in str(info.value)
    with pytest.raises(requests.exceptions.HTTPError):
        client.blob_size(missing)


def test_invalid_digest_and_name_fail_before_any_request(registry: RegistryProcess, client: dxf.DXF) -> None:
    for bad in ("sha256:../../etc", "sha256:" + "A" * 64, "nocolon", "sha256:" + "0" * 63):
        with pytest.raises(ValueError):
            client.pull_blob(bad)
    with pytest.raises(ex.DXFInvalidReferenceError):
        dxf.DXF(registry.host, "../escape", insecure=registry.insecure)
    with pytest.raises(ex.DXFInvalidReferenceError):
        client.get_alias("bad/alias")


def test_sha512_digests_are_accepted(client: dxf.DXF) -> None:
    data = b"sha512 content"
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    assert dxf.split_digest(digest)[0] == "sha512"
    assert client.push_blob(data=[data], digest=digest) == digest
    assert b"".join(client.pull_blob(digest)) == data  # type: ignore[arg-type]


def test_delete_blob(client: dxf.DXF, blob_file: Path) -> None:
    digest = client.push_blob(str(blob_file))
    client.del_blob(digest)
    with pytest.raises(ex.DXFNotFoundError):
        client.blob_size(digest)


def test_mount_blob(registry: RegistryProcess, client: dxf.DXF, repo_name: str, blob_file: Path) -> None:
    digest = client.push_blob(str(blob_file))
    other = make_client(registry, repo_name + "-mounted")
    assert other.mount_blob(repo_name, digest) == digest
    assert other.blob_size(digest) == blob_file.stat().st_size


def test_failed_mount_cancels_its_upload(
    registry: RegistryProcess, client: dxf.DXF, repo_name: str, exchanges: Exchanges
) -> None:
    missing = dxf.hash_bytes(b"not anywhere")
    with pytest.raises(ex.DXFMountFailed):
        client.mount_blob(repo_name + "-nonexistent", missing)
    cancels = [
        (url, status)
        for method, url, status in exchanges.calls(registry.host)
        if method == "DELETE" and "/blobs/uploads/" in url
    ]
    # (in token mode the first DELETE may meet a 401 asking for the delete scope)
    assert cancels and cancels[-1][1] == 204 and len({url for url, _ in cancels}) == 1
    # The upload session the registry opened instead of mounting is gone: in distribution's storage a
    # live session has ``data`` and ``startedat`` files (only its hash states outlive a cancel).
    session = registry.storage_dir / "docker/registry/v2/repositories" / repo_name / "_uploads"
    session /= cancels[0][0].rsplit("/", 1)[1]
    assert session.is_dir() and not {"data", "startedat"} & {p.name for p in session.iterdir()}


def test_aliases_round_trip(client: dxf.DXF, tmp_path: Path) -> None:
    blobs = []
    for i in range(3):
        path = tmp_path / f"b{i}"
        path.write_bytes(os.urandom(1000 + i))
        blobs.append(client.push_blob(str(path)))
    manifest_json = client.set_alias("v1", *blobs)
    assert manifest_json == client.make_manifest(*blobs)
    parsed = json.loads(manifest_json)
    assert parsed["config"]["digest"] == blobs[0]
    assert [layer["digest"] for layer in parsed["layers"]] == blobs
    assert client.get_alias("v1") == blobs
    assert client.get_alias("v1", sizes=True) == [(b, 1000 + i) for i, b in enumerate(blobs)]
    assert client.get_alias(manifest=manifest_json) == blobs
    assert client.get_digest("v1") == blobs[0]
    assert client.get_digest(manifest=manifest_json) == blobs[0]
    assert json.loads(client.get_manifest("v1")) == parsed  # type: ignore[arg-type]
    text, response = client.get_manifest_and_response("v1")
    assert text == manifest_json and response.status_code == 200
    dcd, head = client.head_manifest_and_response("v1")
    assert dcd == dxf.hash_bytes(manifest_json.encode()) and head.status_code == 200
    assert client.get_alias(dcd) == blobs  # an alias may also be a manifest digest
    assert client.del_alias("v1") == blobs
    with pytest.raises(ex.DXFNotFoundError):
        client.get_alias("v1")
    assert b"".join(client.pull_blob(blobs[1])) == (tmp_path / "b1").read_bytes()  # type: ignore[arg-type]


def test_list_aliases_and_repos_follow_pagination(
    registry: RegistryProcess, client: dxf.DXF, repo_name: str
) -> None:
    digest = client.push_blob(data=[b"x"], digest=dxf.hash_bytes(b"x"))
    names = [f"tag{i}" for i in range(5)]
    for name in names:
        client.set_alias(name, digest)
    assert sorted(client.list_aliases()) == names
    assert sorted(client.list_aliases(batch_size=2)) == names
    it = client.list_aliases(batch_size=2, iterate=True)
    assert not isinstance(it, list) and sorted(it) == names
    repos = make_base(registry).list_repos(batch_size=1)
    assert repo_name in repos


def test_api_version_check(client: dxf.DXF) -> None:
    body, response = client.api_version_check()
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert json.loads(body) == {}


def test_from_base_and_context_manager(registry: RegistryProcess, repo_name: str) -> None:
    with make_base(registry) as base:
        repo = dxf.DXF.from_base(base, repo_name)
        assert repo._host == registry.host and repo._repo == repo_name
        assert repo._insecure == registry.insecure and repo._tlsverify == (registry.ca_bundle or True)
        digest = repo.push_blob(data=[b"shared"], digest=dxf.hash_bytes(b"shared"))
        assert repo.blob_size(digest) == 6
        if registry.mode == "token":
            assert base.token is not None and base.token == repo.token
    # Still usable after the block closed the pooled connections.
    assert repo.blob_size(digest) == 6


def _push_index(client: dxf.DXF) -> tuple[dict[str, list[str]], str]:
    per_platform: dict[str, list[str]] = {}
    entries = []
    for name, (os_, arch, variant) in {
        "amd": ("linux", "amd64", None),
        "arm": ("linux", "arm64", "v8"),
    }.items():
        data = name.encode() * 100
        digest = client.push_blob(data=[data], digest=dxf.hash_bytes(data))
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": digest,
                    "size": len(data),
                },
                "layers": [{"mediaType": "application/octet-stream", "digest": digest, "size": len(data)}],
            }
        )
        client.set_manifest(f"{name}-only", manifest)
        platform: dict[str, str] = {"os": os_, "architecture": arch}
        key = f"{os_}/{arch}"
        if variant:
            platform["variant"] = variant
            key += f"/{variant}"
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": dxf.hash_bytes(manifest.encode()),
                "size": len(manifest),
                "platform": platform,
            }
        )
        per_platform[key] = [digest]
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
    client.set_manifest("multi", index)
    return per_platform, index


def test_multi_platform_alias(client: dxf.DXF) -> None:
    per_platform, index = _push_index(client)
    assert client.get_alias("multi") == per_platform
    assert client.get_alias("multi", platform="linux/arm64/v8") == per_platform["linux/arm64/v8"]
    assert client.get_digest("multi") == {k: v[0] for k, v in per_platform.items()}
    manifests = client.get_manifest("multi")
    assert isinstance(manifests, dict) and set(manifests) == set(per_platform)
    assert json.loads(manifests["linux/amd64"])["layers"][0]["digest"] == per_platform["linux/amd64"][0]
    with pytest.raises(ex.DXFPlatformDataNotFound):
        client.get_alias("multi", platform="windows/amd64")
    deleted = client.del_alias("multi")
    assert isinstance(deleted, dict) and set(deleted) == set(per_platform)
    assert json.loads(index)["manifests"][0]["digest"] in deleted.values()


# -- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_readme_module_example(
    request: pytest.FixtureRequest, mode: str, repo_name: str, tmp_path: Path
) -> None:
    """The README's module example, with our registry instead of Docker Hub."""
    registry: RegistryProcess = request.getfixturevalue(f"registry_{mode}")
    logger = tmp_path / "logger.dat"
    logger.write_bytes(b"may 15 readings\n" * 1000)

    def auth(dxf: dxf.DXFBase, response: requests.Response) -> None:
        dxf.authenticate("fred", "somepassword", response=response)

    client = dxf.DXF(registry.host, repo_name, auth, tlsverify=registry.ca_bundle)  # type: ignore[arg-type]
    dgst = client.push_blob(str(logger))
    client.set_alias("may15-readings", dgst)
    assert client.get_alias("may15-readings") == [dgst]
    assert b"".join(client.pull_blob(dgst)) == logger.read_bytes()  # type: ignore[arg-type]


def test_authenticate_probes_v2(registry: RegistryProcess, repo_name: str) -> None:
    client = dxf.DXF(
        registry.host, repo_name, insecure=registry.insecure, tlsverify=registry.ca_bundle or True
    )
    result = client.authenticate(USERNAME, PASSWORD, actions="pull")
    if registry.mode == "token":
        assert isinstance(result, str) and result == client.token
    else:
        assert result is None
    # Without a callback, what authenticate() set up is used for later requests.
    assert client.api_version_check()[1].status_code == 200
    with pytest.raises(ex.DXFNotFoundError):
        client.blob_size(dxf.hash_bytes(b"absent"))


def test_authentication_refused(
    registry_basic: RegistryProcess, registry_token: RegistryProcess, repo_name: str
) -> None:
    for registry in (registry_basic, registry_token):
        bad = make_client(registry, repo_name, user=(USERNAME, "wrong"))
        with pytest.raises(ex.DXFUnauthorizedError):
            bad.list_aliases()


def test_no_auth_callback_means_unauthorized(registry_basic: RegistryProcess, repo_name: str) -> None:
    client = dxf.DXF(registry_basic.host, repo_name, tlsverify=registry_basic.ca_bundle)  # type: ignore[arg-type]
    with pytest.raises(ex.DXFUnauthorizedError):
        client.list_aliases()


def test_auth_over_plain_http_is_refused(
    registry_basic: RegistryProcess, registry_plain: RegistryProcess
) -> None:
    challenge = requests.get(f"{registry_basic.url}/v2/", verify=registry_basic.ca_bundle, timeout=10)
    assert challenge.status_code == 401
    client = dxf.DXFBase(registry_plain.host, insecure=True)
    with pytest.raises(ex.DXFAuthInsecureError):
        client.authenticate(USERNAME, PASSWORD, response=challenge)


def test_token_permissions(registry_token: RegistryProcess, repo_name: str) -> None:
    writer = make_client(registry_token, repo_name)
    digest = writer.push_blob(data=[b"readable"], digest=dxf.hash_bytes(b"readable"))
    reader = make_client(registry_token, repo_name, user=READER)
    assert reader.blob_size(digest) == 8
    with pytest.raises(ex.DXFUnauthorizedError):
        reader.push_blob(data=[b"nope"], digest=dxf.hash_bytes(b"nope"))
    anonymous = make_client(registry_token, repo_name, user=None)
    with pytest.raises(ex.DXFUnauthorizedError):
        anonymous.blob_size(digest)


def test_anonymous_pull_of_public_repository(registry_token: RegistryProcess, repo_name: str) -> None:
    public = "public/" + repo_name.replace("/", "-")
    digest = make_client(registry_token, public).push_blob(data=[b"open"], digest=dxf.hash_bytes(b"open"))
    anonymous = make_client(registry_token, public, user=None)
    assert b"".join(anonymous.pull_blob(digest)) == b"open"  # type: ignore[arg-type]


def test_token_property_reused_by_new_client(registry_token: RegistryProcess, repo_name: str) -> None:
    first = dxf.DXF(registry_token.host, repo_name, tlsverify=registry_token.ca_bundle)  # type: ignore[arg-type]
    token = first.authenticate(USERNAME, PASSWORD, actions=["pull", "push"])
    assert token
    second = dxf.DXF(registry_token.host, repo_name, tlsverify=registry_token.ca_bundle)  # type: ignore[arg-type]
    second.token = token
    digest = second.push_blob(data=[b"with token"], digest=dxf.hash_bytes(b"with token"))
    assert second.blob_size(digest) == 10


def test_tokens_are_cached_across_requests(registry_token: RegistryProcess, repo_name: str) -> None:
    client = make_client(registry_token, repo_name)
    assert registry_token.token_server is not None
    registry_token.token_server.reset_log()
    for i in range(10):
        data = f"blob {i}".encode()
        digest = client.push_blob(data=[data], digest=dxf.hash_bytes(data))
        assert b"".join(client.pull_blob(digest)) == data  # type: ignore[arg-type]
    fetched = [e for e in registry_token.token_server.requests_log if e["status"] == 200]
    # One token per kind of access (pull, push), not one per request: python-dxf fetched ~40 here.
    assert 1 <= len(fetched) <= 4


def test_quirky_token_answers(registry_token: RegistryProcess, repo_name: str) -> None:
    server = registry_token.token_server
    assert server is not None
    server.empty_access_token = True
    server.omit_issued_at = True
    try:
        client = make_client(registry_token, repo_name)
        digest = client.push_blob(data=[b"quirk"], digest=dxf.hash_bytes(b"quirk"))
        assert client.blob_size(digest) == 5
    finally:
        server.empty_access_token = False
        server.omit_issued_at = False


@pytest.mark.slow
def test_three_second_tokens_never_surface_401(
    short_token_registry: RegistryProcess, repo_name: str, exchanges: Exchanges
) -> None:
    """Operations over more than 10 s with 3 s tokens, through one client: no 401 ever surfaces.

    The harness moves each JWT's ``exp`` back by distribution's 60 s leeway, so the registry really
    refuses a token 3 s after it was issued: a client that never refreshed would fail here.
    """
    import time

    server = short_token_registry.token_server
    assert server is not None and server.expires_in == 3
    client = make_client(short_token_registry, repo_name)
    server.reset_log()
    started = time.monotonic()
    i = 0
    while time.monotonic() - started < 10.5:
        data = f"tick {i}".encode()
        digest = client.push_blob(data=[data], digest=dxf.hash_bytes(data))
        assert b"".join(client.pull_blob(digest)) == data  # type: ignore[arg-type]
        client.set_alias(f"t{i % 3}", digest)
        assert client.get_alias(f"t{i % 3}") == [digest]
        i += 1
        time.sleep(0.2)  # pacing: spreads operations over the window; not synchronisation
    granted = [entry["time"] for entry in server.requests_log if entry["status"] == 200]
    assert len(granted) >= 4 and granted[-1] - granted[0] >= 6  # renewed as they aged
    sent = [e.request_headers.get("Authorization") for e in exchanges.to(short_token_registry.host)]
    assert sent.count("Bearer <redacted>") >= i  # the registry saw bearer tokens, never their value


def test_without_callback_remembered_credentials_replace_a_dead_token(
    registry_token: RegistryProcess, repo_name: str
) -> None:
    """python-dxf failed with 401 once the token from ``authenticate()`` died; we authenticate again
    with the credentials that call was given."""
    import time

    assert registry_token.token_server is not None
    client = dxf.DXF(registry_token.host, repo_name, tlsverify=registry_token.ca_bundle)  # type: ignore[arg-type]
    client.authenticate(USERNAME, PASSWORD, actions=["pull", "push"])
    dead = registry_token.token_server.issue_token(
        USERNAME, [f"repository:{repo_name}:pull,push"], now=time.time() - 3600, expires_in=60
    )
    client.token = dead
    digest = client.push_blob(data=[b"after renewal"], digest=dxf.hash_bytes(b"after renewal"))
    assert client.blob_size(digest) == 13
    assert client.token != dead
