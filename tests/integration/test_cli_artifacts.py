"""The artifact and referrer commands (push-artifact, pull-artifact, attach, referrers) and ``--json``
against the real registry; without ``--json`` the python-dxf commands print exactly what they did."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from test_cli import DXF_SCRIPT, child_env, fails, ok, run

import dxf
from harness.registry import RegistryProcess, harness_env

SIGNATURE = "application/vnd.example.signature"


@pytest.fixture
def env(registry_plain: RegistryProcess) -> dict[str, str]:
    return harness_env(registry_plain)


def write(path: Path, content: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return str(path)


def test_push_artifact_and_pull_artifact(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    a = write(tmp_path / "in" / "a.txt", b"alpha")
    b = write(tmp_path / "in" / "b.md", b"# beta")
    (tmp_path / "in" / "tree").mkdir()
    write(tmp_path / "in" / "tree" / "c.txt", b"gamma")
    pushed = ok(
        [
            "push-artifact",
            repo_name,
            "@v1",
            a,
            f"{b}:text/markdown",
            str(tmp_path / "in" / "tree"),
            "--artifact-type",
            "application/vnd.example",
            "--annotation",
            "k=v",
            "--annotation",
            "x=y=z",
        ],
        env,
    )
    digest = pushed.text.strip()
    assert pushed.lines == [digest] and digest.startswith("sha256:")
    manifest = json.loads(ok(["get-manifest", repo_name, "v1"], env).text)
    assert manifest["artifactType"] == "application/vnd.example"
    assert {"k": "v", "x": "y=z"}.items() <= manifest["annotations"].items()
    assert manifest["layers"][1]["mediaType"] == "text/markdown"
    out = tmp_path / "out"
    pulled = ok(["pull-artifact", repo_name, "@v1", "--output-dir", str(out)], env)
    assert pulled.lines == [str(out / "a.txt"), str(out / "b.md"), str(out / "tree")]
    assert (out / "a.txt").read_bytes() == b"alpha"
    assert (out / "tree" / "c.txt").read_bytes() == b"gamma"
    by_digest = tmp_path / "by-digest"
    ok(["pull-artifact", repo_name, digest, "--output-dir", str(by_digest)], env)
    assert (by_digest / "b.md").read_bytes() == b"# beta"


def test_pull_artifact_refuses_an_unsafe_title_in_one_line(
    env: dict[str, str], registry_plain: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    client = dxf.DXF(registry_plain.host, repo_name, insecure=True)
    blob = write(tmp_path / "evil", b"evil")
    digest = client.push_blob(blob)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/octet-stream", "digest": digest, "size": 4},
        "layers": [
            {
                "mediaType": "application/octet-stream",
                "digest": digest,
                "size": 4,
                "annotations": {"org.opencontainers.image.title": "../../evil"},
            }
        ],
    }
    client.set_manifest("bad", json.dumps(manifest))
    out = tmp_path / "a" / "b" / "out"
    result = fails(["pull-artifact", repo_name, "@bad", "--output-dir", str(out)], env, 1)
    assert "unsafe file name" in result.err and "../../evil" in result.err
    assert list(out.iterdir()) == []


def test_bad_annotation_is_one_line_and_nothing_is_pushed(
    env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    a = write(tmp_path / "a", b"a")
    result = fails(["push-artifact", repo_name, "@v1", a, "--annotation", "novalue"], env, 1)
    assert "KEY=VALUE" in result.err
    assert run(["list-aliases", repo_name], env).code != 0  # the repository was never created


def test_attach_and_referrers(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    app = ok(["push-artifact", repo_name, "@app", write(tmp_path / "app", b"app")], env).text.strip()
    sig = ok(
        [
            "attach",
            repo_name,
            "@app",
            "--artifact-type",
            SIGNATURE,
            write(tmp_path / "sig", b"sig"),
            "--annotation",
            "signer=me",
        ],
        env,
    ).text.strip()
    sbom = ok(
        ["attach", repo_name, app, "--artifact-type", "application/spdx+json", write(tmp_path / "s", b"{}")],
        env,
    ).text.strip()
    listed = ok(["referrers", repo_name, "@app"], env)
    assert listed.lines[0] == f"{sig} {SIGNATURE}"
    assert "  signer=me" in listed.lines
    assert f"{sbom} application/spdx+json" in listed.lines
    only = ok(["referrers", repo_name, app, "--artifact-type", SIGNATURE, "--json"], env)
    [entry] = json.loads(only.text)
    assert entry["digest"] == sig and entry["artifactType"] == SIGNATURE
    assert entry["annotations"]["signer"] == "me"
    assert set(entry) == {"digest", "mediaType", "size", "artifactType", "annotations"}


def test_attach_needs_an_artifact_type(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    result = run(["attach", repo_name, "@app", write(tmp_path / "f", b"f")], env)
    assert result.code == 2
    assert "--artifact-type" in result.err


def test_json_output_of_every_command_that_prints_results(
    env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    a = write(tmp_path / "a", b"aaa")
    b = write(tmp_path / "b", b"bbbbb")
    da, db = dxf.hash_file(a), dxf.hash_file(b)
    assert json.loads(ok(["push-blob", repo_name, a, "@one", "--json"], env).text) == {"digest": da}
    pushed = json.loads(ok(["push-blobs", repo_name, "@two", a, b, "--json"], env).text)
    assert pushed == [{"file": a, "digest": da}, {"file": b, "digest": db}]
    assert json.loads(ok(["get-alias", repo_name, "one", "two", "--json"], env).text) == {
        "one": [da],
        "two": [da, db],
    }
    assert json.loads(ok(["get-digest", repo_name, "two", "--json"], env).text) == {"two": da}
    sizes = json.loads(ok(["blob-size", repo_name, db, "@two", "--json"], env).text)
    assert sizes == {db: 5, "@two": 8}
    assert json.loads(ok(["list-aliases", repo_name, "--json"], env).text) == ["one", "two"]
    assert repo_name in json.loads(ok(["list-repos", "--json"], env).text)
    artifact = json.loads(ok(["push-artifact", repo_name, "@art", a, "--json"], env).text)
    assert set(artifact) == {"digest"} and artifact["digest"].startswith("sha256:")
    # one document even for the manifest on standard input
    manifest = ok(["get-manifest", repo_name, "two"], env).out
    assert json.loads(ok(["get-alias", repo_name, "--json"], env, stdin=manifest).text) == {"-": [da, db]}


def test_json_failure_is_one_line_on_stderr_and_nothing_on_stdout(
    env: dict[str, str], repo_name: str
) -> None:
    ok(["push-blob", repo_name, "-", "@one"], env, stdin=b"x")
    result = fails(["get-alias", repo_name, "one", "missing", "--json"], env, 2)
    assert result.out == b""


def test_without_json_output_stays_python_dxfs(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    a = write(tmp_path / "a", b"aaa")
    b = write(tmp_path / "b", b"bbbbb")
    da, db = dxf.hash_file(a), dxf.hash_file(b)
    assert ok(["push-blob", repo_name, a, "@one"], env).text == f"{da}\n"
    assert ok(["push-blobs", repo_name, "@two", a, b], env).text == f"{da}\n{db}\n"
    assert ok(["get-alias", repo_name, "one", "two"], env).text == f"{da}\n{da}\n{db}\n"
    assert ok(["get-digest", repo_name, "two"], env).text == f"{da}\n"
    assert ok(["blob-size", repo_name, db, "@two"], env).text == "5\n8\n"
    assert ok(["list-aliases", repo_name], env).text == "one\ntwo\n"
    # python-dxf prints each result before a later argument fails
    result = run(["get-alias", repo_name, "one", "missing"], env)
    assert result.code == 2 and result.text == f"{da}\n"


def test_json_is_offered_only_where_the_record_says_so(env: dict[str, str], repo_name: str) -> None:
    result = run(["del-alias", repo_name, "x", "--json"], env)
    assert result.code == 2 and "unrecognized arguments: --json" in result.err


def test_parallel_attach_processes_lose_no_entry(
    registry_plain: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    """Four ``dxf attach`` processes started together on one subject (distribution 2.8: the fallback
    index): every one's entry is listed at the end."""
    env = child_env(registry_plain)
    ok(["push-artifact", repo_name, "@app", write(tmp_path / "app", b"app")], harness_env(registry_plain))
    files = [write(tmp_path / f"sig{i}", f"signature {i}".encode()) for i in range(4)]
    procs = [
        subprocess.Popen(
            [str(DXF_SCRIPT), "attach", repo_name, "@app", "--artifact-type", SIGNATURE, f],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for f in files
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outputs]
    attached = {out.decode().strip() for out, _ in outputs}
    listed = json.loads(ok(["referrers", repo_name, "@app", "--json"], harness_env(registry_plain)).text)
    assert {r["digest"] for r in listed} == attached
