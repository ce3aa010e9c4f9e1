"""A registry over HTTPS that redirects blob reads to plain-HTTP storage (issue #7, item 3).

A real distribution registry (TLS, with credentials: basic and token modes) runs its ``redirect``
storage middleware, pointed at a plain-HTTP storage server on another port that serves the registry's
own storage directory and logs every request. Blob reads follow the redirect and verify; the storage
host never sees ``Authorization`` or a cookie. What carries credentials is still refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import dxf
from dxf import exceptions as ex
from dxf.digest import Digest
from dxf.main import doit
from harness.pki import PkiPaths
from harness.registry import PASSWORD, USERNAME, RegistryProcess, harness_env, start_registry
from harness.storage import StorageServer

DATA = os.urandom(2 * 1024 * 1024 + 3)


@pytest.fixture(scope="module", params=["basic", "token"])
def redirecting(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, harness_pki: PkiPaths
) -> Iterator[tuple[RegistryProcess, StorageServer]]:
    workdir = tmp_path_factory.mktemp(f"redirecting-{request.param}")
    with StorageServer(workdir / "storage") as storage:
        registry = start_registry(request.param, workdir, pki=harness_pki, storage_redirect=storage.url)
        try:
            yield registry, storage
        finally:
            registry.close()


def _client(registry: RegistryProcess, repo: str) -> dxf.DXF:
    def auth(obj: dxf.DXFBase, response: requests.Response) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)

    return dxf.DXF(registry.host, repo, auth, tlsverify=registry.ca_bundle or True, retries=0)


def test_blob_reads_follow_the_redirect_without_credentials(
    redirecting: tuple[RegistryProcess, StorageServer],
    repo_name: str,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    registry, storage = redirecting
    client = _client(registry, repo_name)
    client._transport.session.cookies.set("session", "registry-cookie", domain="127.0.0.1")
    digest = client.push_blob(data=DATA, digest=dxf.hash_bytes(DATA))
    storage.seen.clear()

    assert b"".join(client.pull_blob(digest)) == DATA  # type: ignore[arg-type]
    assert client.pull_blob_to_file(digest, str(tmp_path / "f")) == len(DATA)
    assert (tmp_path / "f").read_bytes() == DATA
    assert client.blob_size(digest) == len(DATA)
    assert doit(["pull-blob", repo_name, digest], harness_env(registry)) == 0
    assert capsysbinary.readouterr().out == DATA

    blob_path = f"/docker/registry/v2/blobs/sha256/{digest[7:9]}/{digest[7:]}/data"
    assert [(method, path.partition("?")[0]) for method, path, _ in storage.seen] == [
        ("GET", blob_path),
        ("GET", blob_path),
        ("HEAD", blob_path),
        ("GET", blob_path),
    ]
    for _, _, headers in storage.seen:
        assert not {"authorization", "cookie"} & {name.lower() for name in headers}, headers


def test_other_requests_still_refuse_the_downgrade(
    redirecting: tuple[RegistryProcess, StorageServer], repo_name: str
) -> None:
    """The same redirect, for a request not marked as a blob read, is refused before anything is
    sent to the storage host (only blob reads may leave https)."""
    registry, storage = redirecting
    client = _client(registry, repo_name)
    digest = client.push_blob(data=DATA, digest=dxf.hash_bytes(DATA))
    storage.seen.clear()
    with pytest.raises(ex.DXFSecurityError, match="downgrades https to http"):
        client._request("GET", client._registry.blob_url(client._path, Digest.parse(digest)))
    assert storage.seen == []
