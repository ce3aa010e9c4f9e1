"""An index with two entries for the same platform is reported with the last one, as python-dxf does.

buildx writes one attestation manifest per image, each as ``unknown/unknown``; an index can also list a
platform twice. The index pushed here has both, plus an entry without ``platform`` (left out) and no
``mediaType`` anywhere (read from its shape): python-dxf crashes on those two, dxf reads them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import dxf
from harness.registry import RegistryProcess, harness_env

DXF_SCRIPT = Path(sys.executable).parent / "dxf"
AMD64 = {"os": "linux", "architecture": "amd64"}
UNKNOWN = {"os": "unknown", "architecture": "unknown"}
ATTESTATION = {"vnd.docker.reference.type": "attestation-manifest"}


@dataclass
class PushedIndex:
    client: dxf.DXF
    index: str
    blobs: dict[str, str]  # name -> blob digest (also the manifest's config)
    manifests: dict[str, str]  # name -> manifest digest


def _push_manifest(client: dxf.DXF, name: str) -> tuple[str, str, int]:
    """A one-layer image manifest without mediaType; returns (blob digest, manifest digest, size)."""
    data = f"content of {name}".encode()
    blob = client.push_blob(data=[data], digest=dxf.hash_bytes(data))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": blob, "size": len(data)},
            "layers": [{"mediaType": "application/octet-stream", "digest": blob, "size": len(data)}],
        }
    )
    client.set_manifest(f"{name}-only", manifest)
    return blob, dxf.hash_bytes(manifest.encode()), len(manifest)


@pytest.fixture
def pushed(registry_plain: RegistryProcess, repo_name: str) -> PushedIndex:
    client = dxf.DXF(registry_plain.host, repo_name, insecure=True)
    blobs: dict[str, str] = {}
    manifests: dict[str, str] = {}
    entries = []
    for name, platform, notes in [
        ("first-amd64", AMD64, None),
        ("first-attestation", UNKNOWN, ATTESTATION),
        ("last-amd64", AMD64, None),
        ("last-attestation", UNKNOWN, ATTESTATION),
        ("no-platform", None, None),
    ]:
        blobs[name], manifests[name], size = _push_manifest(client, name)
        entry: dict[str, object] = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifests[name],
            "size": size,
        }
        if platform is not None:
            entry["platform"] = platform
        if notes is not None:
            entry["annotations"] = notes
        entries.append(entry)
    index = json.dumps({"schemaVersion": 2, "manifests": entries})
    client.set_manifest("multi", index)
    return PushedIndex(client, index, blobs, manifests)


def test_module_reports_the_last_entry_per_platform(pushed: PushedIndex) -> None:
    client, blobs = pushed.client, pushed.blobs
    assert client.get_alias("multi") == {
        "linux/amd64": [blobs["last-amd64"]],
        "unknown/unknown": [blobs["last-attestation"]],
    }
    assert client.get_alias("multi", platform="linux/amd64") == [blobs["last-amd64"]]
    assert client.get_digest("multi") == {
        "linux/amd64": blobs["last-amd64"],
        "unknown/unknown": blobs["last-attestation"],
    }
    assert client.get_digest("multi", platform="unknown/unknown") == blobs["last-attestation"]
    assert client.del_alias("multi") == {
        "linux/amd64": pushed.manifests["last-amd64"],
        "unknown/unknown": pushed.manifests["last-attestation"],
    }


def test_command_reports_the_last_entry_per_platform(
    pushed: PushedIndex, registry_plain: RegistryProcess, repo_name: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXF_")}
    env.update(harness_env(registry_plain))

    def dxf_cmd(*args: str, platform: str | None = None) -> str:
        extra = {"DXF_PLATFORM": platform} if platform else {}
        done = subprocess.run(
            [str(DXF_SCRIPT), *args], capture_output=True, text=True, env={**env, **extra}, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    blobs = pushed.blobs
    assert json.loads(dxf_cmd("get-alias", repo_name, "multi")) == {
        "linux/amd64": [blobs["last-amd64"]],
        "unknown/unknown": [blobs["last-attestation"]],
    }
    assert dxf_cmd("get-alias", repo_name, "multi", platform="linux/amd64") == blobs["last-amd64"] + "\n"
    assert json.loads(dxf_cmd("del-alias", repo_name, "multi")) == {
        "linux/amd64": pushed.manifests["last-amd64"],
        "unknown/unknown": pushed.manifests["last-attestation"],
    }
