"""OCI artifacts (``DXF.push_artifact`` / ``pull_artifact``) against the real registry: the manifest
follows image-spec v1.1's artifact guidance, files come back under their titles, and a pull refuses
hostile titles and tar members with nothing written."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

import dxf
from dxf import exceptions as ex
from dxf.artifact import CREATED, EMPTY_CONFIG, TITLE, UNKNOWN_ARTIFACT_TYPE, UNPACK
from dxf.digest import Digest
from dxf.manifest import OCI_MANIFEST, OCTET_STREAM, Descriptor
from harness.registry import RegistryProcess


def plain_client(registry: RegistryProcess, repo: str) -> dxf.DXF:
    return dxf.DXF(registry.host, repo, insecure=True)


@pytest.fixture
def client(registry_plain: RegistryProcess, repo_name: str) -> dxf.DXF:
    return plain_client(registry_plain, repo_name)


def manifest_of(client: dxf.DXF, alias: str) -> dict[str, Any]:
    text = client.get_manifest(alias)
    assert isinstance(text, str)
    data: dict[str, Any] = json.loads(text)
    return data


def files_in(directory: Path) -> dict[str, bytes]:
    """Every regular file under ``directory`` (relative name -> content), hidden ones included."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()
    }


def push_layers(client: dxf.DXF, layers: list[tuple[bytes, dict[str, str]]], alias: str) -> list[str]:
    """Store a hand-made artifact whose layers have the given contents and annotations (titles a
    well-behaved pusher would never write); return the layer digests."""
    store = client.store
    descs = []
    for content, notes in layers:
        desc = Descriptor(OCTET_STREAM, Digest.of_bytes(content), len(content), annotations=notes)
        store.push(desc, [content])
        descs.append(desc)
    store.push(EMPTY_CONFIG, [b"{}"])
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/x-test",
        "config": EMPTY_CONFIG.to_json(),
        "layers": [d.to_json() for d in descs],
    }
    client.set_manifest(alias, json.dumps(manifest))
    return [str(d.digest) for d in descs]


def test_push_artifact_writes_the_artifact_guidance_manifest_and_pull_restores_names(
    client: dxf.DXF, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.bin").write_bytes(os.urandom(70_000))
    (src / "README.md").write_bytes(b"# card\n")
    digest = client.push_artifact(
        "v1",
        str(src / "model.bin"),
        f"{src / 'README.md'}:text/markdown",
        artifact_type="application/vnd.example.model",
        annotations={"org.example.k": "v"},
    )
    manifest = manifest_of(client, "v1")
    assert digest == client.head_manifest_and_response("v1")[0]
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["artifactType"] == "application/vnd.example.model"
    assert manifest["config"] == {
        "mediaType": "application/vnd.oci.empty.v1+json",
        "digest": str(EMPTY_CONFIG.digest),
        "size": 2,
    }
    assert [layer["annotations"][TITLE] for layer in manifest["layers"]] == ["model.bin", "README.md"]
    assert [layer["mediaType"] for layer in manifest["layers"]] == [OCTET_STREAM, "text/markdown"]
    assert manifest["annotations"]["org.example.k"] == "v"
    assert manifest["annotations"][CREATED].endswith("Z")
    # python-dxf's reading: the layer digests in order, not the config
    assert client.get_alias("v1") == [
        dxf.hash_file(str(src / "model.bin")),
        dxf.hash_file(str(src / "README.md")),
    ]

    out = tmp_path / "out"
    paths = client.pull_artifact("v1", str(out))
    assert paths == [str(out / "model.bin"), str(out / "README.md")]
    assert files_in(out) == files_in(src)


def test_artifact_without_type_gets_the_unknown_type_and_given_created_is_kept(
    client: dxf.DXF, tmp_path: Path
) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"a")
    client.push_artifact("t", str(f), annotations={CREATED: "2020-01-01T00:00:00Z"})
    manifest = manifest_of(client, "t")
    assert manifest["artifactType"] == UNKNOWN_ARTIFACT_TYPE
    assert manifest["annotations"][CREATED] == "2020-01-01T00:00:00Z"


def test_config_file_replaces_the_empty_config(client: dxf.DXF, tmp_path: Path) -> None:
    f, config = tmp_path / "a.txt", tmp_path / "config.json"
    f.write_bytes(b"a")
    config.write_bytes(b'{"x": 1}')
    client.push_artifact("c", str(f), config=f"{config}:application/vnd.example.config+json")
    manifest = manifest_of(client, "c")
    assert manifest["config"]["mediaType"] == "application/vnd.example.config+json"
    assert manifest["config"]["digest"] == dxf.hash_file(str(config))
    assert "artifactType" not in manifest  # the guidance: the config's media type says it
    assert client.get_digest("c") == dxf.hash_file(str(config))


