"""``RemoteRepository`` against the real registry, in every auth mode: the same store contract the
in-memory store passes (tests/harness/store_contract.py), plus what only a registry does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dxf import DXF, DXFBase
from dxf.digest import Digest
from dxf.manifest import OCTET_STREAM, Descriptor
from dxf.remote import RemoteRepository
from dxf.store import Mounter
from harness.registry import PASSWORD, USERNAME, RegistryProcess
from harness.store_contract import DeleterContract, StoreContract, TagListerContract, blob


def _client(registry: RegistryProcess, repo: str) -> DXF:
    def auth(obj: DXFBase, response: requests.Response) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)

    return DXF(registry.host, repo, auth, insecure=registry.insecure, tlsverify=registry.ca_bundle or True)


@pytest.fixture
def client(registry: RegistryProcess, repo_name: str) -> Iterator[DXF]:
    with _client(registry, repo_name) as c:
        yield c


@pytest.fixture
def store(client: DXF) -> RemoteRepository:
    return client.store


class TestRemoteRepository(StoreContract, TagListerContract, DeleterContract):
    def test_mount_takes_a_blob_from_another_repository(
        self, store: RemoteRepository, registry: RegistryProcess, repo_name: str
    ) -> None:
        assert isinstance(store, Mounter)
        with _client(registry, repo_name + "-other") as other:
            desc, data = blob()
            other.store.push(desc, [data])
            assert not store.exists(desc)
            assert store.mount(desc, other.store.path)
            assert store.fetch(desc).read_all() == data

    def test_mount_of_a_blob_the_source_lacks_returns_false(
        self, store: RemoteRepository, repo_name: str
    ) -> None:
        desc = Descriptor.of_bytes(OCTET_STREAM, b"nowhere")
        assert store.mount(desc, repo_name + "-empty") is False
        assert not store.exists(desc)


def test_fetch_hashes_a_blob_once(store: RemoteRepository, monkeypatch: pytest.MonkeyPatch) -> None:
    """The download verifies what it reads; the store does not hash the same bytes again."""
    desc, data = blob(300_000)
    store.push(desc, [data])
    hashers: list[Digest] = []
    make_hasher = Digest.hasher

    def counting(self: Digest) -> Any:
        hashers.append(self)
        return make_hasher(self)

    monkeypatch.setattr(Digest, "hasher", counting)
    assert store.fetch(desc).read_all() == data
    assert hashers == [desc.digest]
