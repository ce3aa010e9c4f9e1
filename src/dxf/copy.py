"""``copy``: move a manifest and everything it reaches from one store to another, digests intact.

Written only against :mod:`dxf.store`, so it copies between any two stores (registry repositories
on one or two servers, OCI layouts, the in-memory test store). The order is what keeps the
destination consistent at every moment:

1. the graph is read from the source: the root manifest, and through
   :func:`~dxf.manifest.successors` every manifest below it (an index's manifests) and every blob;
2. the blobs move, up to ``jobs`` at once, each streamed chunk by chunk from source to destination
   (never on disk in between, never whole in memory); one the destination already holds is skipped,
   and between two repositories of one registry it is mounted instead of sent;
3. the manifests are pushed byte for byte (so their digests do not change), children before parents;
4. only then is the root tagged.

A copy that fails part-way therefore leaves no tag behind, and running it again moves only what is
still missing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar, cast

from .exceptions import DXFManifestError
from .manifest import MAX_MANIFEST_SIZE, Descriptor, successors
from .parallel import run_all
from .reference import is_digest_reference
from .remote import RemoteRepository
from .store import Mounter, ReadOnlyStore, Store
from .transfer import Progress

__all__ = ["CopyPlan", "copy", "copy_blobs", "plan_copy"]

S = TypeVar("S", bound=ReadOnlyStore)

#: Transfers at once when the caller does not say (as for push-blobs and pull-blobs).
DEFAULT_JOBS = 4


@dataclass
class CopyPlan:
    """What a copy moves: the root, its manifests (children first, with their bytes) and its blobs."""

    root: Descriptor
    manifests: list[tuple[Descriptor, bytes]] = field(default_factory=list)
    blobs: list[Descriptor] = field(default_factory=list)


def plan_copy(src: ReadOnlyStore, reference: str) -> CopyPlan:
    """Resolve ``reference`` in ``src`` and read the graph below it (manifests only: blobs are not
    fetched). Each manifest is verified against its descriptor as it is read."""
    root = src.resolve(reference)
    plan = CopyPlan(root)
    seen: set[Descriptor] = set()
    _visit(src, root, plan, seen)
    return plan


def _visit(src: ReadOnlyStore, desc: Descriptor, plan: CopyPlan, seen: set[Descriptor]) -> None:
    """Depth first, so that a manifest is listed after every manifest below it."""
    key = _plain(desc)
    if key in seen:
        return
    seen.add(key)
    if not desc.is_manifest:
        plan.blobs.append(key)
        return
    if desc.size > MAX_MANIFEST_SIZE:
        raise DXFManifestError(f"manifest {desc.digest} is larger than {MAX_MANIFEST_SIZE} bytes")
    content = src.fetch(desc).read_all()
    for child in successors(content, desc.media_type):
        _visit(src, child, plan, seen)
    plan.manifests.append((key, content))


def copy(
    src_store: ReadOnlyStore,
    src_ref: str,
    dst_store: Store,
    dst_ref: str | None = None,
    *,
    jobs: int = DEFAULT_JOBS,
    progress: Progress | None = None,
) -> Descriptor:
    """Copy the manifest ``src_ref`` (a tag or a manifest digest) names in ``src_store``, and all it
    reaches, to ``dst_store``, and tag it ``dst_ref`` there (default: ``src_ref`` when that is a tag;
    a digest copies untagged). Returns the root manifest's descriptor.

    ``progress`` is called as ``progress(digest, chunk, size)`` for every blob chunk sent (from up
    to ``jobs`` threads at once), as for ``push_blobs``; blobs that are skipped or mounted send none.
    """
    plan = plan_copy(src_store, src_ref)
    tag = dst_ref if dst_ref is not None else (None if is_digest_reference(src_ref) else src_ref)
    copy_blobs(src_store, dst_store, plan.blobs, jobs=jobs, progress=progress)
    for desc, content in plan.manifests:
        if not dst_store.exists(desc):
            dst_store.push(desc, [content])
    if tag is not None:
        dst_store.tag(plan.root, tag)
    return plan.root


def copy_blobs(
    src: ReadOnlyStore,
    dst: Store,
    blobs: list[Descriptor],
    *,
    jobs: int = DEFAULT_JOBS,
    progress: Progress | None = None,
) -> None:
    """Make every blob of ``blobs`` present in ``dst``: skipped when there, mounted when ``src`` is a
    repository of the same registry, else streamed; up to ``jobs`` at once."""
    cancel = threading.Event()
    batch_src, batch_dst = _for_batch(src, cancel), _for_batch(dst, cancel)
    origin = _mount_origin(src, dst)

    def one(desc: Descriptor) -> None:
        if batch_dst.exists(desc):
            return
        if origin is not None and isinstance(batch_dst, Mounter) and batch_dst.mount(desc, origin):
            return
        with batch_src.fetch(desc) as content:
            batch_dst.push(desc, _reported(desc, content, progress))

    run_all(blobs, one, jobs, cancel)


def _reported(desc: Descriptor, chunks: Iterable[bytes], progress: Progress | None) -> Iterator[bytes]:
    """``chunks``, each reported to ``progress`` as it passes."""
    if progress is None:
        yield from chunks
        return
    label = str(desc.digest)
    progress(label, b"", desc.size)
    for chunk in chunks:
        progress(label, chunk, desc.size)
        yield chunk


def _for_batch(store: S, cancel: threading.Event) -> S:
    """``store`` as seen by one batch's transfers: a registry repository stops them when ``cancel``
    is set; other stores are local and need no such hook."""
    if isinstance(store, RemoteRepository):
        return cast(S, store.for_batch(cancel))
    return store


def _mount_origin(src: ReadOnlyStore, dst: Store) -> str | None:
    """The repository ``dst`` can mount blobs from: ``src``'s, when both are repositories of one
    registry (same base URL), else None."""
    if not (isinstance(src, RemoteRepository) and isinstance(dst, RemoteRepository)):
        return None
    if src.registry.base_url != dst.registry.base_url or src.path == dst.path:
        return None
    return src.path


def _plain(desc: Descriptor) -> Descriptor:
    """``desc`` without platform and annotations: what a store is asked to hold."""
    return Descriptor(desc.media_type, desc.digest, desc.size)
