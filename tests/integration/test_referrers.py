"""Referrers: ``DXF.attach`` / ``DXF.referrers`` and ``RemoteRepository``'s ``ReferrerLister``.

distribution 2.8 (the real registry) has no referrers API, so the referrers tag schema fallback is
tested against it, including attachers racing on one fallback index. The API path is tested against
:mod:`harness.referrers_api`, a loopback server implementing that endpoint per the spec.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import requests

import dxf
from dxf.manifest import OCI_INDEX, OCI_MANIFEST, Descriptor
from dxf.store import ReferrerLister
from harness.referrers_api import ReferrersAPI
from harness.registry import PASSWORD, USERNAME, RegistryProcess
from harness.stub import StubServer

SIGNATURE = "application/vnd.example.signature"
SBOM = "application/vnd.example.sbom"


@pytest.fixture
def client(registry_plain: RegistryProcess, repo_name: str) -> dxf.DXF:
    return dxf.DXF(registry_plain.host, repo_name, insecure=True)


@pytest.fixture
def subject(client: dxf.DXF, tmp_path: Path) -> str:
    """An alias (``app``) to attach things to; returns its manifest digest."""
    f = tmp_path / "app.bin"
    f.write_bytes(b"the application")
    return client.push_artifact("app", str(f))


def small_file(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


EMPTY = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:" + "4" * 64, "size": 2}


def manifest(subject: Descriptor | None, name: str) -> tuple[Descriptor, bytes]:
    """A small artifact manifest (for the loopback registries, which keep no blobs) named ``name``."""
    data: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SIGNATURE,
        "config": EMPTY,
        "layers": [],
        "annotations": {"name": name},
    }
    if subject is not None:
        data["subject"] = {"mediaType": OCI_MANIFEST, "digest": str(subject.digest), "size": subject.size}
    content = json.dumps(data).encode()
    return Descriptor.of_bytes(OCI_MANIFEST, content), content


def test_remote_repository_is_a_referrer_lister(client: dxf.DXF) -> None:
    assert isinstance(client.store, ReferrerLister)


def test_attach_and_list_through_the_fallback_index(client: dxf.DXF, subject: str, tmp_path: Path) -> None:
    sig = client.attach("app", SIGNATURE, small_file(tmp_path, "sig", b"s"), annotations={"k": "v"})
    sbom = client.attach(subject, SBOM, small_file(tmp_path, "sbom.json", b"{}"))
    found = client.referrers("app")
    assert [(r["digest"], r["artifactType"]) for r in found] == [(sig, SIGNATURE), (sbom, SBOM)]
    assert found[0]["annotations"]["k"] == "v"
    assert found[0]["mediaType"] == OCI_MANIFEST
    assert [r["digest"] for r in client.referrers("app", SBOM)] == [sbom]
    # the referrers tag schema: an image index tagged <alg>-<hex> of the subject
    index = json.loads(client.store.fetch_manifest(subject.replace(":", "-")).content)
    assert index["mediaType"] == OCI_INDEX
    assert {m["digest"] for m in index["manifests"]} == {sig, sbom}
    # the attached artifact's manifest names its subject
    assert json.loads(client.get_manifest(sig))["subject"]["digest"] == subject  # type: ignore[arg-type]


def test_nothing_attached_lists_nothing(client: dxf.DXF, subject: str) -> None:
    assert client.referrers(subject) == []


def test_parallel_attachers_lose_no_entry(
    registry_plain: RegistryProcess, repo_name: str, subject: str, tmp_path: Path
) -> None:
    """Several clients (threads, each its own connection pool) attach to one subject at the same
    moment: each read-modify-write of the fallback index races the others, and every entry must
    survive."""
    count = 6
    files = [small_file(tmp_path, f"att{i}", f"attachment {i}".encode()) for i in range(count)]
    start = threading.Barrier(count)
    digests: list[str] = [""] * count
    errors: list[BaseException] = []

    def attach(i: int) -> None:
        try:
            attacher = dxf.DXF(registry_plain.host, repo_name, insecure=True)
            start.wait(timeout=10)
            digests[i] = attacher.attach("app", SIGNATURE, files[i])
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=attach, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    listed = {r["digest"] for r in dxf.DXF(registry_plain.host, repo_name, insecure=True).referrers(subject)}
    assert listed == set(digests)


def test_deleting_an_artifact_removes_it_from_the_fallback_index(
    client: dxf.DXF, subject: str, tmp_path: Path
) -> None:
    kept = client.attach("app", SIGNATURE, small_file(tmp_path, "a", b"a"))
    client.push_artifact("sig", small_file(tmp_path, "b", b"b"), artifact_type=SIGNATURE, subject="app")
    assert len(client.referrers(subject)) == 2
    client.del_alias("sig")
    assert [r["digest"] for r in client.referrers(subject)] == [kept]
    # through the store interface too
    store = client.store
    store.delete(store.resolve(kept))
    assert client.referrers(subject) == []


def test_referrers_api_is_used_where_the_registry_has_it() -> None:
    api = ReferrersAPI()
    with StubServer(api.answer) as server:
        client = dxf.DXF(server.host, "repo", insecure=True)
        store = client.store
        empty = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:" + "4" * 64, "size": 2}
        subject_bytes = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": empty, "layers": []}
        ).encode()
        subject = Descriptor.of_bytes(OCI_MANIFEST, subject_bytes)
        store.push(subject, [subject_bytes])
        referrer = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": SIGNATURE,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": "sha256:" + "4" * 64,
                "size": 2,
            },
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": str(subject.digest), "size": subject.size},
            "annotations": {"k": "v"},
        }
        content = json.dumps(referrer).encode()
        desc = Descriptor.of_bytes(OCI_MANIFEST, content)
        store.push(desc, [content])
        found = client.referrers(str(subject.digest))
        assert found == [
            {
                "digest": str(desc.digest),
                "mediaType": OCI_MANIFEST,
                "size": desc.size,
                "artifactType": SIGNATURE,
                "annotations": {"k": "v"},
            }
        ]
        assert client.referrers(str(subject.digest), SBOM) == []
        paths = [r.path for r in server.seen]
        assert any(p.startswith(f"/v2/repo/referrers/{subject.digest}") for p in paths)
        # the registry processed the subject (OCI-Subject): no fallback index was written
        assert not any(r.method == "PUT" and "sha256-" in r.path for r in server.seen)


def test_a_refused_conditional_write_is_merged_again() -> None:
    """Against a loopback registry without the referrers API that honours ``If-Match``: another
    writer replaces the fallback index between our read and our write; our PUT is refused (412),
    and we read, merge and write again, keeping both entries."""
    api = ReferrersAPI(api=False)
    with StubServer(api.answer) as server:
        store = dxf.DXF(server.host, "repo", insecure=True).store
        subject, subject_content = manifest(None, "subject")
        store.push(subject, [subject_content])
        ours, ours_content = manifest(subject, "ours")
        theirs, theirs_content = manifest(subject, "theirs")
        tag = "sha256-" + subject.digest.hex
        store.push(theirs, [theirs_content])  # an index with their entry exists; we will read it
        rival = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": str(theirs.digest),
                        "size": theirs.size,
                        "artifactType": SIGNATURE,
                    },
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": "sha256:" + "7" * 64,
                        "size": 1,
                        "artifactType": SIGNATURE,
                    },
                ],
            }
        ).encode()

        def another_writer_first(ref: str) -> None:
            if ref == tag and not api.refused:
                api.before_put = lambda _ref: None  # once
                api.put(tag, OCI_INDEX, rival)

        api.before_put = another_writer_first
        store.push(ours, [ours_content])
        assert api.refused == [tag]
        listed = {str(d.digest) for d in store.referrers(subject)}
        assert listed == {str(theirs.digest), str(ours.digest), "sha256:" + "7" * 64}


def test_referrers_api_pages_are_followed() -> None:
    api = ReferrersAPI(page_size=2)
    with StubServer(api.answer) as server:
        client = dxf.DXF(server.host, "repo", insecure=True)
        subject, content = manifest(None, "subject")
        client.store.push(subject, [content])
        pushed = set()
        for i in range(5):
            desc, content = manifest(subject, f"r{i}")
            client.store.push(desc, [content])
            pushed.add(str(desc.digest))
        assert {r["digest"] for r in client.referrers(str(subject.digest))} == pushed
        assert sum("/referrers/" in r.path for r in server.seen) == 3


def test_artifacts_and_referrers_in_every_auth_mode(
    registry: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    """Plain HTTP, TLS + basic auth, TLS + tokens: the artifact and referrer requests (including the
    fallback index's tag) carry the same authentication as everything else."""

    def auth(obj: dxf.DXFBase, response: requests.Response) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)

    client = dxf.DXF(
        registry.host, repo_name, auth, insecure=registry.insecure, tlsverify=registry.ca_bundle or True
    )
    subject = client.push_artifact("app", small_file(tmp_path, "app", b"app"))
    sig = client.attach("app", SIGNATURE, small_file(tmp_path, "sig", b"sig"))
    assert [r["digest"] for r in client.referrers(subject)] == [sig]
    out = tmp_path / "out"
    client.pull_artifact(sig, str(out))
    assert (out / "sig").read_bytes() == b"sig"
