"""The store contract: one set of assertions every store implementation must pass.

A test module subclasses :class:`StoreContract` and provides a ``store`` fixture (an empty store, or
one where nothing below has been pushed yet). The in-memory store runs it in the unit tests; every
real store (a registry repository, an OCI layout) runs the same class against the real thing.
"""

from __future__ import annotations

import os

import pytest

from dxf.digest import Digest
from dxf.exceptions import (
    DXFDigestMismatchError,
    DXFInvalidReferenceError,
    DXFNotFoundError,
    DXFSizeMismatchError,
)
from dxf.manifest import DOCKER_MANIFEST_V2, OCTET_STREAM, Descriptor, make_dxf_manifest, successors
from dxf.store import Deleter, Store, TagLister, Untagger


def blob(size: int = 10_000) -> tuple[Descriptor, bytes]:
    """Fresh random content (never seen by the store before) and its descriptor."""
    data = os.urandom(size)
    return Descriptor.of_bytes(OCTET_STREAM, data), data


def chunked(data: bytes, size: int = 3000) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def push_alias(store: Store, name: str, count: int = 2) -> tuple[Descriptor, bytes, list[bytes]]:
    """Push ``count`` blobs and python-dxf's manifest for them, tag it ``name``."""
    blobs = [blob(5000 + i) for i in range(count)]
    for desc, data in blobs:
        store.push(desc, chunked(data))
    manifest = make_dxf_manifest([(desc.digest, desc.size) for desc, _ in blobs]).encode()
    desc = Descriptor.of_bytes(DOCKER_MANIFEST_V2, manifest)
    store.push(desc, [manifest])
    store.tag(desc, name)
    return desc, manifest, [data for _, data in blobs]


class StoreContract:
    """Subclass with a ``store`` fixture, mixing in the contracts of the capabilities the store has."""

    def test_pushed_blob_exists_and_fetches_back_verified(self, store: Store) -> None:
        desc, data = blob(100_000)
        assert not store.exists(desc)
        store.push(desc, chunked(data))
        assert store.exists(desc)
        with store.fetch(desc) as content:
            assert b"".join(content) == data

    def test_fetch_of_missing_content_is_not_found(self, store: Store) -> None:
        desc, _ = blob()
        with pytest.raises(DXFNotFoundError):
            b"".join(store.fetch(desc))

    @pytest.mark.parametrize("change", ["digest", "longer", "shorter"])
    def test_push_that_does_not_match_keeps_nothing(self, store: Store, change: str) -> None:
        desc, data = blob()
        error: type[Exception]
        if change == "digest":
            sent, error = data[:-1] + bytes([data[-1] ^ 1]), DXFDigestMismatchError
        elif change == "longer":
            sent, error = data + b"x", DXFSizeMismatchError
        else:
            sent, error = data[:-1], DXFSizeMismatchError
        with pytest.raises(error):
            store.push(desc, chunked(sent))
        assert not store.exists(desc)

    def test_fetch_under_a_descriptor_with_the_wrong_size_fails(self, store: Store) -> None:
        desc, data = blob()
        store.push(desc, [data])
        lying = Descriptor(desc.media_type, desc.digest, desc.size - 1)
        with pytest.raises(DXFSizeMismatchError), store.fetch(lying) as content:
            b"".join(content)

    def test_tag_resolves_to_the_manifest_by_tag_and_by_digest(self, store: Store) -> None:
        desc, manifest, blobs = push_alias(store, "contract-v1")
        resolved = store.resolve("contract-v1")
        assert (resolved.media_type, resolved.digest, resolved.size) == (
            DOCKER_MANIFEST_V2,
            desc.digest,
            len(manifest),
        )
        assert store.resolve(str(desc.digest)).digest == desc.digest
        assert store.fetch(resolved).read_all() == manifest
        children = successors(manifest, resolved.media_type)
        assert [store.fetch(child).read_all() for child in children] == blobs

    def test_unknown_tag_is_not_found_and_a_bad_one_is_refused(self, store: Store) -> None:
        with pytest.raises(DXFNotFoundError):
            store.resolve("never-tagged")
        with pytest.raises(DXFNotFoundError):
            store.resolve(str(Digest.of_bytes(os.urandom(8))))
        for bad in ("bad/tag", "../x", "-x", "a" * 129):
            with pytest.raises(DXFInvalidReferenceError):
                store.resolve(bad)

    def test_tagging_a_manifest_the_store_does_not_hold_fails(self, store: Store) -> None:
        manifest = make_dxf_manifest([(Digest.of_bytes(b"x"), 1)]).encode()
        with pytest.raises(DXFNotFoundError):
            store.tag(Descriptor.of_bytes(DOCKER_MANIFEST_V2, manifest), "orphan")
        with pytest.raises(DXFNotFoundError):
            store.resolve("orphan")

    def test_capabilities_are_the_ones_declared(self, store: Store) -> None:
        declared = {TagListerContract: TagLister, UntaggerContract: Untagger, DeleterContract: Deleter}
        for mixin, capability in declared.items():
            assert isinstance(store, capability) == isinstance(self, mixin), capability.__name__


class TagListerContract:
    """Mix in for a store that lists its tags."""

    def test_tags_lists_every_tag(self, store: Store) -> None:
        assert isinstance(store, TagLister)
        desc, _, _ = push_alias(store, "listed-1")
        store.tag(desc, "listed-2")
        assert {"listed-1", "listed-2"} <= set(store.tags())


class UntaggerContract:
    """Mix in for a store that removes a single tag."""

    def test_untag_removes_that_tag_only(self, store: Store) -> None:
        assert isinstance(store, Untagger)
        desc, _, _ = push_alias(store, "keep-me")
        store.tag(desc, "drop-me")
        store.untag("drop-me")
        with pytest.raises(DXFNotFoundError):
            store.resolve("drop-me")
        assert store.resolve("keep-me").digest == desc.digest
        assert store.exists(desc)


class DeleterContract:
    """Mix in for a store that deletes content."""

    def test_delete_removes_a_blob(self, store: Store) -> None:
        assert isinstance(store, Deleter)
        desc, data = blob()
        store.push(desc, [data])
        store.delete(desc)
        assert not store.exists(desc)
        with pytest.raises(DXFNotFoundError):
            b"".join(store.fetch(desc))
