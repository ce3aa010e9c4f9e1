"""The command line's contract against real registries: python-dxf's ``doit`` statuses and exceptions,
one clear line from the command for every other failure, signals, closed or broken standard streams,
arguments and environment checked before anything is sent.

In-process tests use :func:`dxf.main.doit` (python-dxf's contract) or the ``run``/``fails`` helpers of
``test_cli`` (:func:`dxf.main.run_command`, what the command does); signal, pipe and closed-stream tests
run the installed ``dxf`` script as a child process. Transfers are held in flight with the fault proxy's
stall, and the tests wait for what they can observe (bytes in the output directory, the proxy's stall
counter), never for a fixed time.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from test_cli import DXF_SCRIPT, MISSING, child_env, fails, library_client, ok, run, sha256, write

import dxf
from dxf import exceptions as ex
from dxf.main import ConfigError, doit
from harness.command import wait_for
from harness.figures import Record
from harness.proxy import FaultProxy
from harness.registry import RegistryProcess, free_port, harness_env

MiB = 1024 * 1024
pytestmark = pytest.mark.usefixtures("clean_dxf_environment")


@pytest.fixture
def env(registry_plain: RegistryProcess) -> dict[str, str]:
    return harness_env(registry_plain)


@pytest.fixture
def big_blob(registry_plain: RegistryProcess, repo_name: str) -> tuple[str, bytes]:
    """An 8 MiB blob in ``repo_name`` on the plain registry."""
    data = os.urandom(8 * MiB)
    with library_client(registry_plain, repo_name) as client:
        return client.push_blob(data=data, digest=dxf.hash_bytes(data)), data


def _bytes_in(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


# -- 1. python-dxf's doit contract --------------------------------------------------------------------
def test_doit_returns_python_dxf_statuses(
    registry_basic: RegistryProcess, repo_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = harness_env(registry_basic)
    assert doit(["push-blob", repo_name, str(write(tmp_path / "f", b"doit"))], env) == 0
    assert capsys.readouterr().out == sha256(b"doit") + "\n"
    assert doit(["blob-size", repo_name, MISSING], env) == errno.ENOENT
    err = capsys.readouterr().err
    assert err.startswith(f"dxf: blob-size {repo_name} sha256:000000000000…: 404") and err.count("\n") == 1
    assert doit(["get-alias", repo_name, "nosuchalias"], env) == errno.ENOENT
    capsys.readouterr()
    assert doit(["list-aliases", repo_name], {**env, "DXF_PASSWORD": "wrong"}) == errno.EACCES
    err = capsys.readouterr().err
    assert "401" in err and err.count("\n") == 1 and "wrong" not in err


def test_doit_raises_what_python_dxf_raised(
    registry_plain: RegistryProcess, registry_basic: RegistryProcess, repo_name: str, tmp_path: Path
) -> None:
    plain = {**harness_env(registry_plain), "DXF_RETRIES": "0"}
    refused = {"DXF_HOST": f"127.0.0.1:{free_port()}", "DXF_INSECURE": "1", "DXF_RETRIES": "0"}
    with pytest.raises(requests.exceptions.ConnectionError):
        doit(["list-repos"], refused)
    https_to_plain = {k: v for k, v in plain.items() if k != "DXF_INSECURE"}
    with pytest.raises(requests.exceptions.SSLError):
        doit(["list-repos"], https_to_plain)
    http_to_https = {**harness_env(registry_basic), "DXF_INSECURE": "1", "DXF_RETRIES": "0"}
    with pytest.raises(requests.exceptions.HTTPError) as http_error:
        doit(["list-aliases", repo_name], http_to_https)
    assert http_error.value.response is not None and http_error.value.response.status_code == 400
    data = os.urandom(1000)
    digest = ok(["push-blob", repo_name, str(write(tmp_path / "m", data))], plain).text.strip()
    with pytest.raises(ex.DXFMountFailed):
        doit(["mount-blob", repo_name + "-to", repo_name + "-never", digest], plain)
    hexpart = digest.split(":")[1]
    stored = registry_plain.storage_dir / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"
    stored.write_bytes(b"X" * len(data))
    with pytest.raises(ex.DXFDigestMismatchError):
        doit(["pull-blob", repo_name, digest], plain)
    with pytest.raises(ex.DXFInvalidReferenceError):
        doit(["pull-blob", repo_name, "not-a-digest"], plain)
    with pytest.raises(ConfigError):  # ours; python-dxf raised KeyError('DXF_HOST')
        doit(["list-repos"], {})
    # the command turns each of them into one line and a status
    fails(["list-repos"], refused, 1)
    fails(["pull-blob", repo_name, digest], plain, 1)
    fails(["list-repos"], {}, 2)


# -- 3. SIGTERM and SIGHUP clean up like Ctrl-C ----------------------------------------------------------
def _pull_held_in_flight(
    proxy: FaultProxy, repo: str, digest: str, out_dir: Path, *extra: str
) -> subprocess.Popen[bytes]:
    """``dxf pull-blob -o`` through the proxy, held after 3 MiB; returns once bytes are on disk."""
    env = {**child_env(None), "DXF_HOST": proxy.host, "DXF_INSECURE": "1", "DXF_RETRIES": "0"}
    proxy.stall_after(3 * MiB)
    child = subprocess.Popen(
        [str(DXF_SCRIPT), "pull-blob", repo, digest, "-o", str(out_dir / "blob"), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for(lambda: (proxy.stalls == 1 and _bytes_in(out_dir) > 0) or child.poll() is not None, "bytes")
    assert child.poll() is None, child.communicate()
    return child


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_mid_download_leaves_no_temporary_file(
    proxy: FaultProxy, big_blob: tuple[str, bytes], repo_name: str, tmp_path: Path, signum: int
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    child = _pull_held_in_flight(proxy, repo_name, big_blob[0], out_dir)
    child.send_signal(signum)
    out, err = child.communicate(timeout=30)
    assert os.listdir(out_dir) == []  # no temporary file left behind
    assert child.returncode == 128 + signum, err
    assert err.decode() == (
        f"dxf: pull-blob {repo_name} {big_blob[0][:19]}…: terminated by {signal.Signals(signum).name}\n"
    )
    assert out == b""


def test_sigterm_keeps_the_resumable_part(
    proxy: FaultProxy, big_blob: tuple[str, bytes], repo_name: str, tmp_path: Path, record_property: Record
) -> None:
    digest, data = big_blob
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    child = _pull_held_in_flight(proxy, repo_name, digest, out_dir, "--resume")
    received = _bytes_in(out_dir)
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=30)
    assert child.returncode == 128 + signal.SIGTERM
    kept = os.listdir(out_dir)
    assert len(kept) == 1 and kept != ["blob"]  # the part file, kept for the next run
    assert (out_dir / kept[0]).stat().st_size >= received > 0
    proxy.reset_faults()
    env = {**child_env(None), "DXF_HOST": proxy.host, "DXF_INSECURE": "1"}
    done = subprocess.run(
        [str(DXF_SCRIPT), "pull-blob", repo_name, digest, "-o", str(out_dir / "blob"), "--resume"],
        env=env,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr
    assert os.listdir(out_dir) == ["blob"] and (out_dir / "blob").read_bytes() == data
    record_property("kept for the next run", f"{received / MiB:.1f} MiB")


# -- 6/7. closed and broken standard output -------------------------------------------------------------
def test_closed_stdout_is_one_line(registry_plain: RegistryProcess, repo_name: str, tmp_path: Path) -> None:
    env = child_env(registry_plain)
    ok(["push-blob", repo_name, str(write(tmp_path / "c", b"closed")), "@c"], harness_env(registry_plain))
    bash = shutil.which("bash")
    assert bash is not None
    done = subprocess.run(
        [bash, "-c", f'"{DXF_SCRIPT}" get-alias {repo_name} c >&-'], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr == f"dxf: get-alias {repo_name} c: standard output is closed\n"


def test_reader_going_away_is_quiet(
    registry_plain: RegistryProcess, big_blob: tuple[str, bytes], repo_name: str, tmp_path: Path
) -> None:
    """``dxf pull-blob ... | head -c 10``: no "Broken pipe" line, status 128 + SIGPIPE."""
    bash = shutil.which("bash")
    assert bash is not None
    err_file = tmp_path / "err"
    script = (
        f'"{DXF_SCRIPT}" pull-blob {repo_name} {big_blob[0]} 2>"{err_file}" | head -c 10 >/dev/null;'
        " echo ${PIPESTATUS[0]}"
    )
    done = subprocess.run([bash, "-c", script], env=child_env(registry_plain), capture_output=True, text=True)
    assert done.stdout.strip() == str(128 + signal.SIGPIPE), done.stderr
    assert err_file.read_text() == ""


# -- 4. DXF_HOST and DXF_AUTH_HOST ------------------------------------------------------------------------
def test_host_with_credentials_is_refused_before_any_request(registry_basic: RegistryProcess) -> None:
    env = harness_env(registry_basic)
    for key in ("DXF_HOST", "DXF_AUTH_HOST"):
        sneaky = {**env, key: f"fred:pw-in-host-77@{registry_basic.host}"}
        result = fails(["list-repos"], sneaky, 2)
        assert result.err.startswith(f"dxf: list-repos: {key} must be host[:port], e.g. localhost:5000")
        assert "pw-in-host-77" not in result.err and "fred" not in result.err
    for bad in (f"https://{registry_basic.host}", f"{registry_basic.host}/v2", "localhost:99999", "::1"):
        assert "host[:port]" in fails(["list-repos"], {**env, "DXF_HOST": bad}, 2).err


# -- 5. hostile error bodies ------------------------------------------------------------------------------
def test_registry_error_text_is_escaped_and_truncated(proxy: FaultProxy, repo_name: str) -> None:
    # within dxf.limits.MAX_ERROR_BODY_SIZE (past it the line is the status alone: see
    # test_hostile_error_bodies.py), so the message is read, escaped and cut short
    body = json.dumps(
        {"errors": [{"code": "X", "message": "\x1b[2J\x1b]0;owned\x07" + "A" * (60 * 1024)}]}
    ).encode()
    proxy.inject_status(500, body=body)
    env = {"DXF_HOST": proxy.host, "DXF_INSECURE": "1", "DXF_RETRIES": "0"}
    result = fails(["get-alias", repo_name, "x"], env, 1)
    assert "\x1b" not in result.err and "\x07" not in result.err
    assert "500 Internal Server Error (\\x1b[2J\\x1b]0;owned\\x07AAA" in result.err
    assert len(result.err) < 1000


# -- 6. one clear line instead of a traceback --------------------------------------------------------------
def test_no_internal_errors(env: dict[str, str], repo_name: str) -> None:
    result = fails(["pull-blob", repo_name, "@"], env, 1)
    assert "invalid tag ''" in result.err
    for value in ("inf", "1e12", "nan"):
        result = fails(["list-repos"], {**env, "DXF_TIMEOUT": value}, 2)
        assert "DXF_TIMEOUT must be" in result.err


def test_body_cut_short_says_so(proxy: FaultProxy, big_blob: tuple[str, bytes], repo_name: str) -> None:
    env = {"DXF_HOST": proxy.host, "DXF_INSECURE": "1", "DXF_RETRIES": "0"}
    proxy.cut_after(2 * MiB, "downstream")
    result = fails(["pull-blob", repo_name, big_blob[0]], env, 1)
    assert f"connection to {proxy.host} closed by the server before" in result.err
    assert "IncompleteRead" not in result.err and "ChunkedEncodingError" not in result.err


# -- 7. messages that say what to do ----------------------------------------------------------------------
def test_insecure_mismatches_say_what_to_change(
    registry_plain: RegistryProcess, registry_basic: RegistryProcess, repo_name: str
) -> None:
    plain = {k: v for k, v in harness_env(registry_plain).items() if k != "DXF_INSECURE"}
    result = fails(["list-repos"], {**plain, "DXF_RETRIES": "0"}, 1)
    assert "DXF_INSECURE=1" in result.err and "plain HTTP" in result.err
    https = {**harness_env(registry_basic), "DXF_INSECURE": "1", "DXF_RETRIES": "0"}
    result = fails(["list-aliases", repo_name], https, 1)
    assert result.err.endswith(": 400 Bad Request: the registry speaks HTTPS (unset DXF_INSECURE)\n")


def test_stalled_read_says_timed_out(proxy: FaultProxy, big_blob: tuple[str, bytes], repo_name: str) -> None:
    env = {"DXF_HOST": proxy.host, "DXF_INSECURE": "1", "DXF_RETRIES": "0", "DXF_TIMEOUT": "0.5"}
    proxy.stall_after(1 * MiB)
    result = fails(["pull-blob", repo_name, big_blob[0]], env, 1)
    assert result.err.endswith(f": timed out waiting for data from {proxy.host} (see DXF_TIMEOUT)\n")


def test_output_dir_that_is_a_file(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    digest = ok(["push-blob", repo_name, str(write(tmp_path / "b", b"dir"))], env).text.strip()
    not_dir = write(tmp_path / "file", b"in the way")
    result = fails(["pull-blobs", repo_name, "--output-dir", str(not_dir), digest], env, 1)
    assert result.err.endswith(f"{not_dir}: not a directory\n")
    assert not_dir.read_bytes() == b"in the way"


# -- 8. every argument checked before any transfer; one line per argument; yes/no spellings -------------
def test_bad_alias_fails_before_the_upload(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    data = os.urandom(MiB)
    result = fails(["push-blob", repo_name, str(write(tmp_path / "big.dat", data)), "@bad/x"], env, 1)
    assert "invalid tag 'bad/x'" in result.err
    fails(["blob-size", repo_name, sha256(data)], env, errno.ENOENT)  # nothing was uploaded
    result = fails(["push-blobs", repo_name, "@bad/x", str(tmp_path / "big.dat")], env, 1)
    fails(["blob-size", repo_name, sha256(data)], env, errno.ENOENT)


def test_pull_blobs_prints_one_line_per_argument(env: dict[str, str], repo_name: str, tmp_path: Path) -> None:
    a = ok(["push-blob", repo_name, str(write(tmp_path / "a", b"first"))], env).text.strip()
    b = ok(["push-blob", repo_name, str(write(tmp_path / "b", b"second"))], env).text.strip()
    out = tmp_path / "out"
    lines = ok(["pull-blobs", repo_name, "--output-dir", str(out), a, b, a, a], env).lines
    path_a, path_b = (str(out / d.replace(":", "-")) for d in (a, b))
    assert lines == [path_a, path_b, path_a, path_a]
    assert sorted(os.listdir(out)) == sorted(os.path.basename(p) for p in (path_a, path_b))


def test_boolean_spellings(registry_plain: RegistryProcess, repo_name: str, tmp_path: Path) -> None:
    env = {**harness_env(registry_plain), "DXF_INSECURE": "True"}
    data = b"spelt out"
    digest = ok(["push-blob", repo_name, str(write(tmp_path / "s", data))], env).text.strip()
    assert ok(["pull-blob", repo_name, digest], {**env, "DXF_BLOB_INFO": "yes"}).out == (
        f"{digest} {len(data)}\n".encode() + data
    )
    assert ok(["pull-blob", repo_name, digest], {**env, "DXF_BLOB_INFO": "off"}).out == data
    for key in ("DXF_INSECURE", "DXF_SKIPTLSVERIFY", "DXF_BLOB_INFO"):
        result = fails(["pull-blob", repo_name, digest], {**env, key: "maybe"}, 2)
        assert f"{key} must be 1/0, true/false, yes/no or on/off, not 'maybe'" in result.err


# -- 9. a manifest on standard input is capped ---------------------------------------------------------------
def test_stdin_manifest_is_capped(env: dict[str, str], repo_name: str) -> None:
    huge = b" " * (4 * MiB) + b"{}"
    for command in ("get-alias", "pull-blob", "blob-size", "get-digest", "del-blob"):
        result = fails([command, repo_name], env, 1, stdin=huge)
        assert result.err.endswith(": manifest on standard input is larger than 4 MiB\n")
    assert "not valid JSON" in run(["get-alias", repo_name], env, stdin=b" " * (4 * MiB - 1) + b"x").err


def test_stdin_manifest_memory_is_bounded(
    registry_plain: RegistryProcess, repo_name: str, record_property: Record
) -> None:
    """256 MiB piped in: the command stops reading after 4 MiB + 1 byte."""
    env = child_env(registry_plain)
    child = subprocess.Popen(
        [sys.executable, "-c", _RSS_PROBE, str(DXF_SCRIPT), "get-alias", repo_name],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdin is not None
    written = 0
    try:
        while written < 256 * MiB:
            child.stdin.write(b"\0" * MiB)
            written += MiB
    except BrokenPipeError:
        pass
    out, err = child.communicate(timeout=60)
    assert written < 64 * MiB  # the reader went away long before the end
    assert b"larger than 4 MiB" in err
    assert int(out) < 150 * 1024  # KiB of peak RSS (the interpreter and libraries take ~50 MiB)
    record_property("piped before refusal", f"{written // MiB} of 256 MiB")
    record_property("peak RSS", f"{int(out) / 1024:.0f} MiB")


#: Runs the command given in argv as a child and prints its peak RSS in KiB (ru_maxrss).
_RSS_PROBE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
