"""Content graphs for copy tests: a multi-platform OCI index over image manifests that share a blob."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from dxf.manifest import OCI_INDEX, OCI_MANIFEST, OCTET_STREAM, Descriptor
from dxf.store import Store

CONFIG = "application/vnd.oci.image.config.v1+json"


@dataclass
class Graph:
    """What :func:`push_index` stored: the index, its manifests and every blob with its bytes."""

    index: Descriptor
    index_bytes: bytes
    manifests: list[tuple[Descriptor, bytes]]
    blobs: dict[Descriptor, bytes]


def _entry(desc: Descriptor, **extra: object) -> dict[str, object]:
    return {"mediaType": desc.media_type, "digest": str(desc.digest), "size": desc.size, **extra}


def push_index(store: Store, tag: str, blob_size: int = 20_000) -> Graph:
    """Push an index of two platforms whose manifests share one layer, and tag it ``tag``."""
    shared = os.urandom(blob_size)
    blobs: dict[Descriptor, bytes] = {Descriptor.of_bytes(OCTET_STREAM, shared): shared}
    manifests: list[tuple[Descriptor, bytes]] = []
    platforms = [("linux", "amd64"), ("linux", "arm64")]
    for os_name, arch in platforms:
        config = json.dumps({"architecture": arch, "os": os_name}).encode()
        own = os.urandom(blob_size + 1)
        config_desc = Descriptor.of_bytes(CONFIG, config)
        own_desc = Descriptor.of_bytes(OCTET_STREAM, own)
        blobs[config_desc], blobs[own_desc] = config, own
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": _entry(config_desc),
            "layers": [_entry(own_desc), _entry(Descriptor.of_bytes(OCTET_STREAM, shared))],
        }
        content = json.dumps(manifest, indent=3).encode()  # unusual spacing: bytes must survive as is
        manifests.append((Descriptor.of_bytes(OCI_MANIFEST, content), content))
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            _entry(desc, platform={"os": o, "architecture": a})
            for (desc, _), (o, a) in zip(manifests, platforms, strict=True)
        ],
    }
    index_bytes = json.dumps(index, indent=1).encode()
    for desc, data in blobs.items():
        store.push(desc, [data])
    for desc, content in manifests:
        store.push(desc, [content])
    index_desc = Descriptor.of_bytes(OCI_INDEX, index_bytes)
    store.push(index_desc, [index_bytes])
    store.tag(index_desc, tag)
    return Graph(index_desc, index_bytes, manifests, blobs)


def assert_holds(store: Store, graph: Graph, tag: str) -> None:
    """``store`` has ``graph`` byte for byte, with ``tag`` on its index."""
    assert store.resolve(tag).digest == graph.index.digest
    assert store.fetch(graph.index).read_all() == graph.index_bytes
    for desc, content in graph.manifests:
        assert store.fetch(desc).read_all() == content
    for desc, data in graph.blobs.items():
        assert store.fetch(desc).read_all() == data
