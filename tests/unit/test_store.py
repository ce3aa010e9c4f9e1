"""The store interface: the verifying reader, and the contract run against the in-memory store."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxf.digest import Digest
from dxf.exceptions import DXFDigestMismatchError, DXFSizeMismatchError, DXFUnsupportedSchemaType
from dxf.manifest import OCI_INDEX, OCI_MANIFEST, OCTET_STREAM, Descriptor, make_dxf_manifest, successors
from dxf.store import VerifiedContent, verified
from harness.memstore import MemoryStore
from harness.store_contract import DeleterContract, StoreContract, TagListerContract, UntaggerContract


def _pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=8))
def test_verified_passes_matching_content_through_whatever_the_chunking(data: bytes, cuts: list[int]) -> None:
    desc = Descriptor.of_bytes(OCTET_STREAM, data)
    assert b"".join(verified(desc, _pieces(data, cuts))) == data


@given(st.binary(max_size=500), st.binary(min_size=1, max_size=50), st.lists(st.integers(0, 600), max_size=5))
def test_verified_never_yields_a_byte_past_the_size(data: bytes, extra: bytes, cuts: list[int]) -> None:
    desc = Descriptor.of_bytes(OCTET_STREAM, data)
    seen = bytearray()
    with pytest.raises(DXFSizeMismatchError):
        for chunk in verified(desc, _pieces(data + extra, cuts)):
            seen += chunk
    assert len(seen) <= len(data)


@given(st.binary(min_size=1, max_size=500))
def test_verified_rejects_short_or_altered_content(data: bytes) -> None:
    desc = Descriptor.of_bytes(OCTET_STREAM, data)
    with pytest.raises(DXFSizeMismatchError):
        b"".join(verified(desc, [data[:-1]]))
    altered = data[:-1] + bytes([data[-1] ^ 0xFF])
    with pytest.raises(DXFDigestMismatchError):
        b"".join(verified(desc, [altered]))


def test_verified_content_closes_its_source_once_even_when_left_early() -> None:
    closed: list[bool] = []
    data = b"abc" * 1000
    content = VerifiedContent(
        Descriptor.of_bytes(OCTET_STREAM, data), [data[:10], data[10:]], lambda: closed.append(True)
    )
    with content as chunks:
        assert next(iter(chunks)) == data[:10]
    content.close()
    assert closed == [True]


def test_descriptors_are_hashable_and_dedupe_in_sets() -> None:
    digest = Digest.of_bytes(b"x")
    a = Descriptor(OCTET_STREAM, digest, 1, annotations={"k": "v"})
    b = Descriptor(OCTET_STREAM, digest, 1, annotations={"k": "v"})
    c = Descriptor(OCTET_STREAM, digest, 1, annotations={"k": "other"})
    assert len({a, b}) == 1
    assert a != c and len({a, c}) == 2


class TestMemoryStore(StoreContract, TagListerContract, UntaggerContract, DeleterContract):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()


def _descriptor_json(desc: Descriptor, **extra: object) -> dict[str, object]:
    return {"mediaType": desc.media_type, "digest": str(desc.digest), "size": desc.size, **extra}


def test_successors_of_a_dxf_manifest_are_its_blobs_once_each() -> None:
    blobs = [(Digest.of_bytes(bytes([i])), 1) for i in range(3)]
    children = successors(make_dxf_manifest(blobs))
    assert [c.digest for c in children] == [d for d, _ in blobs]


def test_successors_of_an_artifact_put_the_subject_first_and_of_an_index_its_manifests() -> None:
    subject = Descriptor.of_bytes(OCI_MANIFEST, b"{}")
    config = Descriptor.of_bytes("application/vnd.oci.empty.v1+json", b"{}x")
    layer = Descriptor.of_bytes(OCTET_STREAM, b"layer")
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor_json(config),
        "layers": [_descriptor_json(layer)],
        "subject": _descriptor_json(subject),
    }
    assert successors(json.dumps(artifact)) == (subject, config, layer)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [_descriptor_json(subject, platform={"os": "linux", "architecture": "amd64"})],
    }
    assert [c.digest for c in successors(json.dumps(index))] == [subject.digest]


def test_schema1_manifests_have_no_successors_to_copy() -> None:
    schema1 = {"schemaVersion": 1, "fsLayers": [{"blobSum": str(Digest.of_bytes(b"x"))}]}
    with pytest.raises(DXFUnsupportedSchemaType):
        successors(json.dumps(schema1))
