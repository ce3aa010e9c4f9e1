"""``dxf.copy`` against the real registry: registry -> layout -> registry with every digest kept,
mounting within one registry, and a rerun after a broken copy that moves only what is missing
(bytes counted at the fault proxy)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import dxf
from dxf.layout import OCILayout
from dxf.remote import RemoteRepository
from harness.graphs import assert_holds, push_index
from harness.hooks import Exchanges
from harness.proxy import FaultProxy
from harness.registry import PASSWORD, USERNAME, RegistryProcess


def _repository(registry: RegistryProcess, repo: str) -> Iterator[RemoteRepository]:
    def auth(obj: dxf.DXFBase, response: requests.Response) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)

    with dxf.DXF(
        registry.host, repo, auth, registry.insecure, tlsverify=registry.ca_bundle or True
    ) as client:
        yield client.store


@pytest.fixture
def source(registry: RegistryProcess, repo_name: str) -> Iterator[RemoteRepository]:
    yield from _repository(registry, repo_name)


@pytest.fixture
def target(registry: RegistryProcess, repo_name: str) -> Iterator[RemoteRepository]:
    yield from _repository(registry, repo_name + "-target")


def test_registry_to_layout_to_registry_keeps_every_digest(
    source: RemoteRepository, target: RemoteRepository, tmp_path: Path
) -> None:
    graph = push_index(source, "multi")
    layout = OCILayout(str(tmp_path / "carried"))
    assert dxf.copy(source, "multi", layout, jobs=4).digest == graph.index.digest
    assert_holds(layout, graph, "multi")
    assert dxf.copy(layout, "multi", target, "landed", jobs=4).digest == graph.index.digest
    assert_holds(target, graph, "landed")


def test_within_one_registry_blobs_are_mounted_not_sent(
    source: RemoteRepository, target: RemoteRepository, exchanges: Exchanges
) -> None:
    graph = push_index(source, "v1")
    exchanges.clear()
    dxf.copy(source, "v1", target)
    assert_holds(target, graph, "v1")
    sent = exchanges.to(source.registry.host)
    mounts = [e for e in sent if e.method == "POST" and e.status == 201]  # 201: mounted (202: upload)
    uploads = [e for e in sent if e.method in ("PUT", "PATCH") and "/blobs/uploads/" in e.url]
    assert len(mounts) == len(graph.blobs)
    assert uploads == []


def test_a_broken_copy_leaves_no_alias_and_a_rerun_moves_only_the_rest(
    registry_plain: RegistryProcess, repo_name: str, proxy: FaultProxy, tmp_path: Path
) -> None:
    with dxf.DXF(registry_plain.host, repo_name, insecure=True) as direct:
        graph = push_index(direct.store, "v1", blob_size=100_000)
    total_blob_bytes = sum(desc.size for desc in graph.blobs)
    layout = OCILayout(str(tmp_path / "layout"))
    with dxf.DXF(proxy.host, repo_name, insecure=True, retries=0) as through_proxy:
        proxy.cut_after(250_000)  # the manifests and about two blobs get through
        with pytest.raises(requests.exceptions.RequestException):
            dxf.copy(through_proxy.store, "v1", layout, jobs=1)
        assert list(layout.tags()) == []
        held = [desc for desc in graph.blobs if layout.exists(desc)]
        assert held, "some blobs arrived before the cut"
        first_run = proxy.bytes_downstream
        dxf.copy(through_proxy.store, "v1", layout, jobs=1)
    second_run = proxy.bytes_downstream - first_run
    missing = total_blob_bytes - sum(desc.size for desc in held)
    assert missing <= second_run < missing + 30_000  # the manifests and headers, not the blobs again
    assert_holds(layout, graph, "v1")
