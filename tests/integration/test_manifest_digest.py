"""A manifest read by digest must hash to that digest, not only to the ``Docker-Content-Digest`` the
server sends with it (issue #9: one verified manifest fetch, in ``RemoteRepository``).

A small stub plays the registry: a real one never serves a manifest under another digest.
"""

from __future__ import annotations

import pytest

import dxf
from dxf import exceptions as ex
from dxf.digest import Digest
from dxf.manifest import DOCKER_MANIFEST_V2, make_dxf_manifest
from harness.stub import Reply, StubRequest, StubServer

REPO = "team/data"
MANIFEST = make_dxf_manifest([(Digest.of_bytes(b"blob"), 4)]).encode()


def _serving_the_manifest(request: StubRequest) -> Reply:
    headers = {"Content-Type": DOCKER_MANIFEST_V2, "Docker-Content-Digest": str(Digest.of_bytes(MANIFEST))}
    return Reply(200, headers, MANIFEST)


def test_a_manifest_asked_for_by_digest_must_have_that_digest() -> None:
    other = Digest.of_bytes(b"some other manifest")
    with StubServer(_serving_the_manifest) as server:
        client = dxf.DXF(server.host, REPO, insecure=True)
        with pytest.raises(ex.DXFDigestMismatchError):
            client.get_alias(str(other))
        with pytest.raises(ex.DXFDigestMismatchError):
            client.store.resolve(str(other))
        assert client.get_alias(str(Digest.of_bytes(MANIFEST))) == [str(Digest.of_bytes(b"blob"))]
