"""``DXF_HOST=oci:PATH``: every command on OCI layouts with no registry, and the module's
``DXF("oci:PATH", repo)``. (Integration: real files, real processes' environment handling.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import dxf
from dxf.exceptions import DXFError, DXFNotFoundError
from dxf.layout import OCILayout
from harness.command import run_in_process

pytestmark = pytest.mark.usefixtures("clean_dxf_environment")


def test_every_command_works_offline(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    env = {"DXF_HOST": f"oci:{tmp_path / 'store'}"}
    data = tmp_path / "logger.dat"
    data.write_bytes(os.urandom(50_000))
    repo = "fred/datalogger"
    code, out, err = run_in_process(["push-blob", repo, str(data), "@may15"], env, capsysbinary)
    assert code == 0, err
    digest = out.strip()
    assert digest == dxf.hash_file(str(data))
    assert (tmp_path / "store" / "fred" / "datalogger" / "oci-layout").is_file()
    assert run_in_process(["get-alias", repo, "may15"], env, capsysbinary)[1] == f"{digest}\n"
    assert run_in_process(["blob-size", repo, "@may15"], env, capsysbinary)[1] == "50000\n"
    assert run_in_process(["list-aliases", repo], env, capsysbinary)[1] == "may15\n"
    assert run_in_process(["list-repos"], env, capsysbinary)[1] == "fred/datalogger\n"
    out_file = tmp_path / "back.dat"
    code, _, err = run_in_process(["pull-blob", repo, "@may15", "-o", str(out_file)], env, capsysbinary)
    assert code == 0 and out_file.read_bytes() == data.read_bytes(), err
    pulled = tmp_path / "o"
    code, out, err = run_in_process(
        ["pull-blobs", repo, "--output-dir", str(pulled), digest], env, capsysbinary
    )
    assert code == 0 and Path(out.strip()).read_bytes() == data.read_bytes(), err
    code, out, err = run_in_process(["auth", repo, "pull"], env, capsysbinary)
    assert code == 1 and out == "" and "needs a registry" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run_in_process(["gc", repo], env, capsysbinary)
    assert (code, out) == (0, "freed 0 bytes\n")
    code, out, _ = run_in_process(["del-alias", repo, "may15"], env, capsysbinary)
    assert (code, out) == (0, f"{digest}\n")
    code, out, _ = run_in_process(["gc", repo], env, capsysbinary)
    assert code == 0 and out.splitlines() == [f"{digest} 50000", "freed 50000 bytes"]
    code, _, err = run_in_process(["pull-blob", repo, digest], env, capsysbinary)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_del_blob_works_as_on_a_registry(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    env = {"DXF_HOST": f"oci:{tmp_path}"}
    data = tmp_path / "f"
    data.write_bytes(b"some bytes")
    digest = run_in_process(["push-blob", "r", str(data)], env, capsysbinary)[1].strip()
    assert run_in_process(["del-blob", "r", digest], env, capsysbinary)[0] == 0
    assert run_in_process(["blob-size", "r", digest], env, capsysbinary)[0] == 2


def test_the_module_on_a_layout_root(tmp_path: Path) -> None:
    client = dxf.DXF(f"oci:{tmp_path}", "fred/datalogger")
    first = client.push_blob(data=b"hello", digest=dxf.hash_bytes(b"hello"))
    second = client.push_blob(data=[b"wor", b"ld"], digest=dxf.hash_bytes(b"world"))
    manifest = client.set_alias("pair", first, second)
    assert client.get_alias("pair") == [first, second]
    assert client.get_manifest("pair") == manifest
    assert b"".join(client.pull_blob(second)) == b"world"  # type: ignore[arg-type]
    assert client.list_aliases() == ["pair"]
    layout = OCILayout(str(tmp_path / "fred" / "datalogger"))
    assert layout.fetch(layout.resolve("pair")).read_all() == manifest.encode()
    with pytest.raises(DXFError, match="needs a registry"):
        client.authenticate("fred", "pw")
    with pytest.raises(DXFError, match="needs a registry"):
        client.mount_blob("other", first)
    with pytest.raises(DXFError):
        client.push_blob(data=b"hello", digest=dxf.hash_bytes(b"other"), check_exists=False)
    client.del_alias("pair")
    with pytest.raises(DXFNotFoundError):
        client.get_alias("pair")


def test_deleting_an_alias_keeps_a_manifest_another_alias_uses(tmp_path: Path) -> None:
    client = dxf.DXF(f"oci:{tmp_path}", "repo")
    digest = client.push_blob(data=b"x", digest=dxf.hash_bytes(b"x"))
    client.set_alias("one", digest)
    client.set_alias("two", digest)
    client.del_alias("one")
    assert client.get_alias("two") == [digest]
    assert client.gc() == []
