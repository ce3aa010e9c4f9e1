"""``del_alias`` / ``dxf del-alias``: delete only the tag where the registry can, else the manifest.

distribution 2.8 cannot delete a tag (it answers ``DELETE /v2/<name>/manifests/<tag>`` with 400
DIGEST_INVALID), so there the manifest goes and takes every other alias on it along, as python-dxf
did; the README and ``del-alias --help`` say so. The tag-delete path is shown against
:class:`SpecRegistry`, a small test server implementing the manifest endpoints as the OCI
distribution spec v1.1 describes them (end-3 GET, end-9 DELETE by tag and by digest, end-8a tags).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dxf
from dxf import exceptions as ex
from dxf.digest import Digest
from dxf.manifest import DOCKER_MANIFEST_V2, make_dxf_manifest
from harness.hooks import Exchanges
from harness.registry import RegistryProcess
from harness.stub import Reply, StubRequest, StubServer

REPO = "team/data"
_MANIFEST_PATH = re.compile(rf"^/v2/{REPO}/manifests/([^/?]+)$")


class SpecRegistry:
    """Manifests and tags in memory, answering as distribution spec v1.1 says a registry that
    deletes tags does: ``DELETE`` of a tag removes that tag only (202), of a digest the manifest and
    every tag on it (202)."""

    def __init__(self) -> None:
        self.manifests: dict[str, bytes] = {}
        self.tags: dict[str, str] = {}
        self._lock = threading.Lock()

    def put(self, tag: str, manifest: bytes) -> str:
        digest = dxf.hash_bytes(manifest)
        self.manifests[digest] = manifest
        self.tags[tag] = digest
        return digest

    def answer(self, request: StubRequest) -> Reply:
        with self._lock:
            if request.path == f"/v2/{REPO}/tags/list":
                return _json(200, {"name": REPO, "tags": sorted(self.tags)})
            match = _MANIFEST_PATH.match(request.path)
            if match is None:
                return _json(404, {"errors": [{"code": "NAME_UNKNOWN", "message": "unknown"}]})
            reference = match.group(1)
            digest = reference if ":" in reference else self.tags.get(reference)
            if digest is None or digest not in self.manifests:
                return _json(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})
            if request.method == "DELETE":
                return self._delete(reference, digest)
            headers = {"Content-Type": DOCKER_MANIFEST_V2, "Docker-Content-Digest": digest}
            return Reply(200, headers, self.manifests[digest])

    def _delete(self, reference: str, digest: str) -> Reply:
        if ":" in reference:
            del self.manifests[digest]
            self.tags = {t: d for t, d in self.tags.items() if d != digest}
        else:
            del self.tags[reference]
        return Reply(202)


def _json(status: int, body: dict[str, Any]) -> Reply:
    return Reply(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


@pytest.fixture
def spec_registry() -> Iterator[tuple[SpecRegistry, StubServer]]:
    registry = SpecRegistry()
    with StubServer(registry.answer) as server:
        yield registry, server


BLOBS = [Digest.of_bytes(b"first"), Digest.of_bytes(b"second")]


def test_del_alias_deletes_only_the_tag_where_the_registry_can(
    spec_registry: tuple[SpecRegistry, StubServer],
) -> None:
    registry, server = spec_registry
    manifest = make_dxf_manifest([(BLOBS[0], 5), (BLOBS[1], 6)]).encode()
    registry.put("a", manifest)
    registry.put("b", manifest)
    client = dxf.DXF(server.host, REPO, insecure=True)
    assert client.del_alias("a") == [str(d) for d in BLOBS]  # python-dxf's return value
    assert client.list_aliases() == ["b"]
    assert client.get_alias("b") == [str(d) for d in BLOBS]
    with pytest.raises(ex.DXFNotFoundError):
        client.get_alias("a")
    deletes = [r.path for r in server.seen if r.method == "DELETE"]
    assert deletes == [f"/v2/{REPO}/manifests/a"]


def test_del_alias_by_digest_deletes_the_manifest(spec_registry: tuple[SpecRegistry, StubServer]) -> None:
    registry, server = spec_registry
    digest = registry.put("a", make_dxf_manifest([(BLOBS[0], 5)]).encode())
    client = dxf.DXF(server.host, REPO, insecure=True)
    assert client.del_alias(digest) == [str(BLOBS[0])]
    assert registry.manifests == {} and registry.tags == {}


def test_distribution_cannot_delete_a_tag_so_other_aliases_go_too(
    registry_plain: RegistryProcess, repo_name: str, exchanges: Exchanges
) -> None:
    """The documented fallback: distribution 2.8.2 answers 400 to a tag DELETE; the manifest is then
    deleted by digest, and the other alias on it disappears with it."""
    client = dxf.DXF(registry_plain.host, repo_name, insecure=True)
    digest = client.push_blob(data=[b"shared"], digest=dxf.hash_bytes(b"shared"))
    client.set_alias("a", digest)
    client.set_alias("b", digest)
    client.set_alias("other", client.push_blob(data=[b"x"], digest=dxf.hash_bytes(b"x")))
    exchanges.clear()
    assert client.del_alias("a") == [digest]
    calls = exchanges.calls(registry_plain.host)
    deletes = [(url.rsplit("/", 1)[1], status) for method, url, status in calls if method == "DELETE"]
    assert deletes[0] == ("a", 400)
    assert deletes[1][0].startswith("sha256:") and deletes[1][1] == 202
    assert client.list_aliases() == ["other"]
    with pytest.raises(ex.DXFNotFoundError):
        client.get_alias("b")


def test_del_alias_help_says_what_goes() -> None:
    helped = subprocess.run(
        [str(Path(sys.executable).parent / "dxf"), "del-alias", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = " ".join(helped.stdout.split())
    assert "every other alias that points at the same manifest" in text
    assert "distribution spec v1.1" in text
