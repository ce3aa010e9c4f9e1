"""The ``dxf`` command against real registries (plain, basic and token auth).

Most tests call :func:`dxf.main.run_command` (what the command does: every failure one line and an
exit status) in-process with ``sys.stdin/stdout/stderr`` replaced by BytesIO-backed streams;
``test_doit_*`` check python-dxf's :func:`dxf.main.doit` contract (returns 0/13/2, raises the rest); a
few run the installed ``dxf`` script (and ``python -m dxf``) as a child process, including the README's
shell example verbatim through bash and signals sent mid-transfer.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

import dxf
from dxf.main import run_command
from dxf.manifest import DOCKER_MANIFEST_V2, OCI_INDEX
from harness.registry import PASSWORD, READER, USERNAME, RegistryProcess, free_port, harness_env
from harness.tokenserver import decode_jwt_unverified

BIN_DIR = Path(sys.executable).parent
DXF_SCRIPT = BIN_DIR / "dxf"
MISSING = "sha256:" + "0" * 64


# -- running the command in-process ------------------------------------------------------------------
@dataclass
class Result:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode("utf-8")

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


class _TTYWrapper(io.TextIOWrapper):
    def isatty(self) -> bool:
        return True


class ChunkSink:
    """A stdout without ``.buffer`` that takes bytes and remembers each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:
        assert isinstance(data, bytes), f"text written to the binary sink: {data!r}"
        self.writes.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def run(
    argv: list[str],
    env: dict[str, str],
    stdin: bytes = b"",
    *,
    tty: bool = False,
    stdout: Any = None,
) -> Result:
    """``run_command(argv, env)`` with captured standard streams."""
    out_bytes = io.BytesIO()
    err_bytes = io.BytesIO()
    out = stdout if stdout is not None else io.TextIOWrapper(out_bytes, encoding="utf-8", newline="")
    err_cls = _TTYWrapper if tty else io.TextIOWrapper
    err = err_cls(err_bytes, encoding="utf-8", newline="")
    inp = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = inp, out, err
    try:
        code = run_command(argv, env)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        if stdout is None:
            out.flush()
        err.flush()
    return Result(code, out_bytes.getvalue(), err_bytes.getvalue().decode("utf-8"))


def ok(argv: list[str], env: dict[str, str], stdin: bytes = b"", **kwargs: Any) -> Result:
    result = run(argv, env, stdin, **kwargs)
    assert result.code == 0, (argv, result.code, result.err)
    return result


def fails(argv: list[str], env: dict[str, str], code: int, stdin: bytes = b"", **kwargs: Any) -> Result:
    """Run a command that must fail with ``code`` and exactly one ``dxf: <command> ...`` line."""
    result = run(argv, env, stdin, **kwargs)
    assert result.code == code, (argv, result.code, result.err)
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"dxf: {argv[0]}"), lines[0]
    return result


def usage_fails(argv: list[str], env: dict[str, str], message: str) -> Result:
    result = run(argv, env)
    assert result.code == 2, (argv, result.err)
    assert result.err.startswith("usage: dxf "), result.err
    assert message in result.err
    assert result.out == b""
    return result


# -- fixtures ------------------------------------------------------------------------------------------
pytestmark = pytest.mark.usefixtures("clean_dxf_environment")


@pytest.fixture
def env(registry: RegistryProcess) -> dict[str, str]:
    return harness_env(registry)


