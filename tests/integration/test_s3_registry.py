"""A registry that keeps its blobs in S3 (issue 13, part 3): distribution's s3-aws driver against a
local S3 server (moto), redirects on, so blob reads get a 307 to a presigned URL on the S3 host.

A recording proxy sits in front of the S3 server (the registry is given the proxy's address), so
every request the S3 host receives is seen: ours must never carry the registry's ``Authorization``
(real S3 rejects a presigned request that has one; moto would not notice).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import dxf
import dxf.segments
from dxf.digest import Digest
from dxf.download import partial_path
from dxf.ordered import OrderedBlobReader
from dxf.transfer import NETWORK_FAILURES
from harness.hooks import Exchanges
from harness.pki import PkiPaths
from harness.proxy import FaultProxy
from harness.registry import PASSWORD, USERNAME, RegistryProcess, S3Storage, start_registry
from harness.s3 import MotoS3

MiB = 1024 * 1024
BLOB = os.urandom(6 * MiB + 777)
DIGEST = dxf.hash_bytes(BLOB)


@pytest.fixture(scope="module")
def s3_registry(
    tmp_path_factory: pytest.TempPathFactory, harness_pki: PkiPaths
) -> Iterator[tuple[RegistryProcess, FaultProxy]]:
    """A TLS registry with basic auth whose blobs live in S3 behind a recording proxy."""
    with MotoS3() as s3, FaultProxy("127.0.0.1", s3.port) as storage:
        registry = start_registry(
            "basic",
            tmp_path_factory.mktemp("s3-registry"),
            pki=harness_pki,
            s3=S3Storage(storage.url, s3.bucket),
        )
        try:
            yield registry, storage
        finally:
            registry.close()


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dxf.segments, "MIN_SEGMENTED_BYTES", 2 * MiB)
    monkeypatch.setattr(dxf.segments, "MIN_SEGMENT", 2 * MiB)
    monkeypatch.setattr(dxf.segments, "FAST_CONNECTION", float("inf"))  # every link counts as slow


def _client(registry: RegistryProcess, repo: str, connections: int, retries: int | None = None) -> dxf.DXF:
    def auth(obj: dxf.DXFBase, response: requests.Response) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)

    return dxf.DXF(
        registry.host,
        repo,
        auth,
        tlsverify=registry.ca_bundle or True,
        connections=connections,
        retries=retries,
    )


def _ours(storage: FaultProxy) -> list[bytes]:
    """The request heads our client sent to the S3 host (the registry's own carry its AWS signature)."""
    return [h for h in storage.request_heads if b"\r\nuser-agent: dxf/" in h.lower()]


def test_push_and_multi_connection_pull_through_presigned_urls(
    s3_registry: tuple[RegistryProcess, FaultProxy], repo_name: str, tmp_path: Path, exchanges: Exchanges
) -> None:
    registry, storage = s3_registry
    with _client(registry, repo_name, connections=3) as client:
        assert client.push_blob(data=BLOB, digest=DIGEST) == DIGEST
        storage.request_heads.clear()
        assert client.pull_blob_to_file(DIGEST, str(tmp_path / "blob")) == len(BLOB)
    assert (tmp_path / "blob").read_bytes() == BLOB
    ours = _ours(storage)
    ranged = [h for h in ours if b"\r\nrange: bytes=" in h.lower()]
    assert 1 <= len(ranged) <= len(dxf.segments.plan(0, len(BLOB), 3)) - 1, ours
    assert all(b"x-amz-signature=" in h.split(b"\r\n", 1)[0].lower() for h in ours)
    assert not [h for h in ours if b"\r\nauthorization:" in h.lower()]
    assert [e.status for e in exchanges.to(registry.host) if e.method == "GET"].count(307) >= len(ranged) + 1


def test_an_interrupted_pull_resumes_from_s3(
    s3_registry: tuple[RegistryProcess, FaultProxy], repo_name: str, tmp_path: Path
) -> None:
    registry, storage = s3_registry
    target = tmp_path / "blob"
    with _client(registry, repo_name, connections=1, retries=0) as client:
        client.push_blob(data=BLOB, digest=DIGEST)
        storage.cut_after(3 * MiB, request_containing=b"user-agent: dxf/")
        with pytest.raises(NETWORK_FAILURES):
            client.pull_blob_to_file(DIGEST, str(target), resume=True)
        held = Path(partial_path(str(target), Digest.parse(DIGEST))).stat().st_size
        assert 0 < held < len(BLOB)
        storage.request_heads.clear()
        assert client.pull_blob_to_file(DIGEST, str(target), resume=True) == len(BLOB)
    assert target.read_bytes() == BLOB
    assert any(f"\r\nrange: bytes={held}-".encode() in h.lower() for h in _ours(storage))


@pytest.mark.parametrize("to", ["file", "stream"])
def test_a_segment_refused_by_storage_asks_the_registry_for_a_fresh_url(
    s3_registry: tuple[RegistryProcess, FaultProxy],
    repo_name: str,
    tmp_path: Path,
    exchanges: Exchanges,
    to: str,
) -> None:
    """Presigned URLs expire (S3 then answers 403): the segment is tried again through the registry,
    which redirects to a fresh URL, and the download completes (into a file, or in order into a
    stream: ``pull_blob(connections=N)``, what ``dxf pull-blob`` to standard output uses)."""
    registry, storage = s3_registry
    with _client(registry, repo_name, connections=3) as client:
        client.push_blob(data=BLOB, digest=DIGEST)
        sleeps: list[float] = []
        client._transport.sleep = sleeps.append
        # Ours only (the registry reads S3 too); the first is the GET that finds the blob.
        storage.inject_status(403, skip=1, request_containing=b"\r\nuser-agent: dxf/")
        injected = storage.injected
        exchanges.clear()
        storage.request_heads.clear()
        if to == "file":
            assert client.pull_blob_to_file(DIGEST, str(tmp_path / "blob")) == len(BLOB)
        else:
            (tmp_path / "blob").write_bytes(b"".join(_stream(client)))
    assert (tmp_path / "blob").read_bytes() == BLOB
    assert storage.injected == injected + 1
    assert all(e.status in (200, 206, 307) for e in exchanges.to(registry.host)), exchanges.to(registry.host)
    redirects = [e for e in exchanges.to(registry.host) if e.method == "GET" and e.status == 307]
    ranged = [h for h in _ours(storage) if b"\r\nrange: bytes=" in h.lower()]
    assert len(redirects) == len(ranged) + 1  # every ranged request, the refused one too, was redirected


def _stream(client: dxf.DXF) -> OrderedBlobReader:
    reader = client.pull_blob(DIGEST, connections=3)
    assert isinstance(reader, OrderedBlobReader)
    return reader
