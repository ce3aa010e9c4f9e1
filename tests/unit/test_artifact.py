"""The pure parts of artifacts and referrers: FILE[:MEDIATYPE], KEY=VALUE, title checks, the
artifact manifest's shape and the referrers fallback index edits."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxf.artifact import (
    CREATED,
    EMPTY_CONFIG,
    UNKNOWN_ARTIFACT_TYPE,
    FileSpec,
    artifact_manifest,
    check_title,
    parse_annotations,
    pull_artifact,
    push_artifact,
)
from dxf.digest import Digest
from dxf.exceptions import DXFArtifactError
from dxf.manifest import OCI_MANIFEST, Descriptor, ImageManifest, parse_manifest
from dxf.referrers import fallback_tag, index_bytes, index_entries, of_type, with_entry, without_digest
from harness.memstore import MemoryStore


def desc(content: bytes, artifact_type: str | None = None) -> Descriptor:
    return Descriptor(OCI_MANIFEST, Digest.of_bytes(content), len(content), artifact_type=artifact_type)


@pytest.mark.parametrize(
    ("text", "path", "media_type"),
    [
        ("a.txt", "a.txt", None),
        ("a.txt:text/plain", "a.txt", "text/plain"),
        ("dir/x.md:application/vnd.example+json", "dir/x.md", "application/vnd.example+json"),
        ("weird:name", "weird:name", None),  # not a media type: part of the name
        (":text/plain", ":text/plain", None),
    ],
)
def test_file_spec(text: str, path: str, media_type: str | None) -> None:
    assert FileSpec.parse(text) == FileSpec(path, media_type)


def test_annotations() -> None:
    assert parse_annotations(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    for bad in ("novalue", "=v"):
        with pytest.raises(DXFArtifactError, match="KEY=VALUE"):
            parse_annotations([bad])


def test_artifact_manifest_shape() -> None:
    layer = Descriptor(
        "text/plain", Digest.of_bytes(b"x"), 1, annotations={"org.opencontainers.image.title": "x"}
    )
    subject = desc(b"subject")
    now = datetime.datetime(2026, 12, 1, 18, 0, tzinfo=datetime.timezone.utc)
    content = artifact_manifest([layer], subject=subject, now=now)
    data = json.loads(content)
    assert data["artifactType"] == UNKNOWN_ARTIFACT_TYPE
    assert data["config"] == EMPTY_CONFIG.to_json()
    assert data["annotations"] == {CREATED: "2026-12-01T18:00:00Z"}
    parsed = parse_manifest(content, OCI_MANIFEST)
    assert isinstance(parsed, ImageManifest)
    assert parsed.layers == (layer,)
    assert parsed.subject == subject


@pytest.mark.parametrize("name", ["a", "a/b", "./a", "a/./b"])
def test_safe_titles(tmp_path: Path, name: str) -> None:
    assert check_title(name, str(tmp_path)) == os.path.join(str(tmp_path), os.path.normpath(name))


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../a", "a/../..", "/etc/passwd", "a/../../b", "a\0b", "..\\a"]
)
def test_unsafe_titles(tmp_path: Path, name: str) -> None:
    with pytest.raises(DXFArtifactError):
        check_title(name, str(tmp_path))


@given(st.text(alphabet=st.sampled_from(list("ab./\\\0")), max_size=12))
def test_no_title_leads_out_of_the_directory(name: str) -> None:
    root = os.path.realpath("/tmp/dxf-title-root-that-does-not-exist")
    try:
        target = check_title(name, root)
    except DXFArtifactError:
        return
    real = os.path.realpath(target)
    assert os.path.commonpath([root, real]) == root and real != root


def test_fallback_index_edits() -> None:
    a, b = desc(b"a", "type/a"), desc(b"b", "type/b")
    subject = Digest.of_bytes(b"subject")
    assert fallback_tag(subject) == "sha256-" + subject.hex
    assert index_entries(None) == []
    entries = with_entry(with_entry([], a), b)
    assert index_entries(index_bytes(entries)) == [a, b]
    assert with_entry(entries, a) == [b, a]  # replaced, not doubled
    assert without_digest(entries, a.digest) == [b]
    assert of_type(entries, "type/b") == [b]
    assert of_type(entries, None) == entries


def test_artifacts_work_on_any_store(tmp_path: Path) -> None:
    """push_artifact/pull_artifact use only the store interface: the in-memory store will do (as an
    OCI layout will)."""
    store = MemoryStore()
    (tmp_path / "in" / "tree").mkdir(parents=True)
    (tmp_path / "in" / "a.txt").write_bytes(b"a")
    (tmp_path / "in" / "tree" / "b.txt").write_bytes(b"b")
    specs = [FileSpec(str(tmp_path / "in" / "a.txt")), FileSpec(str(tmp_path / "in" / "tree"))]
    desc = push_artifact(store, "v1", specs, artifact_type="application/x-test", jobs=2)
    assert store.resolve("v1") == desc
    out = tmp_path / "out"
    assert pull_artifact(store, "v1", str(out)) == [str(out / "a.txt"), str(out / "tree")]
    assert (out / "a.txt").read_bytes() == b"a"
    assert (out / "tree" / "b.txt").read_bytes() == b"b"
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no staging left behind
