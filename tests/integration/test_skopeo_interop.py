"""Interop with real skopeo (Debian's package, installed by ``make test``): skopeo reads the layouts
dxf writes byte for byte, and an index skopeo pushed copies registry -> layout -> registry with the
same digest at every step. Everything stays on this machine: layouts in tmp_path, the plain registry."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import dxf
from dxf.layout import OCILayout
from dxf.manifest import Descriptor
from dxf.remote import RemoteRepository
from harness.graphs import assert_holds, push_index
from harness.registry import RegistryProcess
from harness.store_contract import push_alias


def _skopeo(*args: str) -> bytes:
    done = subprocess.run(["skopeo", *args], capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def _repository(registry: RegistryProcess, repo: str) -> Iterator[RemoteRepository]:
    with dxf.DXF(registry.host, repo, insecure=True) as client:
        yield client.store


@pytest.fixture
def source(registry_plain: RegistryProcess, repo_name: str) -> Iterator[RemoteRepository]:
    yield from _repository(registry_plain, repo_name)


def test_skopeo_reads_dxf_manifests_byte_for_byte(tmp_path: Path) -> None:
    layout = OCILayout(str(tmp_path / "dxf-written"))
    graph = push_index(layout, "index-1")
    desc, manifest = graph.manifests[0]
    layout.tag(desc, "image-1")
    assert _skopeo("inspect", "--raw", f"oci:{layout.root}:index-1") == graph.index_bytes
    assert _skopeo("inspect", "--raw", f"oci:{layout.root}:image-1") == manifest


def test_skopeo_lists_only_oci_typed_entries(tmp_path: Path) -> None:
    """What skopeo 1.9 (containers/image) does with a python-dxf alias, whose manifest is Docker schema
    2: its oci: transport only looks at index.json entries of the OCI manifest and index types, so it
    cannot find the alias, though the layout is valid and every other tool reads it. Kept as a test so
    that a skopeo that learns Docker types shows up here (then: assert the bytes, as above)."""
    layout = OCILayout(str(tmp_path / "dxf-alias"))
    push_alias(layout, "python-dxf-style")
    done = subprocess.run(
        ["skopeo", "inspect", "--raw", f"oci:{layout.root}:python-dxf-style"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and b"no descriptor found" in done.stderr


def test_an_index_skopeo_pushed_keeps_its_digest_through_a_layout(
    registry_plain: RegistryProcess, repo_name: str, source: RemoteRepository, tmp_path: Path
) -> None:
    built = OCILayout(str(tmp_path / "built"))
    graph = push_index(built, "multi")
    registry = f"docker://{registry_plain.host}"
    _skopeo(
        "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
        f"oci:{built.root}:multi", f"{registry}/{repo_name}:multi",
    )  # fmt: skip
    assert source.resolve("multi").digest == graph.index.digest

    carried = OCILayout(str(tmp_path / "carried"))
    assert dxf.copy(source, "multi", carried).digest == graph.index.digest
    assert_holds(carried, graph, "multi")
    assert _skopeo("inspect", "--raw", f"oci:{carried.root}:multi") == graph.index_bytes

    for target in _repository(registry_plain, repo_name + "-landed"):
        assert dxf.copy(carried, "multi", target).digest == graph.index.digest
        assert_holds(target, graph, "multi")

    # and skopeo copies the layout dxf wrote, whole, with the same digest
    _skopeo(
        "copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
        f"oci:{carried.root}:multi", f"{registry}/{repo_name}-by-skopeo:multi",
    )  # fmt: skip
    raw = _skopeo("inspect", "--raw", "--tls-verify=false", f"{registry}/{repo_name}-by-skopeo:multi")
    assert Descriptor.of_bytes(json.loads(raw)["mediaType"], raw).digest == graph.index.digest