def library_client(registry: RegistryProcess, repo: str) -> dxf.DXF:
    def auth(obj: dxf.DXFBase, response: requests.Response) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)

    return dxf.DXF(
        registry.host, repo, auth, insecure=registry.insecure, tlsverify=registry.ca_bundle or True
    )


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- every command, in every mode ----------------------------------------------------------------------
def test_push_pull_alias_roundtrip(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    f = write(tmp_path / "logger.dat", data)
    digest = ok(["push-blob", repo_name, str(f), "@may15"], env).text
    assert digest == sha256(data) + "\n"
    digest = digest.strip()
    # pushing again (blob exists) prints the same digest
    assert ok(["push-blob", repo_name, str(f)], env).lines == [digest]
    assert ok(["pull-blob", repo_name, digest], env).out == data
    assert ok(["pull-blob", repo_name, "@may15"], env).out == data
    assert ok(["blob-size", repo_name, digest, "@may15"], env).lines == [str(len(data))] * 2
    assert ok(["get-alias", repo_name, "may15"], env).lines == [digest]
    assert ok(["get-digest", repo_name, "may15"], env).lines == [digest]
    assert ok(["list-aliases", repo_name], env).lines == ["may15"]


def test_set_alias_get_manifest_del_alias(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    blobs = [b"first blob\n", b"second, longer blob\n" * 3]
    files = [write(tmp_path / f"b{i}", b) for i, b in enumerate(blobs)]
    digests = [ok(["push-blob", repo_name, str(f)], env).text.strip() for f in files]
    # one digest, one local file (contains os.sep: hashed, not uploaded)
    manifest = ok(["set-alias", repo_name, "both", digests[0], str(files[1])], env).text
    assert not manifest.endswith("\n")
    parsed = json.loads(manifest)
    assert [layer["digest"] for layer in parsed["layers"]] == digests
    assert [layer["size"] for layer in parsed["layers"]] == [len(b) for b in blobs]
    ok(["set-alias", repo_name, "second", digests[1]], env)
    # get-manifest: exactly the stored bytes, no newline added; several aliases concatenated
    assert ok(["get-manifest", repo_name, "both"], env).text == manifest
    second = ok(["get-manifest", repo_name, "second"], env).text
    assert ok(["get-manifest", repo_name, "both", "second"], env).text == manifest + second
    assert ok(["pull-blob", repo_name, "@both"], env).out == blobs[0] + blobs[1]
    assert ok(["pull-blob", repo_name, "@second", digests[0]], env).out == blobs[1] + blobs[0]
    assert ok(["blob-size", repo_name, "@both"], env).lines == [str(len(blobs[0]) + len(blobs[1]))]
    assert ok(["get-alias", repo_name, "both", "second"], env).lines == [*digests, digests[1]]
    assert ok(["get-digest", repo_name, "both", "second"], env).lines == [digests[0], digests[1]]
    assert sorted(ok(["list-aliases", repo_name], env).lines) == ["both", "second"]
    # del-alias prints what each alias pointed to; the blobs survive
    assert ok(["del-alias", repo_name, "both", "second"], env).lines == [*digests, digests[1]]
    assert ok(["list-aliases", repo_name], env).lines == []
    assert ok(["pull-blob", repo_name, digests[0]], env).out == blobs[0]
    fails(["get-alias", repo_name, "both"], env, errno.ENOENT)


def test_stdin_manifest_commands(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    blobs = [b"alpha", b"beta beta"]
    digests = [
        ok(["push-blob", repo_name, str(write(tmp_path / f"s{i}", b))], env).text.strip()
        for i, b in enumerate(blobs)
    ]
    manifest = ok(["set-alias", repo_name, "pair", *digests], env).out
    assert ok(["get-alias", repo_name], env, stdin=manifest).lines == digests
    assert ok(["get-digest", repo_name], env, stdin=manifest).lines == [digests[0]]
    assert ok(["blob-size", repo_name], env, stdin=manifest).lines == [str(sum(map(len, blobs)))]
    assert ok(["pull-blob", repo_name], env, stdin=manifest).out == b"".join(blobs)
    ok(["del-blob", repo_name], env, stdin=manifest)
    for digest in digests:
        fails(["blob-size", repo_name, digest], env, errno.ENOENT)
    # a manifest that is not JSON: one line, exit 1
    result = fails(["get-alias", repo_name], env, 1, stdin=b"not json")
    assert "not valid JSON" in result.err


def test_stdin_push_larger_than_one_upload_chunk(env: dict[str, str], repo_name: str) -> None:
    data = os.urandom(8 * 1024 * 1024 + 1)
    digest = ok(["push-blob", repo_name, "-", "@piped"], env, stdin=data).text.strip()
    assert digest == sha256(data)
    assert ok(["blob-size", repo_name, "@piped"], env).lines == [str(len(data))]
    assert ok(["pull-blob", repo_name, "@piped"], env).out == data


def test_pull_blob_to_file(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    data = os.urandom(50_000)
    digest = ok(["push-blob", repo_name, str(write(tmp_path / "in", data)), "@one"], env).text.strip()
    out = tmp_path / "out.bin"
    result = ok(["pull-blob", repo_name, "-o", str(out), digest], env)
    assert out.read_bytes() == data and result.out == b""
    out2 = tmp_path / "out2.bin"
    ok(["pull-blob", repo_name, "@one", "--output", str(out2)], env)  # options after positionals
    assert out2.read_bytes() == data
    ok(["set-alias", repo_name, "two", digest, digest], env)
    usage_fails(["pull-blob", repo_name, "-o", str(tmp_path / "x"), "@two"], env, "exactly one blob")
    usage_fails(["pull-blob", repo_name, "-o", str(tmp_path / "x"), digest, digest], env, "exactly one blob")
    fails(["pull-blob", repo_name, "-o", str(tmp_path / "missing"), MISSING], env, errno.ENOENT)
    assert not (tmp_path / "x").exists() and not (tmp_path / "missing").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dxf-")] == []


def test_blob_info_and_chunk_size(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    blobs = [b"x" * 50, b"hello world\n"]
    digests = [
        ok(["push-blob", repo_name, str(write(tmp_path / f"c{i}", b))], env).text.strip()
        for i, b in enumerate(blobs)
    ]
    ok(["set-alias", repo_name, "info", *digests], env)
    result = ok(["pull-blob", repo_name, "@info"], {**env, "DXF_BLOB_INFO": "1"})
    expected = b"".join(f"{d} {len(b)}\n".encode() + b for d, b in zip(digests, blobs, strict=True))
    assert result.out == expected
    # without DXF_BLOB_INFO, only the bytes
    assert ok(["pull-blob", repo_name, "@info"], {**env, "DXF_BLOB_INFO": "0"}).out == b"".join(blobs)
    # DXF_CHUNK_SIZE: a stdout without .buffer sees 7-byte writes
    sink = ChunkSink()
    ok(["pull-blob", repo_name, digests[0]], {**env, "DXF_CHUNK_SIZE": "7"}, stdout=sink)
    assert b"".join(sink.writes) == blobs[0]
    assert max(map(len, sink.writes)) == 7 and len(sink.writes) == 8
    result = fails(["pull-blob", repo_name, digests[0]], {**env, "DXF_CHUNK_SIZE": "seven"}, 2)
    assert "DXF_CHUNK_SIZE" in result.err


def test_progress_bars(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    f = write(tmp_path / "p", data)
    digest = sha256(data)
    label = digest.split(":")[1][:12]
    result = ok(["push-blob", repo_name, str(f)], {**env, "DXF_PROGRESS": "1"})
    assert label in result.err and "100%" in result.err and "kB/" in result.err
    pulled = ok(["pull-blob", repo_name, digest], {**env, "DXF_PROGRESS": "1"})
    assert pulled.out == data
    assert label in pulled.err and "100%" in pulled.err
    # 0: never, even on a terminal; unset: only on a terminal
    assert ok(["pull-blob", repo_name, digest], {**env, "DXF_PROGRESS": "0"}, tty=True).err == ""
    assert ok(["pull-blob", repo_name, digest], env).err == ""
    assert label in ok(["pull-blob", repo_name, digest], env, tty=True).err
    # stdin pushes have a bar too (size unknown in advance)
    streamed = ok(["push-blob", repo_name, "-"], {**env, "DXF_PROGRESS": "1"}, stdin=b"streamed" * 1000)
    assert "(stream)" in streamed.err
    # with -o
    out = tmp_path / "o"
    assert label in ok(["pull-blob", repo_name, "-o", str(out), digest], {**env, "DXF_PROGRESS": "1"}).err


def test_mount_blob(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    data = b"mount me"
    source = repo_name + "-src"
    digest = ok(["push-blob", source, str(write(tmp_path / "m", data))], env).text.strip()
    assert ok(["mount-blob", repo_name, source, digest, "@mounted"], env).lines == [digest]
    assert ok(["pull-blob", repo_name, "@mounted"], env).out == data
    assert ok(["mount-blob", repo_name + "-b", source, digest], env).lines == [digest]
    assert ok(["blob-size", repo_name + "-b", digest], env).lines == [str(len(data))]


def test_del_blob_keeps_the_alias(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    blobs = [b"delete one", b"delete two"]
    digests = [
        ok(["push-blob", repo_name, str(write(tmp_path / f"d{i}", b))], env).text.strip()
        for i, b in enumerate(blobs)
    ]
    ok(["set-alias", repo_name, "doomed", *digests], env)
    ok(["del-blob", repo_name, "@doomed"], env)
    for digest in digests:
        fails(["pull-blob", repo_name, digest], env, errno.ENOENT)
    assert ok(["list-aliases", repo_name], env).lines == ["doomed"]
    assert ok(["get-alias", repo_name, "doomed"], env).lines == digests
    third = ok(["push-blob", repo_name, str(write(tmp_path / "d3", b"three"))], env).text.strip()
    ok(["del-blob", repo_name, third], env)
    fails(["blob-size", repo_name, third], env, errno.ENOENT)
    fails(["del-blob", repo_name, third], env, errno.ENOENT)


def test_list_repos(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    ok(["push-blob", repo_name, str(write(tmp_path / "r", b"repo"))], env)
    assert repo_name in ok(["list-repos"], env).lines


def test_not_found_exits_enoent(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    ok(["push-blob", repo_name, str(write(tmp_path / "n", b"exists"))], env)
    result = fails(["pull-blob", repo_name, MISSING], env, errno.ENOENT)
    assert result.err.startswith(f"dxf: pull-blob {repo_name} sha256:000000000000…: 404")
    assert "blob unknown" in result.err
    fails(["blob-size", repo_name, MISSING], env, errno.ENOENT)
    fails(["pull-blob", repo_name, "@nosuchalias"], env, errno.ENOENT)
    fails(["get-alias", repo_name, "nosuchalias"], env, errno.ENOENT)
    fails(["get-digest", repo_name, "nosuchalias"], env, errno.ENOENT)
    fails(["get-manifest", repo_name, "nosuchalias"], env, errno.ENOENT)
    fails(["del-alias", repo_name, "nosuchalias"], env, errno.ENOENT)
    fails(["list-aliases", repo_name + "-never-created"], env, errno.ENOENT)


def test_auth_command_and_token(
    env: dict[str, str], registry: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    result = ok(["auth", repo_name, "pull", "push"], env)
    if registry.mode != "token":
        assert result.out == b""  # basic auth or none: no token
        return
    token = result.text
    assert token.endswith("\n") and token.count(".") == 2
    _, claims = decode_jwt_unverified(token.strip())
    assert {"type": "repository", "name": repo_name, "actions": ["pull", "push"]} in [
        {**a, "actions": sorted(a["actions"])} for a in claims["access"]
    ]
    # the token alone is enough for a later command
    token_env = {k: v for k, v in env.items() if k not in ("DXF_USERNAME", "DXF_PASSWORD")}
    token_env["DXF_TOKEN"] = token.strip()
    data = b"pushed with a token"
    digest = ok(["push-blob", repo_name, str(write(tmp_path / "t", data))], token_env).text.strip()
    assert ok(["pull-blob", repo_name, digest], token_env).out == data
    # a token for pull only cannot push (and there are no credentials to get another)
    pull_only = ok(["auth", repo_name, "pull"], env).text.strip()
    fails(
        ["push-blob", repo_name, str(write(tmp_path / "t2", b"other"))],
        {**token_env, "DXF_TOKEN": pull_only},
        13,
    )


# -- multi-platform aliases ---------------------------------------------------------------------------
@dataclass
class Multi:
    blobs: dict[str, bytes]
    digests: dict[str, str]
    manifests: dict[str, str]
    manifest_digests: dict[str, str]
    index: str


@pytest.fixture
def multi(registry: RegistryProcess, repo_name: str) -> Iterator[Multi]:
    blobs = {"linux/amd64": b"amd64 payload", "linux/arm64/v8": b"arm64 payload, a bit longer"}
    platforms = {"linux/amd64": {"os": "linux", "architecture": "amd64"}}
    platforms["linux/arm64/v8"] = {"os": "linux", "architecture": "arm64", "variant": "v8"}
    with library_client(registry, repo_name) as client:
        digests, manifests, entries = {}, {}, []
        for key, data in blobs.items():
            digests[key] = client.push_blob(data=data, digest=dxf.hash_bytes(data))
            manifests[key] = client.set_alias(key.replace("/", "-"), digests[key])
            entries.append(
                {
                    "mediaType": DOCKER_MANIFEST_V2,
                    "digest": dxf.hash_bytes(manifests[key].encode()),
                    "size": len(manifests[key].encode()),
                    "platform": platforms[key],
                }
            )
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        client.set_manifest("multi", index)
    yield Multi(
        blobs, digests, manifests, {k: dxf.hash_bytes(m.encode()) for k, m in manifests.items()}, index
    )


def test_multi_platform_without_platform(
    env: dict[str, str], repo_name: str, multi: Multi, tmp_path: Path
) -> None:
    def as_json(result: Result) -> Any:
        assert len(result.lines) == 1
        return json.loads(result.text)

    by_key = {k: [d] for k, d in multi.digests.items()}
    assert as_json(ok(["get-alias", repo_name, "multi"], env)) == by_key
    assert ok(["get-alias", repo_name, "multi"], env).text == json.dumps(by_key, sort_keys=True) + "\n"
    assert as_json(ok(["get-digest", repo_name, "multi"], env)) == multi.digests
    assert as_json(ok(["blob-size", repo_name, "@multi"], env)) == {k: len(b) for k, b in multi.blobs.items()}
    assert as_json(ok(["pull-blob", repo_name, "@multi"], env)) == by_key
    assert json.loads(ok(["get-manifest", repo_name, "multi"], env).text) == multi.manifests
    # stdin: the index itself
    assert as_json(ok(["get-alias", repo_name], env, stdin=multi.index.encode())) == by_key
    usage_fails(["pull-blob", repo_name, "-o", str(tmp_path / "f"), "@multi"], env, "DXF_PLATFORM")
    assert as_json(ok(["del-alias", repo_name, "multi"], env)) == multi.manifest_digests
    fails(["get-alias", repo_name, "multi"], env, errno.ENOENT)


def test_multi_platform_with_platform(
    env: dict[str, str], repo_name: str, multi: Multi, tmp_path: Path
) -> None:
    arm = "linux/arm64/v8"
    penv = {**env, "DXF_PLATFORM": arm}
    assert ok(["get-alias", repo_name, "multi"], penv).lines == [multi.digests[arm]]
    assert ok(["get-digest", repo_name, "multi"], penv).lines == [multi.digests[arm]]
    assert ok(["blob-size", repo_name, "@multi"], penv).lines == [str(len(multi.blobs[arm]))]
    assert ok(["pull-blob", repo_name, "@multi"], penv).out == multi.blobs[arm]
    assert ok(["get-manifest", repo_name, "multi"], penv).text == multi.manifests[arm]
    assert ok(["get-alias", repo_name], penv, stdin=multi.index.encode()).lines == [multi.digests[arm]]
    out = tmp_path / "arm"
    ok(["pull-blob", repo_name, "-o", str(out), "@multi"], penv)
    assert out.read_bytes() == multi.blobs[arm]
    amd = {**env, "DXF_PLATFORM": "linux/amd64"}
    assert ok(["pull-blob", repo_name, "@multi"], amd).out == multi.blobs["linux/amd64"]
    result = fails(["get-alias", repo_name, "multi"], {**env, "DXF_PLATFORM": "windows/amd64"}, 1)
    assert "windows/amd64" in result.err
    # del-alias deletes the whole alias whatever DXF_PLATFORM says, and prints every platform
    assert json.loads(ok(["del-alias", repo_name, "multi"], penv).text) == multi.manifest_digests
    fails(["get-alias", repo_name, "multi"], penv, errno.ENOENT)
    # del-blob with DXF_PLATFORM deletes that platform's blobs only
    ok(["set-alias", repo_name, "again", multi.digests[arm]], env)
    ok(["del-blob", repo_name, "@linux-arm64-v8"], penv)
    fails(["blob-size", repo_name, multi.digests[arm]], env, errno.ENOENT)
    assert ok(["blob-size", repo_name, multi.digests["linux/amd64"]], env).lines == ["13"]


# -- credentials and authorization --------------------------------------------------------------------
AUTH_MODES = ["basic", "token"]


@pytest.fixture(params=AUTH_MODES)
def auth_registry(request: pytest.FixtureRequest) -> RegistryProcess:
    reg: RegistryProcess = request.getfixturevalue(f"registry_{request.param}")
    return reg


def test_wrong_password_exits_eacces_without_leaking(auth_registry: RegistryProcess, repo_name: str) -> None:
    env = harness_env(auth_registry)
    bad = {**env, "DXF_PASSWORD": "wrong-pass-s3cret"}
    result = fails(["list-aliases", repo_name], bad, errno.EACCES)
    assert "401" in result.err
    # no credential ever appears, not even with --debug's traceback
    secrets = {
        "DXF_PASSWORD": "pw-Zq81-secret",
        "DXF_TOKEN": "tok-Xy77-secret",
        "DXF_AUTHORIZATION": "Basic QUFBOkJCQg==",
    }
    leaky = {**env, **secrets}
    for argv in (["pull-blob", repo_name, MISSING], ["--debug", "list-aliases", repo_name]):
        result = run(argv, leaky)
        assert result.code == errno.EACCES, result.err
        for value in [*secrets.values(), base64.b64encode(f"{USERNAME}:pw-Zq81-secret".encode()).decode()]:
            assert value not in result.err
    if auth_registry.mode == "token":
        result = fails(["auth", repo_name, "pull"], bad, errno.EACCES)
        assert "wrong-pass-s3cret" not in result.err


def test_authorization_header_and_anonymous(
    auth_registry: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    env = harness_env(auth_registry)
    anon = {k: v for k, v in env.items() if k not in ("DXF_USERNAME", "DXF_PASSWORD")}
    header = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    data = b"authorized by header"
    digest = ok(
        ["push-blob", repo_name, str(write(tmp_path / "h", data))], {**anon, "DXF_AUTHORIZATION": header}
    ).text.strip()
    assert ok(["pull-blob", repo_name, digest], {**anon, "DXF_AUTHORIZATION": header}).out == data
    fails(["pull-blob", repo_name, digest], anon, errno.EACCES)


def test_token_reader_and_public_repos(
    registry_token: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    env = harness_env(registry_token)
    public = "public/" + repo_name.split("/", 1)[1]
    data = b"everyone may read this"
    f = write(tmp_path / "pub", data)
    digest = ok(["push-blob", public, str(f), "@latest"], env).text.strip()
    anon = {k: v for k, v in env.items() if k not in ("DXF_USERNAME", "DXF_PASSWORD")}
    assert ok(["pull-blob", public, "@latest"], anon).out == data
    fails(["push-blob", public, str(write(tmp_path / "pub2", b"no"))], anon, errno.EACCES)
    reader = {**env, "DXF_USERNAME": READER[0], "DXF_PASSWORD": READER[1]}
    assert ok(["pull-blob", public, digest], reader).out == data
    fails(["del-alias", public, "latest"], reader, errno.EACCES)
    fails(["push-blob", repo_name, str(f)], reader, errno.EACCES)


def test_auth_host(registry_token: RegistryProcess, repo_name: str, tmp_path: Path) -> None:
    env = harness_env(registry_token)
    assert registry_token.token_server is not None
    token_host = registry_token.token_server.url.split("://", 1)[1]
    f = write(tmp_path / "a", b"via auth host")
    ok(["push-blob", repo_name, str(f)], {**env, "DXF_AUTH_HOST": token_host})
    dead = f"127.0.0.1:{free_port()}"
    result = fails(["push-blob", repo_name, str(f)], {**env, "DXF_AUTH_HOST": dead, "DXF_RETRIES": "0"}, 1)
    assert f"cannot connect to {dead}" in result.err


# -- TLS ------------------------------------------------------------------------------------------------
def test_tls_settings(registry_basic: RegistryProcess, repo_name: str, tmp_path: Path) -> None:
    env = harness_env(registry_basic)
    assert registry_basic.ca_bundle is not None
    no_ca = {k: v for k, v in env.items() if k != "DXF_TLSVERIFY"}
    result = fails(["list-aliases", repo_name], {**no_ca, "DXF_RETRIES": "0"}, 1)
    assert "certificate verify failed" in result.err and "TLS" in result.err
    ok(["push-blob", repo_name, str(write(tmp_path / "t", b"tls")), "@t"], env)  # DXF_TLSVERIFY
    assert ok(["list-aliases", repo_name], {**no_ca, "DXF_SKIPTLSVERIFY": "1"}).code == 0
    # REQUESTS_CA_BUNDLE given to doit (not in os.environ) is honoured
    assert (
        ok(["list-aliases", repo_name], {**no_ca, "REQUESTS_CA_BUNDLE": registry_basic.ca_bundle}).code == 0
    )
    # DXF_TLSVERIFY wins over REQUESTS_CA_BUNDLE
    wrong = {
        **env,
        "DXF_TLSVERIFY": str(tmp_path / "no-such-ca.pem"),
        "REQUESTS_CA_BUNDLE": registry_basic.ca_bundle,
    }
    fails(["list-aliases", repo_name], wrong, 1)


def test_insecure_setting(
    registry_plain: RegistryProcess, registry_basic: RegistryProcess, repo_name: str
) -> None:
    plain = harness_env(registry_plain)
    assert plain["DXF_INSECURE"] == "1"
    ok(["list-repos"], plain)
    no_insecure = {k: v for k, v in plain.items() if k != "DXF_INSECURE"}
    result = fails(["list-repos"], {**no_insecure, "DXF_RETRIES": "0"}, 1)
    assert "TLS" in result.err
    # over plain HTTP we never send credentials: the auth registry refuses
    basic = {**harness_env(registry_basic), "DXF_INSECURE": "1", "DXF_RETRIES": "0"}
    fails(["list-aliases", repo_name], basic, 1)


# -- failures that never reach a registry ---------------------------------------------------------------
def test_environment_errors() -> None:
    result = fails(["list-aliases", "some/repo"], {}, 2)
    assert (
        result.err
        == "dxf: list-aliases some/repo: DXF_HOST is not set (it names the registry, e.g. localhost:5000)\n"
    )
    base = {"DXF_HOST": "127.0.0.1:1", "DXF_INSECURE": "1"}
    for key, value in (
        ("DXF_TIMEOUT", "soon"),
        ("DXF_TIMEOUT", "0"),
        ("DXF_RETRIES", "-1"),
        ("DXF_RETRIES", "x"),
    ):
        result = fails(["list-repos"], {**base, key: value}, 2)
        assert key in result.err


def test_local_and_name_errors(registry_plain: RegistryProcess, repo_name: str, tmp_path: Path) -> None:
    env = harness_env(registry_plain)
    result = fails(["push-blob", repo_name, str(tmp_path / "absent.dat")], env, 1)
    assert "No such file or directory" in result.err and "absent.dat" in result.err
    result = fails(["pull-blob", repo_name, "not-a-digest"], env, 1)
    assert "invalid digest" in result.err
    fails(["list-aliases", "Not/A/Valid/NAME"], env, 1)
    result = fails(["set-alias", repo_name, "x", str(tmp_path / "absent")], env, 1)
    assert "No such file" in result.err


class _Listener:
    """A TCP port that accepts connections and either drops them or never answers."""

    def __init__(self, answer: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.host = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._answer = answer
        self._thread: threading.Thread | None = None
        if answer:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.recv(65536)
            conn.close()  # drop the connection without an answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.sock.close()
        if self._thread is not None:
            self._thread.join(5)


def test_connection_errors_retries_and_timeout() -> None:
    refused = f"127.0.0.1:{free_port()}"
    result = fails(["list-repos"], {"DXF_HOST": refused, "DXF_INSECURE": "1", "DXF_RETRIES": "0"}, 1)
    assert result.err == f"dxf: list-repos: cannot connect to {refused}: Connection refused\n"
    dropper = _Listener(answer=True)
    try:
        fails(["list-repos"], {"DXF_HOST": dropper.host, "DXF_INSECURE": "1", "DXF_RETRIES": "0"}, 1)
        assert dropper.accepted == 1
        result = fails(["list-repos"], {"DXF_HOST": dropper.host, "DXF_INSECURE": "1", "DXF_RETRIES": "1"}, 1)
        assert dropper.accepted == 3
        assert "connection closed" in result.err
    finally:
        dropper.close()
    silent = _Listener(answer=False)  # accepted by the kernel, never answered
    try:
        started = time.monotonic()
        env = {"DXF_HOST": silent.host, "DXF_INSECURE": "1", "DXF_RETRIES": "0", "DXF_TIMEOUT": "0.3"}
        result = fails(["list-repos"], env, 1)
        assert time.monotonic() - started < 10
        assert "timed out" in result.err
    finally:
        silent.close()


def test_debug_prints_traceback() -> None:
    env = {"DXF_HOST": f"127.0.0.1:{free_port()}", "DXF_INSECURE": "1", "DXF_RETRIES": "0"}
    for argv, extra in (
        (["--debug", "list-repos"], {}),
        (["list-repos", "--debug"], {}),
        (["list-repos"], {"DXF_DEBUG": "1"}),
    ):
        result = run(argv, {**env, **extra})
        assert result.code == 1
        assert "Traceback (most recent call last)" in result.err
        assert result.err.rstrip().splitlines()[-1].startswith("dxf: list-repos: cannot connect")
    assert "Traceback" not in run(["list-repos"], env).err


def test_digest_mismatch_is_detected(registry_plain: RegistryProcess, repo_name: str, tmp_path: Path) -> None:
    """Corrupt the blob in the registry's storage: pull-blob must fail, and -o must leave no file."""
    env = harness_env(registry_plain)
    data = b"pristine content " * 100 + os.urandom(16)  # unique: blob storage is shared by repos
    digest = ok(["push-blob", repo_name, str(write(tmp_path / "good", data))], env).text.strip()
    hexpart = digest.split(":")[1]
    stored = registry_plain.storage_dir / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"
    stored.write_bytes(b"X" * len(data))
    result = fails(["pull-blob", repo_name, digest], env, 1)
    assert "does not match its digest" in result.err
    out = tmp_path / "never"
    result = fails(["pull-blob", repo_name, "-o", str(out), digest], env, 1)
    assert "does not match its digest" in result.err
    assert not out.exists() and [p for p in tmp_path.iterdir() if p.name.startswith(".dxf-")] == []
    stored.write_bytes(data)


def test_list_repos_and_aliases_all_pages(registry_plain: RegistryProcess, repo_name: str) -> None:
    """More repositories and tags than one catalog page (distribution's default is 100)."""
    env = harness_env(registry_plain)
    with library_client(registry_plain, repo_name) as client:
        digest = client.push_blob(data=b"page", digest=dxf.hash_bytes(b"page"))
        tags = [f"t{i:03d}" for i in range(105)]
        manifest = client.set_alias(tags[0], digest)
        for tag in tags[1:]:
            client.set_manifest(tag, manifest)
        repos = [f"{repo_name}-{i:03d}" for i in range(105)]
        for repo in repos:
            dxf.DXF.from_base(client, repo).mount_blob(repo_name, digest)
    assert sorted(ok(["list-aliases", repo_name], env).lines) == tags
    listed = set(ok(["list-repos"], env).lines)
    assert set(repos) <= listed


# -- the installed script ------------------------------------------------------------------------------
def child_env(registry: RegistryProcess | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXF_")}
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    if registry is not None:
        env.update(harness_env(registry))
    return env


def test_script_version_and_help() -> None:
    version = subprocess.run([str(DXF_SCRIPT), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout == f"dxf {dxf.__version__}\n"
    helped = subprocess.run(
        [sys.executable, "-m", "dxf", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("push-blob", "pull-blob", "list-repos", "DXF_HOST", "DXF_PLATFORM", "exit status"):
        assert command in helped.stdout
    bare = subprocess.run([str(DXF_SCRIPT)], capture_output=True, text=True, env=child_env(None))
    assert bare.returncode == 2 and "push-blob" in bare.stderr


def test_script_roundtrip_and_no_traceback(registry: RegistryProcess, repo_name: str) -> None:
    env = child_env(registry)
    data = os.urandom(70_000)
    pushed = subprocess.run(
        [str(DXF_SCRIPT), "push-blob", repo_name, "-", "@piped"], input=data, capture_output=True, env=env
    )
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.decode() == sha256(data) + "\n"
    pulled = subprocess.run(
        [sys.executable, "-m", "dxf", "pull-blob", repo_name, "@piped"], capture_output=True, env=env
    )
    assert pulled.returncode == 0 and pulled.stdout == data
    missing = subprocess.run(
        [str(DXF_SCRIPT), "pull-blob", repo_name, MISSING], capture_output=True, text=True, env=env
    )
    assert missing.returncode == errno.ENOENT
    assert missing.stdout == ""
    assert missing.stderr.startswith(f"dxf: pull-blob {repo_name} sha256:000000000000…: 404 Not Found")
    assert missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr


README_EXAMPLE = """\
dxf push-blob fred/datalogger logger.dat @may15-readings
dxf pull-blob fred/datalogger @may15-readings
dxf set-alias fred/datalogger may15-readings $(dxf push-blob fred/datalogger logger.dat)
dxf pull-blob fred/datalogger $(dxf get-alias fred/datalogger may15-readings)
"""


def test_readme_shell_example(registry: RegistryProcess, repo_name: str, tmp_path: Path) -> None:
    data = b"15 May readings: 21.5C 22.1C 19.8C\n"
    (tmp_path / "logger.dat").write_bytes(data)
    script = README_EXAMPLE.replace("fred/datalogger", repo_name)
    bash = shutil.which("bash")
    assert bash is not None
    done = subprocess.run(
        [bash, "-e", "-c", script], cwd=tmp_path, capture_output=True, env=child_env(registry)
    )
    assert done.returncode == 0, done.stderr
    digest = sha256(data)
    manifest = json.loads(done.stdout[len(digest) + 1 + len(data) : -len(data)])
    assert done.stdout.startswith(f"{digest}\n".encode() + data)
    assert done.stdout.endswith(data)
    assert [layer["digest"] for layer in manifest["layers"]] == [digest]
