"""``OCILayout`` on a real directory: the store contract, plus what only a layout on disk promises
(concurrent tagging from two processes, no symlink or traversal tricks, nothing half-written)."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from dxf.digest import Digest
from dxf.exceptions import DXFInvalidReferenceError, DXFLayoutError, DXFNotFoundError
from dxf.layout import REF_NAME, OCILayout
from dxf.manifest import OCI_INDEX, Descriptor
from harness.store_contract import (
    DeleterContract,
    StoreContract,
    TagListerContract,
    UntaggerContract,
    blob,
    chunked,
    push_alias,
)


@pytest.fixture
def store(tmp_path: Path) -> OCILayout:
    return OCILayout(str(tmp_path / "layout"))


class TestOCILayout(StoreContract, TagListerContract, UntaggerContract, DeleterContract):
    pass


def test_layout_files_follow_the_image_layout_spec(store: OCILayout) -> None:
    desc, manifest, blobs = push_alias(store, "v1")
    root = Path(store.root)
    assert json.loads((root / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((root / "index.json").read_text())
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    assert index["manifests"] == [
        {
            "mediaType": desc.media_type,
            "digest": str(desc.digest),
            "size": desc.size,
            "annotations": {REF_NAME: "v1"},
        }
    ]
    assert (root / "blobs" / "sha256" / desc.digest.hex).read_bytes() == manifest
    for data in blobs:
        assert (root / "blobs" / "sha256" / Digest.of_bytes(data).hex).read_bytes() == data


def test_retagging_moves_the_tag_and_keeps_one_entry(store: OCILayout) -> None:
    push_alias(store, "moving")
    second, _, _ = push_alias(store, "moving")
    assert store.resolve("moving").digest == second.digest
    assert list(store.tags()) == ["moving"]


def _push_one(store: OCILayout) -> None:
    desc, data = blob()
    store.push(desc, [data])


def _tag_many(root: str, prefix: str, count: int, start: Any) -> None:
    layout = OCILayout(root)
    desc = layout.resolve("base")
    start.wait()
    for i in range(count):
        layout.tag(desc, f"{prefix}-{i}")


def test_two_processes_tagging_at_once_lose_nothing(store: OCILayout) -> None:
    push_alias(store, "base")
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    workers = [context.Process(target=_tag_many, args=(store.root, name, 100, start)) for name in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    expected = {f"{p}-{i}" for p in ("a", "b") for i in range(100)}
    assert expected <= set(store.tags())


def test_a_failed_push_leaves_no_temporary_file(store: OCILayout) -> None:
    desc, data = blob()
    _push_one(store)
    with pytest.raises(ValueError):
        store.push(desc, chunked(data[:-1] + b"!"))
    names = os.listdir(Path(store.root) / "blobs" / "sha256")
    assert desc.digest.hex not in names
    assert [n for n in names if n.startswith(".")] == []


def test_a_symlinked_blob_is_refused_not_followed(store: OCILayout, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"not yours")
    desc = Descriptor.of_bytes("application/octet-stream", b"not yours")
    _push_one(store)
    os.symlink(secret, Path(store.root) / "blobs" / "sha256" / desc.digest.hex)
    assert not store.exists(desc)
    with pytest.raises(DXFLayoutError):
        store.fetch(desc)


def test_a_symlinked_blobs_directory_is_refused(store: OCILayout, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "sha256").mkdir(parents=True)
    os.makedirs(store.root)
    os.symlink(elsewhere, Path(store.root) / "blobs")
    desc, data = blob()
    with pytest.raises(DXFLayoutError):
        store.push(desc, [data])
    assert os.listdir(elsewhere / "sha256") == []


def test_a_tag_never_becomes_a_path(store: OCILayout) -> None:
    for bad in ("../../etc/passwd", "a/b", "sha256:../../x"):
        with pytest.raises(DXFInvalidReferenceError):
            store.resolve(bad)


def test_another_layout_version_is_refused(store: OCILayout) -> None:
    os.makedirs(store.root)
    (Path(store.root) / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}')
    with pytest.raises(DXFLayoutError):
        _push_one(store)


def test_deleting_a_manifest_removes_its_tags(store: OCILayout) -> None:
    desc, _, _ = push_alias(store, "gone")
    store.delete(desc)
    with pytest.raises(DXFNotFoundError):
        store.resolve("gone")
    assert list(store.tags()) == []


def test_gc_frees_only_what_nothing_references(store: OCILayout) -> None:
    _, _, kept_blobs = push_alias(store, "kept")
    dropped, manifest, dropped_blobs = push_alias(store, "dropped")
    store.untag("dropped")
    freed = store.gc()
    assert set(freed.digests) == {dropped.digest, *(Digest.of_bytes(d) for d in dropped_blobs)}
    assert freed.size == len(manifest) + sum(len(d) for d in dropped_blobs)
    assert store.fetch(store.resolve("kept")).read_all()
    for data in kept_blobs:
        assert store.exists(Descriptor.of_bytes("application/octet-stream", data))
    assert store.gc().digests == ()
