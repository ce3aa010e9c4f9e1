"""``dxf.copy`` between local stores: the whole graph, byte for byte, children first, tag last,
and a rerun after a failure moves only what is missing."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

import dxf
from dxf.exceptions import DXFNotFoundError
from dxf.layout import OCILayout
from dxf.manifest import Descriptor
from harness.graphs import assert_holds, push_index
from harness.memstore import MemoryStore
from harness.store_contract import push_alias


class Recording(MemoryStore):
    """A memory store that records what it is asked to store, and can fail the n-th blob push."""

    def __init__(self, fail_blob_push: int | None = None) -> None:
        super().__init__()
        self.pushed: list[Descriptor] = []
        self.tagged_after: list[tuple[str, int]] = []  # (tag, how many pushes came before it)
        self.fail_blob_push = fail_blob_push

    def push(self, desc: Descriptor, chunks: Iterable[bytes]) -> None:
        blob_pushes = sum(1 for d in self.pushed if not d.is_manifest)
        if not desc.is_manifest and blob_pushes == self.fail_blob_push:
            self.fail_blob_push = None
            raise OSError("disk full")
        super().push(desc, chunks)
        self.pushed.append(desc)

    def tag(self, desc: Descriptor, reference: str) -> None:
        super().tag(desc, reference)
        self.tagged_after.append((reference, len(self.pushed)))


def test_copy_moves_an_index_graph_byte_for_byte_children_first_tag_last() -> None:
    src, dst = MemoryStore(), Recording()
    graph = push_index(src, "multi")
    root = dxf.copy(src, "multi", dst, jobs=3)
    assert root.digest == graph.index.digest
    assert_holds(dst, graph, "multi")
    pushed = dst.pushed
    assert pushed[-1].digest == graph.index.digest
    kinds = [d.is_manifest for d in pushed]
    assert kinds == sorted(kinds)  # every blob before the first manifest
    assert len(pushed) == len(graph.blobs) + len(graph.manifests) + 1  # the shared blob once
    assert dst.tagged_after == [("multi", len(pushed))]


def test_copy_through_a_layout_keeps_every_digest(tmp_path: Path) -> None:
    src, back = MemoryStore(), MemoryStore()
    graph = push_index(src, "v1")
    layout = OCILayout(str(tmp_path / "layout"))
    dxf.copy(src, "v1", layout, "carried")
    assert_holds(layout, graph, "carried")
    dxf.copy(layout, "carried", back)
    assert_holds(back, graph, "carried")


def test_copy_by_digest_tags_only_when_asked() -> None:
    src, dst = MemoryStore(), MemoryStore()
    desc, _, _ = push_alias(src, "v1")
    dxf.copy(src, str(desc.digest), dst)
    assert dst.exists(desc) and list(dst.tags()) == []
    dxf.copy(src, str(desc.digest), dst, "named")
    assert dst.resolve("named").digest == desc.digest


def test_a_failed_copy_leaves_no_tag_and_a_rerun_moves_only_what_is_missing() -> None:
    src = MemoryStore()
    graph = push_index(src, "v1")
    dst = Recording(fail_blob_push=2)
    with pytest.raises(OSError, match="disk full"):
        dxf.copy(src, "v1", dst, jobs=1)
    with pytest.raises(DXFNotFoundError):
        dst.resolve("v1")
    before = set(dst.pushed)
    assert len(before) == 2
    dst.pushed.clear()
    dxf.copy(src, "v1", dst, jobs=1)
    again = dst.pushed
    assert not before & set(again)
    assert len(again) == len(graph.blobs) + len(graph.manifests) + 1 - 2
    assert_holds(dst, graph, "v1")


def test_copy_reports_every_blob_byte_to_progress() -> None:
    src, dst = MemoryStore(), MemoryStore()
    graph = push_index(src, "v1")
    seen: dict[str, int] = {}

    def progress(digest: str, chunk: bytes, total: int | None = None) -> None:
        seen[digest] = seen.get(digest, 0) + len(chunk)

    dxf.copy(src, "v1", dst, progress=progress)
    assert seen == {str(desc.digest): len(data) for desc, data in graph.blobs.items()}
