"""Many blobs at once: the library's push_blobs/pull_blobs and the push-blobs/pull-blobs commands."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import dxf
from dxf import exceptions as ex
from harness.command import run_in_process
from harness.registry import PASSWORD, USERNAME, RegistryProcess, harness_env


def _client(registry: RegistryProcess, repo: str, jobs: int = 4) -> dxf.DXF:
    def auth(obj: dxf.DXFBase, response: object) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)  # type: ignore[arg-type]

    return dxf.DXF(
        registry.host, repo, auth, registry.insecure, tlsverify=registry.ca_bundle or True, jobs=jobs
    )


def _files(tmp_path: Path, count: int, size: int = 50_000) -> list[Path]:
    paths = []
    for i in range(count):
        path = tmp_path / f"in{i}"
        path.write_bytes(os.urandom(size) + bytes([i]))
        paths.append(path)
    return paths


def test_library_push_and_pull_many(registry: RegistryProcess, repo_name: str, tmp_path: Path) -> None:
    client = _client(registry, repo_name)
    files = _files(tmp_path, 12)
    digests = client.push_blobs([str(f) for f in files], jobs=4)
    assert digests == [dxf.hash_file(str(f)) for f in files]
    out = tmp_path / "out"
    out.mkdir()
    paths = client.pull_blobs(digests, str(out), jobs=4)
    assert [Path(p).name for p in paths] == [d.replace(":", "-") for d in digests]
    assert [Path(p).read_bytes() for p in paths] == [f.read_bytes() for f in files]
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(Path(paths[0]).stat().st_mode) == 0o666 & ~umask


def test_one_failure_fails_the_batch_and_leaves_no_partial_files(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    client = _client(registry_plain, repo_name)
    present = client.push_blobs([str(f) for f in _files(tmp_path, 3)])
    missing = dxf.hash_bytes(b"never pushed")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ex.DXFNotFoundError):
        client.pull_blobs([*present, missing], str(out), jobs=2)
    assert not any(name.startswith(".dxf-") for name in os.listdir(out))
    assert missing.replace(":", "-") not in os.listdir(out)


def test_cli_push_blobs_sets_alias_in_order(
    registry: RegistryProcess, repo_name: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    env = harness_env(registry)
    files = _files(tmp_path, 5)
    code, out, err = run_in_process(
        ["push-blobs", repo_name, "--jobs", "3", "@batch", *map(str, files)], env, capsysbinary
    )
    assert code == 0, err
    digests = out.split()
    assert digests == [dxf.hash_file(str(f)) for f in files]
    assert _client(registry, repo_name).get_alias("batch") == digests

    outdir = tmp_path / "pulled"
    code, out, err = run_in_process(
        ["pull-blobs", repo_name, "--output-dir", str(outdir), "@batch"], env, capsysbinary
    )
    assert code == 0, err
    assert [Path(p).read_bytes() for p in out.split()] == [f.read_bytes() for f in files]


def test_cli_parallel_usage_errors(
    registry_plain: RegistryProcess, repo_name: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    env = harness_env(registry_plain)
    for argv, message in [
        (["push-blobs", repo_name], "too few arguments"),
        (["push-blobs", repo_name, "@only-alias"], "too few arguments"),
        (["push-blobs", repo_name, "--jobs", "0", "f"], "--jobs"),
        (["pull-blobs", repo_name, "sha256:" + "0" * 64], "--output-dir"),
        (["pull-blobs", repo_name, "--output-dir", "d"], "too few arguments"),
    ]:
        code, _, err = run_in_process(argv, env, capsysbinary)
        assert code == 2 and message in err, (argv, err)


def test_cli_pull_blobs_progress_shows_total(
    registry_plain: RegistryProcess,
    repo_name: str,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    client = _client(registry_plain, repo_name)
    digests = client.push_blobs([str(f) for f in _files(tmp_path, 3)])
    env = {**harness_env(registry_plain), "DXF_PROGRESS": "1"}
    code, _, err = run_in_process(
        ["pull-blobs", repo_name, "--output-dir", str(tmp_path / "o"), *digests], env, capsysbinary
    )
    assert code == 0
    assert "total" in err and digests[0][7:19] in err
