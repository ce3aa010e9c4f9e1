"""``dxf copy SRC DST`` against the real registry: registry -> layout -> registry in every auth mode,
plain HTTP per side, DXF_* credentials only for DXF_HOST's registry, one-line failures."""

from __future__ import annotations

import base64
import json
import os
import tracemalloc
from pathlib import Path

import pytest

import dxf
from dxf.digest import Digest
from dxf.layout import OCILayout
from dxf.manifest import DOCKER_MANIFEST_V2, OCTET_STREAM, Descriptor, make_dxf_manifest
from harness.command import run_in_process
from harness.registry import PASSWORD, USERNAME, RegistryProcess, harness_env
from harness.store_contract import push_alias

pytestmark = pytest.mark.usefixtures("clean_dxf_environment")


def _client(registry: RegistryProcess, repo: str) -> dxf.DXF:
    def auth(obj: dxf.DXFBase, response: object) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)  # type: ignore[arg-type]

    return dxf.DXF(registry.host, repo, auth, registry.insecure, tlsverify=registry.ca_bundle or True)


def test_copy_registry_to_layout_and_back(
    registry: RegistryProcess, repo_name: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    source = _client(registry, repo_name)
    desc, _, blobs = push_alias(source.store, "v1", count=3)
    env = {**harness_env(registry), "DXF_PROGRESS": "1"}
    layout = tmp_path / "carried"
    code, out, err = run_in_process(
        ["copy", "--jobs", "2", f"docker://{registry.host}/{repo_name}:v1", f"oci:{layout}:v1"],
        env,
        capsysbinary,
    )
    assert (code, out) == (0, f"{desc.digest}\n"), err
    assert "total" in err
    assert OCILayout(str(layout)).resolve("v1").digest == desc.digest
    code, out, err = run_in_process(
        ["copy", f"oci:{layout}:v1", f"docker://{registry.host}/{repo_name}-back:landed"], env, capsysbinary
    )
    assert (code, out) == (0, f"{desc.digest}\n"), err
    back = _client(registry, repo_name + "-back")
    assert back.get_alias("landed") == source.get_alias("v1")
    assert back.store.fetch(Descriptor.of_bytes(OCTET_STREAM, blobs[1])).read_all() == blobs[1]


def test_plain_http_is_chosen_per_side(
    registry_plain: RegistryProcess,
    repo_name: str,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    push_alias(_client(registry_plain, repo_name).store, "v1")
    src = f"docker://{registry_plain.host}/{repo_name}:v1"
    env = {"DXF_HOST": registry_plain.host, "DXF_RETRIES": "0"}
    code, _, err = run_in_process(["copy", src, f"oci:{tmp_path / 'a'}:v1"], env, capsysbinary)
    assert code == 1 and len(err.strip().splitlines()) == 1  # https to a plain-HTTP registry
    code, _, err = run_in_process(
        ["copy", "--dest-insecure", src, f"oci:{tmp_path / 'a'}:v1"], env, capsysbinary
    )
    assert code == 1, err
    code, _, err = run_in_process(
        ["copy", "--src-insecure", src, f"oci:{tmp_path / 'a'}:v1"], env, capsysbinary
    )
    assert code == 0, err


def test_dxf_credentials_go_only_to_dxf_host(
    registry_basic: RegistryProcess,
    repo_name: str,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    push_alias(_client(registry_basic, repo_name).store, "v1")
    argv = ["copy", f"docker://{registry_basic.host}/{repo_name}:v1", f"oci:{tmp_path / 'l'}:v1"]
    env = harness_env(registry_basic)
    code, _, err = run_in_process(argv, {**env, "DXF_HOST": "registry.elsewhere.test"}, capsysbinary)
    assert code == 13, err
    assert PASSWORD not in err and len(err.strip().splitlines()) == 1
    code, _, err = run_in_process(argv, env, capsysbinary)
    assert code == 0, err


def test_other_hosts_use_docker_stored_credentials(
    registry_basic: RegistryProcess,
    repo_name: str,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    push_alias(_client(registry_basic, repo_name).store, "v1")
    config = tmp_path / "docker-config"
    config.mkdir()
    auth = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {registry_basic.host: {"auth": auth}}}))
    env = {
        "DXF_HOST": "registry.elsewhere.test",
        "DXF_USERNAME": "someone-else",
        "DXF_PASSWORD": "not-for-this-registry",
        "DXF_TLSVERIFY": registry_basic.ca_bundle or "",
        "DOCKER_CONFIG": str(config),
    }
    argv = ["copy", f"docker://{registry_basic.host}/{repo_name}:v1", f"oci:{tmp_path / 'l'}:v1"]
    code, _, err = run_in_process(argv, env, capsysbinary)
    assert code == 0, err
    assert OCILayout(str(tmp_path / "l")).resolve("v1")


def test_a_blob_streams_through_without_being_held_in_memory(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    size = 24 * 1024 * 1024
    with dxf.DXF(registry_plain.host, repo_name, insecure=True) as client:
        data = os.urandom(size)
        desc = Descriptor.of_bytes(OCTET_STREAM, data)
        client.store.push(desc, [data[i : i + 1024 * 1024] for i in range(0, size, 1024 * 1024)])
        manifest = make_dxf_manifest([(desc.digest, size)]).encode()
        root = Descriptor.of_bytes(DOCKER_MANIFEST_V2, manifest)
        client.store.push(root, [manifest])
        client.store.tag(root, "big")
        del data
        tracemalloc.start()
        try:
            dxf.copy(client.store, "big", OCILayout(str(tmp_path / "l")))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < size // 4, peak
    assert Digest.of_file(str(tmp_path / "l" / "blobs" / "sha256" / desc.digest.hex)) == desc.digest


def test_copy_failures_are_one_line(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    env: dict[str, str] = {}
    for argv, status in [
        (["copy", "oci:/nowhere:v1"], 2),
        (["copy", "localhost:5000/x:v1", f"oci:{tmp_path}:v1"], 1),
        (["copy", f"oci:{tmp_path / 'empty'}:v1", f"oci:{tmp_path / 'other'}:v1"], 2),
    ]:
        code, out, err = run_in_process(argv, env, capsysbinary)
        assert (code, out) == (status, ""), (argv, err)
        assert err.strip() and (status == 2 or len(err.strip().splitlines()) == 1), err
    assert not (tmp_path / "other").exists()