def test_directory_is_packed_and_unpacked(client: dxf.DXF, tmp_path: Path) -> None:
    tree = tmp_path / "data"
    (tree / "sub").mkdir(parents=True)
    (tree / "one.txt").write_bytes(b"1")
    (tree / "sub" / "two.txt").write_bytes(b"22")
    client.push_artifact("dir", str(tree))
    layer = manifest_of(client, "dir")["layers"][0]
    assert layer["annotations"] == {TITLE: "data", UNPACK: "true"}
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    out = tmp_path / "out"
    client.pull_artifact("dir", str(out))
    assert files_in(out) == {"data/one.txt": b"1", "data/sub/two.txt": b"22"}


def test_untitled_layers_are_saved_under_their_digest(client: dxf.DXF, tmp_path: Path) -> None:
    [digest] = push_layers(client, [(b"anonymous", {})], "anon")
    out = tmp_path / "out"
    client.pull_artifact("anon", str(out))
    assert files_in(out) == {digest.replace(":", "-"): b"anonymous"}


@pytest.mark.parametrize("title", ["../evil", "/tmp/evil", "a/../../evil", "ok/../../evil", ""])
def test_unsafe_titles_are_refused_with_nothing_written(client: dxf.DXF, tmp_path: Path, title: str) -> None:
    push_layers(client, [(b"fine", {TITLE: "fine.txt"}), (b"evil", {TITLE: title})], "bad")
    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    with pytest.raises(ex.DXFArtifactError):
        client.pull_artifact("bad", str(out))
    assert files_in(tmp_path) == {}
    assert not os.path.exists("/tmp/evil") or Path("/tmp/evil").read_bytes() != b"evil"


def test_title_escaping_through_a_symlink_is_refused(client: dxf.DXF, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(outside)
    push_layers(client, [(b"fine", {TITLE: "fine.txt"}), (b"evil", {TITLE: "link/evil"})], "bad")
    with pytest.raises(ex.DXFArtifactError, match="leads out"):
        client.pull_artifact("bad", str(out))
    assert files_in(tmp_path) == {}


def test_two_layers_with_one_title_are_an_error(client: dxf.DXF, tmp_path: Path) -> None:
    push_layers(client, [(b"one", {TITLE: "same"}), (b"two", {TITLE: "./same"})], "dup")
    with pytest.raises(ex.DXFArtifactError, match="two layers"):
        client.pull_artifact("dup", str(tmp_path / "out"))
    assert files_in(tmp_path) == {}


def test_tar_member_escaping_the_directory_is_refused(client: dxf.DXF, tmp_path: Path) -> None:
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w") as tar:
        info = tarfile.TarInfo("../escaped")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    push_layers(
        client, [(b"fine", {TITLE: "fine.txt"}), (packed.getvalue(), {TITLE: "d", UNPACK: "true"})], "tar"
    )
    out = tmp_path / "out"
    with pytest.raises(ex.DXFArtifactError, match="packed directory"):
        client.pull_artifact("tar", str(out))
    assert files_in(tmp_path) == {}


def test_a_layer_that_fails_verification_leaves_nothing(client: dxf.DXF, tmp_path: Path) -> None:
    """All or nothing: the good layer is not placed when another one cannot be fetched."""
    store = client.store
    good = b"good"
    store.push(Descriptor(OCTET_STREAM, Digest.of_bytes(good), 4), [good])
    store.push(EMPTY_CONFIG, [b"{}"])
    missing = Descriptor(OCTET_STREAM, Digest.of_bytes(b"deleted soon"), 12, annotations={TITLE: "m"})
    store.push(missing, [b"deleted soon"])
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": EMPTY_CONFIG.to_json(),
        "layers": [
            Descriptor(OCTET_STREAM, Digest.of_bytes(good), 4, annotations={TITLE: "good"}).to_json(),
            missing.to_json(),
        ],
    }
    client.set_manifest("broken", json.dumps(manifest))
    client.del_blob(str(missing.digest))
    out = tmp_path / "out"
    with pytest.raises(ex.DXFNotFoundError):
        client.pull_artifact("broken", str(out), jobs=1)
    assert files_in(tmp_path) == {}


def test_push_refuses_two_files_with_one_base_name(client: dxf.DXF, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x").write_bytes(b"1")
    (tmp_path / "b" / "x").write_bytes(b"2")
    with pytest.raises(ex.DXFArtifactError, match="two layers"):
        client.push_artifact("x", str(tmp_path / "a" / "x"), str(tmp_path / "b" / "x"))
    with pytest.raises(ex.DXFNotFoundError):  # nothing was uploaded: the repository does not exist
        client.list_aliases()


def test_a_tar_gz_file_stays_a_file(client: dxf.DXF, tmp_path: Path) -> None:
    """Only a tar+gzip layer marked for unpacking, or packed under its own title as oras-py packs a
    directory, is unpacked: an archive pushed as a file comes back as that file."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "x").write_bytes(b"x")
    archive = tmp_path / "release.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, arcname="tree")
    client.push_artifact("t", f"{archive}:application/vnd.oci.image.layer.v1.tar+gzip")
    out = tmp_path / "out"
    client.pull_artifact("t", str(out))
    assert files_in(out) == {"release.tar.gz": archive.read_bytes()}
