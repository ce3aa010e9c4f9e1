"""``make bench``: time our ``dxf`` against curl and python-dxf 12.1.1 on a local registry.

Everything runs in one go: python-dxf 12.1.1 gets its own venv (``bench/.work/pydxf-venv``), a
plain-HTTP ``docker-registry`` is started with the test harness on fresh storage, a random file is
generated (and kept for the next run of the same size), and each operation is run ``--repeat`` times as
a fresh process. Reported: the median wall time, its ratio to the operation's anchor, CPU time (the
process's and the registry's) and the peak RSS of the measured process (the largest over the runs).
See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness.proxy import FaultProxy  # noqa: E402
from tests.harness.registry import (  # noqa: E402
    PASSWORD,
    USERNAME,
    RegistryProcess,
    S3Storage,
    harness_env,
    start_registry,
)

WORK = ROOT / "bench" / ".work"
PYDXF_VENV = WORK / "pydxf-venv"
PYDXF_VERSION = "12.1.1"
SMALL_SCRIPT = ROOT / "bench" / "smallblobs.py"
ITERATE_SCRIPT = ROOT / "bench" / "iterate.py"
ORAS_SCRIPT = ROOT / "bench" / "oras_side.py"
ARTIFACT_FILES = 100
ARTIFACT_FILE_SIZE = 64 * 1024
TIME_BIN = "/usr/bin/time"
MIB = 1024 * 1024
SMALL_SIZE = 4096
ALIAS_COUNT = 5
JOBS = 4
#: Largest file curl is asked to ``--data-binary @file`` (it loads the file into memory).
DATA_BINARY_MAX = 512 * MIB
#: curl's monolithic PUT; ``Expect:`` off so a large body is not held back waiting for ``100 Continue``.
CURL_PUT = ["curl", "-s", "-f", "-X", "PUT", "-H", "Content-Type: application/octet-stream", "-H", "Expect:"]

# Targets (see README): thresholds on the ratios printed in the table.
PUSH_MAX_RATIO = 1.05
PULL_MAX_RATIO = 1.2
PULL_MIN_SPEEDUP = 2.0
RSS_MAX_MIB = 48.0
SMALL_MIN_SPEEDUP = 5.0


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- measuring one process ---------------------------------------------------------------------------


@dataclass
class Sample:
    """One run of one process: wall seconds (parent's monotonic clock), its peak RSS in KiB and the CPU
    seconds (user + system) it used."""

    wall: float
    rss_kib: int
    cpu: float = 0.0
    registry_cpu: float | None = None  # CPU seconds the registry used meanwhile
    stdout: bytes = field(default=b"", repr=False)


class CommandFailed(RuntimeError):
    pass


def _read_time_file(path: Path) -> tuple[int, float]:
    """Peak RSS (KiB) and CPU seconds from ``/usr/bin/time -f '%e %M %U %S' -o path``: its last line
    (earlier lines may be "Command exited with non-zero status")."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    _, rss, user, system = lines[-1].split()
    return int(rss), float(user) + float(system)


def process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) process ``pid`` has used so far, from ``/proc``; ``None`` if unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_measured(
    cmd: Sequence[str], env: dict[str, str], stdout_path: Path | None = None, watch: int | None = None
) -> Sample:
    """Run ``cmd`` once as a fresh process and measure it.

    Peak RSS (and CPU time) come from ``/usr/bin/time -f '%e %M %U %S'`` when it exists, else from
    ``os.wait4`` on the child (its own ``ru_maxrss``, not the cumulative ``RUSAGE_CHILDREN``); either
    way it is per run. Wall time is taken around the whole process, start to exit, with
    ``time.perf_counter`` (finer than ``%e``).
    ``stdout`` goes to ``stdout_path`` or is captured (small outputs only). ``watch``: the registry's
    PID, whose CPU time during the run is recorded too.
    """
    use_time = os.access(TIME_BIN, os.X_OK)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-run-")))
        time_file = tmp / "time"
        err_path = tmp / "stderr"
        out_path = stdout_path if stdout_path is not None else tmp / "stdout"
        out: BinaryIO = stack.enter_context(open(out_path, "wb"))
        err: BinaryIO = stack.enter_context(open(err_path, "wb"))
        argv = [TIME_BIN, "-f", "%e %M %U %S", "-o", str(time_file), "--", *cmd] if use_time else list(cmd)
        watched = process_cpu(watch)
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        if use_time:
            code = proc.wait()
            wall = time.perf_counter() - start
        else:
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            code = proc.returncode = os.waitstatus_to_exitcode(status)
        out.close()
        err.close()
        if code != 0:
            tail = err_path.read_bytes()[-2000:].decode("utf-8", "replace")
            raise CommandFailed(f"{Path(cmd[0]).name} {cmd[1]} exited with {code}: {tail.strip()}")
        if use_time:
            rss, cpu = _read_time_file(time_file)
        else:
            rss, cpu = int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime
        captured = out_path.read_bytes() if stdout_path is None else b""
        watched_end = process_cpu(watch)
        registry_cpu = None if watched is None or watched_end is None else watched_end - watched
        return Sample(wall, rss, cpu, registry_cpu, captured)


# -- talking to the registry directly (setup, cleanup, checks) ----------------------------------------


class Registry:
    """Minimal plain-HTTP client for what the bench itself needs (not what it measures)."""

    def __init__(self, proc: RegistryProcess) -> None:
        self.url = proc.url
        self.host = proc.host

    def request(
        self, method: str, path_or_url: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(urljoin(self.url + "/", path_or_url))
        conn = http.client.HTTPConnection(parts.netloc, timeout=60)
        try:
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request(method, target, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def start_upload(self, repo: str) -> str:
        """POST an upload session; the absolute Location URL to PUT to."""
        status, headers, data = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        if status != 202:
            raise RuntimeError(f"POST upload for {repo}: {status} {data[:200]!r}")
        return urljoin(self.url + "/", headers["location"])

    def blob_status(self, repo: str, digest: str) -> int:
        return self.request("HEAD", f"/v2/{repo}/blobs/{digest}")[0]

    def delete_blob(self, repo: str, digest: str) -> None:
        """Unlink the blob from ``repo`` (the bytes stay in the store) and check HEAD now says 404."""
        status = self.request("DELETE", f"/v2/{repo}/blobs/{digest}")[0]
        if status not in (202, 404):
            raise RuntimeError(f"DELETE {repo}@{digest}: {status}")
        if self.blob_status(repo, digest) != 404:
            raise RuntimeError(f"{repo}@{digest} still there after DELETE")


def with_digest(location: str, digest: str) -> str:
    """``location`` with ``digest=`` added (Location often carries ``?_state=...`` already)."""
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


# -- preparation -----------------------------------------------------------------------------------------


def ensure_pydxf_venv() -> Path:
    """python-dxf 12.1.1 in its own venv (reused when it already has that version); its ``bin``."""
    bin_dir = PYDXF_VENV / "bin"
    probe = [str(bin_dir / "python"), "-c", "import importlib.metadata as m; print(m.version('python-dxf'))"]
    if (bin_dir / "dxf").exists():
        found = subprocess.run(probe, capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip() == PYDXF_VERSION:
            return bin_dir
    log(f"creating {PYDXF_VENV} with python-dxf=={PYDXF_VERSION}")
    shutil.rmtree(PYDXF_VENV, ignore_errors=True)
    python = shutil.which("python3") or sys.executable
    subprocess.run([python, "-m", "venv", str(PYDXF_VENV)], check=True)
    subprocess.run(
        [
            str(bin_dir / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            f"python-dxf=={PYDXF_VERSION}",
        ],
        check=True,
    )
    return bin_dir


def our_dxf() -> Path:
    for candidate in (Path(sys.executable).with_name("dxf"), ROOT / ".venv" / "bin" / "dxf"):
        if candidate.exists():
            return candidate
    raise SystemExit("our dxf CLI not found next to this Python nor in .venv/bin (run `make bench`)")


def big_file(size_mib: int) -> tuple[Path, str]:
    """The random test file (kept between runs of the same size), read once to warm the page cache;
    returns it and its digest."""
    path = WORK / f"blob-{size_mib}MiB.bin"
    if not path.exists() or path.stat().st_size != size_mib * MIB:
        log(f"generating {path} ({size_mib} MiB of random bytes)")
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            for _ in range(size_mib):
                out.write(os.urandom(MIB))
        tmp.replace(path)
    log(f"reading {path.name} to warm the page cache and hash it")
    return path, sha256_file(path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(4 * MIB):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def settle() -> None:
    """Flush dirty pages (previous runs' writes) so background writeback does not land in a timed run."""
    os.sync()


# -- results -----------------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    # "push", "pull", "iter", "small-push", "small-pull", "list-aliases", "artifact-push", "artifact-pull",
    # "copy-rr", "copy-rl", "copy-many"
    group: str
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None
    units: int = 0  # bytes (big blob) or blobs (small) moved per run, for throughput
    timing: str = "process"  # "process": start to exit; "in-script": the library calls only
    skipped: str | None = None  # why it was not run (not a failure)
    informational: bool = False  # shown for context; a failure does not fail the bench

    @property
    def ok(self) -> bool:
        return self.error is None and self.skipped is None and bool(self.samples)

    @property
    def cpu(self) -> float | None:
        """Median CPU seconds of the process; ``None`` for in-script timings (CPU covers more)."""
        return None if self.timing != "process" else statistics.median(s.cpu for s in self.samples)

    @property
    def registry_cpu(self) -> float | None:
        """Median CPU seconds the registry used during the runs (``None``: unknown)."""
        values = [s.registry_cpu for s in self.samples if s.registry_cpu is not None]
        if not values or len(values) != len(self.samples):
            return None
        return statistics.median(values)

    @property
    def median(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def rss_mib(self) -> float:
        return max(s.rss_kib for s in self.samples) / 1024

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "group": self.group,
            "error": self.error,
            "skipped": self.skipped,
            "timing": self.timing,
        }
        if self.samples:
            data.update(
                wall_s=[round(s.wall, 4) for s in self.samples],
                cpu_s=[round(s.cpu, 3) for s in self.samples],
                registry_cpu_s=[
                    None if s.registry_cpu is None else round(s.registry_cpu, 3) for s in self.samples
                ],
                rss_kib=[s.rss_kib for s in self.samples],
                median_s=round(self.median, 4),
                peak_rss_mib=round(self.rss_mib, 1),
            )
        return data


def round_robin(results: list[Result], repeat: int, runs: list[Callable[[int], Sample]]) -> None:
    """Run each operation once per round, ``repeat`` rounds, so drift hits all of them alike.

    Round ``i`` starts at operation ``i`` (rotation): each operation runs in every position, not always
    right after the same neighbour (on this VM a run after another's 1 GiB file was freed can pay for
    page faults the previous position did not).
    """
    failed: set[int] = set()
    count = len(results)
    for i in range(repeat):
        for index in [(i + k) % count for k in range(count)]:
            result, one_run = results[index], runs[index]
            if index in failed or result.skipped:
                continue
            try:
                result.samples.append(one_run(i))
            except (CommandFailed, RuntimeError, OSError, ValueError) as error:
                result.error = str(error)[:600]
                result.samples.clear()
                failed.add(index)
                log(f"{result.name}: FAILED: {result.error}")
    for result in results:
        if result.ok:
            walls = ", ".join(f"{s.wall:.3f}" for s in result.samples)
            log(f"{result.name}: median {result.median:.3f} s [{walls}], peak RSS {result.rss_mib:.1f} MiB")


# -- the benchmarks -----------------------------------------------------------------------------------------


@dataclass
class Setup:
    reg: Registry
    env: dict[str, str]
    ours: Path
    theirs: Path  # python-dxf's bin dir
    file: Path
    digest: str
    size: int
    out_dir: Path
    reg_pid: int | None = None
    #: ``--baseline``: the ``src`` directory of another dxf, run by the same command for before/after rows.
    baseline: Path | None = None

    def baseline_env(self) -> dict[str, str]:
        """The tools' environment with the baseline's sources first on the import path: our console
        script then runs the baseline's ``dxf.main`` (the editable install only appends ``src``)."""
        assert self.baseline is not None
        return {**self.env, "PYTHONPATH": str(self.baseline)}


def bench_pushes(s: Setup, repeat: int) -> list[Result]:
    names = {
        "curl": "bench/push-curl",
        "curl-T": "bench/push-curl-t",
        "dxf": "bench/push-dxf",
        "pydxf": "bench/push-pydxf",
    }
    # One push first so every timed run finds the bytes already in the store (the registry then only
    # skips the final rename; each timed PUT still sends and hashes every byte).
    warm_push_with_curl_to(s, "bench/warmup")

    def curl_put(repo: str, upload_file: bool) -> Callable[[int], Sample]:
        def run(_: int) -> Sample:
            s.reg.delete_blob(repo, s.digest)
            location = s.reg.start_upload(repo)
            body = ["-T", str(s.file)] if upload_file else ["--data-binary", f"@{s.file}"]
            cmd = [*CURL_PUT, *body, with_digest(location, s.digest)]
            settle()
            sample = run_measured(cmd, s.env, watch=s.reg_pid)
            check_pushed(s, repo)
            return sample

        return run

    def cli_push(bin_path: Path, repo: str) -> Callable[[int], Sample]:
        def run(_: int) -> Sample:
            s.reg.delete_blob(repo, s.digest)
            settle()
            sample = run_measured([str(bin_path), "push-blob", repo, str(s.file)], s.env, watch=s.reg_pid)
            printed = sample.stdout.decode().strip()
            if printed != s.digest:
                raise RuntimeError(f"push-blob printed {printed!r}, expected {s.digest}")
            check_pushed(s, repo)
            return sample

        return run

    results = [
        Result("curl PUT --data-binary @file", "push", units=s.size, informational=True),
        Result("curl PUT -T file (streamed)", "push", units=s.size),
        Result("dxf push-blob", "push", units=s.size),
        Result("python-dxf push-blob", "push", units=s.size),
    ]
    if s.size > DATA_BINARY_MAX:
        results[0].skipped = (
            f"skipped above {DATA_BINARY_MAX // MIB} MiB: curl reads the whole file into memory for "
            "--data-binary and gives up ('out of memory') at 1 GiB; -T streams it"
        )
    runs = [
        curl_put(names["curl"], upload_file=False),
        curl_put(names["curl-T"], upload_file=True),
        cli_push(s.ours, names["dxf"]),
        cli_push(s.theirs / "dxf", names["pydxf"]),
    ]
    round_robin(results, repeat, runs)
    return results


def check_pushed(s: Setup, repo: str) -> None:
    if s.reg.blob_status(repo, s.digest) != 200:
        raise RuntimeError(f"{repo}@{s.digest} missing after the push")


def bench_pulls(s: Setup, repeat: int) -> list[Result]:
    repo = "bench/pull"
    if s.reg.blob_status(repo, s.digest) != 200:
        warm_push_with_curl_to(s, repo)
    url = f"{s.reg.url}/v2/{repo}/blobs/{s.digest}"
    hashed: set[str] = set()

    def pull(
        name: str, cmd: list[str], to_stdout: bool, env: dict[str, str] | None = None
    ) -> Callable[[int], Sample]:
        def run(_: int) -> Sample:
            out = s.out_dir / f"pull-{name}.bin"
            out.unlink(missing_ok=True)
            settle()
            full = cmd if to_stdout else [*cmd, str(out)]
            sample = run_measured(full, env or s.env, stdout_path=out if to_stdout else None, watch=s.reg_pid)
            size = out.stat().st_size
            if size != s.size:
                raise RuntimeError(f"{name}: wrote {size} bytes, expected {s.size}")
            if name not in hashed:  # once per tool, outside the timing
                found = sha256_file(out)
                if found != s.digest:
                    raise RuntimeError(f"{name}: wrote {found}, expected {s.digest}")
                hashed.add(name)
            out.unlink()
            return sample

        return run

    results = [
        Result("curl GET -o file", "pull", units=s.size),
        Result("curl GET -o file && sha256sum file", "pull", units=s.size, informational=True),
        Result("dxf pull-blob -o file", "pull", units=s.size),
        Result("dxf pull-blob -o file --connections 1", "pull", units=s.size, informational=True),
        Result("dxf pull-blob > file", "pull", units=s.size),
        Result("python-dxf pull-blob > file", "pull", units=s.size),
    ]
    runs = [
        pull("curl", ["curl", "-s", "-f", url, "-o"], to_stdout=False),
        pull("curl-sha", ["sh", "-c", CURL_THEN_HASH, "sh", url], to_stdout=False),
        pull("dxf-o", [str(s.ours), "pull-blob", repo, s.digest, "-o"], to_stdout=False),
        pull(
            "dxf-o1", [str(s.ours), "pull-blob", repo, s.digest, "--connections", "1", "-o"], to_stdout=False
        ),
        pull("dxf-stdout", [str(s.ours), "pull-blob", repo, s.digest], to_stdout=True),
        pull("pydxf-stdout", [str(s.theirs / "dxf"), "pull-blob", repo, s.digest], to_stdout=True),
    ]
    if s.baseline is not None:
        before = s.baseline_env()
        subprocess.run([str(s.ours), "--version"], env=before, capture_output=True, check=True)  # bytecode
        results += [
            Result("baseline dxf pull-blob -o file", "pull", units=s.size, informational=True),
            Result("baseline dxf pull-blob > file", "pull", units=s.size, informational=True),
        ]
        runs += [
            pull("base-o", [str(s.ours), "pull-blob", repo, s.digest, "-o"], to_stdout=False, env=before),
            pull("base-stdout", [str(s.ours), "pull-blob", repo, s.digest], to_stdout=True, env=before),
        ]
    round_robin(results, repeat, runs)
    return results


class PullRun(Protocol):
    def __call__(self, name: str, cmd: list[str], to_stdout: bool) -> Callable[[int], Sample]: ...


def sized_pulls(s: Setup, label: str, env: dict[str, str], watch: int | None = None) -> PullRun:
    """``pull(name, cmd, to_stdout)``: a timed run of ``cmd`` writing the big blob to a file (given as
    its last argument, or its standard output), whose size is checked after every run."""

    def pull(name: str, cmd: list[str], to_stdout: bool) -> Callable[[int], Sample]:
        def run(_: int) -> Sample:
            out = s.out_dir / f"{label}-{name}.bin"
            out.unlink(missing_ok=True)
            settle()
            full = cmd if to_stdout else [*cmd, str(out)]
            sample = run_measured(full, env, stdout_path=out if to_stdout else None, watch=watch)
            if out.stat().st_size != s.size:
                raise RuntimeError(f"{label} {name}: wrote {out.stat().st_size} bytes, expected {s.size}")
            out.unlink()
            return sample

        return run

    return pull


#: The simulated internet link of ``--only wan`` (issue 13): per-connection cap and added delay.
WAN_RATE = 16 * MIB
WAN_DELAY = 0.020
WAN_CONNECTIONS = (1, 2, 4, 8)
#: Target: 4 connections at least this many times faster than curl's one.
WAN_MIN_SPEEDUP = 3.5


def bench_wan(s: Setup, repeat: int) -> list[Result]:
    """Pulls through a shaping proxy (16 MiB/s per connection, 20 ms per request): curl, python-dxf
    and dxf with its default and 1/2/4/8 connections, and dxf to standard output (default, 1 and 4
    connections: the peak RSS column shows the in-order window's memory), all through the same link."""
    repo = "bench/pull"
    if s.reg.blob_status(repo, s.digest) != 200:
        warm_push_with_curl_to(s, repo)
    proxy = FaultProxy("127.0.0.1", int(urlsplit(s.reg.url).port or 80))
    proxy.shape(rate=WAN_RATE, delay=WAN_DELAY)
    env = {**s.env, "DXF_HOST": proxy.host}
    url = f"{proxy.url}/v2/{repo}/blobs/{s.digest}"
    pull = sized_pulls(s, "wan", env)

    dxf_o = [str(s.ours), "pull-blob", repo, s.digest]
    results = [Result("wan: curl GET -o file", "wan", units=s.size)]
    runs = [pull("curl", ["curl", "-s", "-f", url, "-o"], to_stdout=False)]
    results.append(Result("wan: python-dxf pull-blob > file", "wan", units=s.size))
    runs.append(pull("pydxf", [str(s.theirs / "dxf"), "pull-blob", repo, s.digest], to_stdout=True))
    results.append(Result("wan: dxf pull-blob -o file (default)", "wan", units=s.size))
    runs.append(pull("dxf-default", [*dxf_o, "-o"], to_stdout=False))
    for count in WAN_CONNECTIONS:
        results.append(Result(f"wan: dxf pull-blob -o file --connections {count}", "wan", units=s.size))
        runs.append(pull(f"dxf-{count}", [*dxf_o, "--connections", str(count), "-o"], to_stdout=False))
    results.append(Result("wan: dxf pull-blob > file (default)", "wan", units=s.size))
    runs.append(pull("dxf-stdout-default", dxf_o, to_stdout=True))
    for count in (1, 4):
        results.append(Result(f"wan: dxf pull-blob > file --connections {count}", "wan", units=s.size))
        runs.append(pull(f"dxf-stdout-{count}", [*dxf_o, "--connections", str(count)], to_stdout=True))
    try:
        round_robin(results, repeat, runs)
    finally:
        proxy.close()
    return results


#: ``--only s3``: the blob store's link (between the client and S3, not between the client and the
#: registry), shaped like the WAN rows: object stores cap each connection well below the link.
S3_RATE = WAN_RATE
S3_DELAY = WAN_DELAY


def bench_s3(s: Setup, repeat: int) -> list[Result]:
    """Pulls from a registry that keeps its blobs in S3 (issue 13, part 3): distribution's s3-aws
    driver on a local moto server, with its redirects on, so every blob GET is answered with a 307 to
    a presigned URL on the S3 host. A shaping proxy in front of S3 caps each connection at 16 MiB/s
    and adds 20 ms per request; the registry itself (TLS, basic auth) is reached directly. curl
    follows the redirect (``-L``, which does not send ``-u`` credentials to the other host), as do
    python-dxf and dxf."""
    sys.path.insert(0, str(ROOT / "tests"))  # tests/harness/s3.py imports its siblings as ``harness``
    from tests.harness.pki import generate_pki
    from tests.harness.s3 import MotoS3

    repo = "bench/s3"
    workdir = Path(tempfile.mkdtemp(prefix="s3-", dir=WORK))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        s3 = stack.enter_context(MotoS3())
        storage = stack.enter_context(FaultProxy("127.0.0.1", s3.port))
        pki = generate_pki(workdir / "pki")
        bucket = S3Storage(storage.url, s3.bucket)
        registry = start_registry("basic", workdir / "registry", pki=pki, s3=bucket)
        stack.callback(registry.close)
        env = tool_env(registry)
        pushed = subprocess.run(
            [str(s.ours), "push-blob", repo, str(s.file)], env=env, capture_output=True, text=True, check=True
        )
        if pushed.stdout.strip() != s.digest:
            raise RuntimeError(f"s3: push printed {pushed.stdout.strip()!r}, expected {s.digest}")
        storage.shape(rate=S3_RATE, delay=S3_DELAY)
        assert registry.ca_bundle is not None
        url = f"{registry.url}/v2/{repo}/blobs/{s.digest}"
        curl = ["curl", "-s", "-f", "-L", "--cacert", registry.ca_bundle, "-u", f"{USERNAME}:{PASSWORD}", url]
        pull = sized_pulls(s, "s3", env, watch=registry.pid)

        dxf_o = [str(s.ours), "pull-blob", repo, s.digest]
        results = [
            Result("s3: curl -L GET -o file", "s3", units=s.size),
            Result("s3: python-dxf pull-blob > file", "s3", units=s.size),
            Result("s3: dxf pull-blob -o file (default)", "s3", units=s.size),
        ]
        runs = [
            pull("curl", [*curl, "-o"], to_stdout=False),
            pull("pydxf", [str(s.theirs / "dxf"), "pull-blob", repo, s.digest], to_stdout=True),
            pull("dxf-default", [*dxf_o, "-o"], to_stdout=False),
        ]
        for count in WAN_CONNECTIONS:
            results.append(Result(f"s3: dxf pull-blob -o file --connections {count}", "s3", units=s.size))
            runs.append(pull(f"dxf-{count}", [*dxf_o, "--connections", str(count), "-o"], to_stdout=False))
        round_robin(results, repeat, runs)
        heads = [h for h in storage.request_heads if b"\r\nuser-agent: dxf/" in h.lower()]
        if any(b"\r\nauthorization:" in h.lower() for h in heads):
            raise RuntimeError("s3: dxf sent the registry's Authorization header to the S3 host")
        log(f"s3: {len(heads)} requests from dxf reached the S3 host, none with an Authorization header")
    return results


#: A verified pull with standard tools: download, then hash the file in a second pass.
CURL_THEN_HASH = 'curl -s -f "$1" -o "$2" && sha256sum "$2" > /dev/null'


def warm_push_with_curl_to(s: Setup, repo: str) -> None:
    location = s.reg.start_upload(repo)
    subprocess.run(
        [*CURL_PUT, "-T", str(s.file), with_digest(location, s.digest)], check=True, stdout=subprocess.DEVNULL
    )
    if s.reg.blob_status(repo, s.digest) != 200:
        raise RuntimeError(f"could not push the test blob to {repo}")


def bench_small(s: Setup, repeat: int, count: int) -> list[Result]:
    small_dir = s.out_dir / "small"
    shutil.rmtree(small_dir, ignore_errors=True)
    small_dir.mkdir(parents=True)
    for i in range(count):
        (small_dir / f"{i:06d}.bin").write_bytes(os.urandom(SMALL_SIZE))

    variants = [
        ("python-dxf", s.theirs / "python", "serial"),
        ("dxf", Path(sys.executable), "serial"),
        ("dxf", Path(sys.executable), "parallel"),
        ("raw http.client", Path(sys.executable), "raw"),
        ("raw http.client", Path(sys.executable), "raw-parallel"),
    ]
    push_results: list[Result] = []
    pull_results: list[Result] = []
    runs: list[Callable[[int], Sample]] = []

    for tool, python, mode in variants:
        label = {
            "serial": f"{tool} loop",
            "parallel": f"{tool} push_blobs/pull_blobs jobs={JOBS}",
            "raw": f"{tool} (ceiling) 1 conn",
            "raw-parallel": f"{tool} (ceiling) {JOBS} threads",
        }[mode]
        push_results.append(
            Result(f"{count} x 4 KiB push, {label}", "small-push", units=count, timing="in-script")
        )
        pull_results.append(
            Result(f"{count} x 4 KiB pull, {label}", "small-pull", units=count, timing="in-script")
        )
        index = len(push_results) - 1

        def run(
            i: int, tool: str = tool, python: Path = python, mode: str = mode, index: int = index
        ) -> Sample:
            slug = f"{tool.split()[0]}-{mode}-{i}"
            repo = f"bench/small-{slug}"  # fresh repo: nothing is skipped as already there
            pulled = s.out_dir / f"small-out-{slug}"
            shutil.rmtree(pulled, ignore_errors=True)
            cmd = [str(python), str(SMALL_SCRIPT), "--host", s.reg.host, "--repo", repo]
            cmd += ["--dir", str(small_dir), "--mode", mode, "--jobs", str(JOBS), "--out-dir", str(pulled)]
            if s.reg_pid is not None:
                cmd += ["--registry-pid", str(s.reg_pid)]
            try:
                sample = run_measured(cmd, s.env, watch=s.reg_pid)
            except CommandFailed as error:
                if "exited with 3:" in str(error):
                    raise RuntimeError("not available (no push_blobs/pull_blobs)") from None
                raise
            finally:
                shutil.rmtree(pulled, ignore_errors=True)
            times = json.loads(sample.stdout)
            # One run gives both samples: the pull phase is recorded here, the push phase returned.
            pull_results[index].samples.append(
                Sample(times["pull_s"], sample.rss_kib, sample.cpu, times.get("pull_registry_cpu_s"))
            )
            return Sample(times["push_s"], sample.rss_kib, sample.cpu, times.get("push_registry_cpu_s"))

        runs.append(run)

    round_robin(push_results, repeat, runs)
    for push, pull in zip(push_results, pull_results, strict=True):
        if not push.ok:
            pull.error, pull.samples = push.error, []
        elif pull.samples:
            walls = ", ".join(f"{x.wall:.3f}" for x in pull.samples)
            log(f"{pull.name}: median {pull.median:.3f} s [{walls}]")
    shutil.rmtree(small_dir, ignore_errors=True)
    return push_results + pull_results


def bench_iterator(s: Setup, repeat: int) -> list[Result]:
    """``for chunk in pull_blob(digest)`` in-process: python-dxf and ours at the default chunk size
    (8192 bytes in both), and ours with ``chunk_size=1 MiB`` (what the README recommends for speed)."""
    repo = "bench/pull"
    if s.reg.blob_status(repo, s.digest) != 200:
        warm_push_with_curl_to(s, repo)
    variants = [
        ("python-dxf pull_blob iterator, default 8 KiB chunks", s.theirs / "python", None),
        ("dxf pull_blob iterator, default 8 KiB chunks", Path(sys.executable), None),
        ("dxf pull_blob iterator, chunk_size=1 MiB", Path(sys.executable), MIB),
    ]
    results = [Result(name, "iter", units=s.size, timing="in-script") for name, _, _ in variants]

    def iterate(python: Path, chunk_size: int | None) -> Callable[[int], Sample]:
        def run(_: int) -> Sample:
            cmd = [
                str(python),
                str(ITERATE_SCRIPT),
                "--host",
                s.reg.host,
                "--repo",
                repo,
                "--digest",
                s.digest,
            ]
            if chunk_size is not None:
                cmd += ["--chunk-size", str(chunk_size)]
            sample = run_measured(cmd, s.env, watch=s.reg_pid)
            timing = json.loads(sample.stdout)
            if timing["bytes"] != s.size:
                raise RuntimeError(f"iterated {timing['bytes']} bytes, expected {s.size}")
            return Sample(timing["s"], sample.rss_kib, sample.cpu, sample.registry_cpu)

        return run

    round_robin(results, repeat, [iterate(python, size) for _, python, size in variants])
    return results


def bench_list_aliases(s: Setup, repeat: int) -> list[Result]:
    repo = "bench/aliases"
    script = (
        "import os, sys, hashlib, dxf\n"
        "d = dxf.DXF(sys.argv[1], sys.argv[2], insecure=True)\n"
        "data = os.urandom(1024); dg = 'sha256:' + hashlib.sha256(data).hexdigest()\n"
        "d.push_blob(data=data, digest=dg)\n"
        f"[d.set_alias(f'v{{i}}', dg) for i in range({ALIAS_COUNT})]\n"
        "print(sorted(d.list_aliases()))\n"
    )
    # Set up through python-dxf, the reference, so a half-finished client of ours cannot break setup.
    subprocess.run(
        [str(s.theirs / "python"), "-c", script, s.reg.host, repo], check=True, capture_output=True
    )

    def cli(bin_path: Path) -> Callable[[int], Sample]:
        def run(_: int) -> Sample:
            sample = run_measured([str(bin_path), "list-aliases", repo], s.env, watch=s.reg_pid)
            names = sorted(sample.stdout.decode().split())
            if names != [f"v{i}" for i in range(ALIAS_COUNT)]:
                raise RuntimeError(f"list-aliases printed {names}")
            return sample

        return run

    results = [
        Result(f"python-dxf list-aliases ({ALIAS_COUNT} tags)", "list-aliases"),
        Result(f"dxf list-aliases ({ALIAS_COUNT} tags)", "list-aliases"),
    ]
    round_robin(results, repeat, [cli(s.theirs / "dxf"), cli(s.ours)])
    return results


def bench_artifacts(s: Setup, repeat: int) -> list[Result]:
    """100 files of 64 KiB as one artifact: ``dxf push-artifact``/``pull-artifact`` against oras-py's
    ``push``/``pull`` (``bench/oras_side.py``), each a fresh process, each push into a fresh
    repository (nothing is skipped as already there), each pull into an empty directory."""
    src = s.out_dir / "artifact-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for i in range(ARTIFACT_FILES):
        (src / f"file-{i:03d}.bin").write_bytes(os.urandom(ARTIFACT_FILE_SIZE))
    names = sorted(p.name for p in src.iterdir())
    files = [str(src / name) for name in names]
    python = Path(sys.executable)

    def push(tool: str) -> Callable[[int], Sample]:
        def run(i: int) -> Sample:
            repo = f"bench/artifact-{tool}-{i}"
            if tool == "oras-py":
                cmd = [str(python), str(ORAS_SCRIPT), "push", f"{s.reg.host}/{repo}:v1", str(src)]
            else:
                cmd = [str(s.ours), "push-artifact", repo, "@v1", *files]
            return run_measured(cmd, s.env, watch=s.reg_pid)

        return run

    def pull(tool: str) -> Callable[[int], Sample]:
        repo = f"bench/artifact-{tool}-0"  # what this tool pushed in its first round

        def run(i: int) -> Sample:
            out = s.out_dir / f"artifact-out-{tool}-{i}"
            shutil.rmtree(out, ignore_errors=True)
            if tool == "oras-py":
                cmd = [str(python), str(ORAS_SCRIPT), "pull", f"{s.reg.host}/{repo}:v1", str(out)]
            else:
                cmd = [str(s.ours), "pull-artifact", repo, "@v1", "--output-dir", str(out)]
            try:
                sample = run_measured(cmd, s.env, watch=s.reg_pid)
                pulled = sorted(p.name for p in out.iterdir())
                if pulled != names:
                    raise RuntimeError(f"{tool} pulled {len(pulled)} files, not the {len(names)} pushed")
                return sample
            finally:
                shutil.rmtree(out, ignore_errors=True)

        return run

    label = f"{ARTIFACT_FILES} x {ARTIFACT_FILE_SIZE // 1024} KiB"
    tools = ("oras-py", "dxf")
    pushes = [Result(f"{label} artifact push, {t}", "artifact-push", units=ARTIFACT_FILES) for t in tools]
    pulls = [Result(f"{label} artifact pull, {t}", "artifact-pull", units=ARTIFACT_FILES) for t in tools]
    round_robin(pushes, repeat, [push(t) for t in tools])
    round_robin(pulls, repeat, [pull(t) for t in tools])
    shutil.rmtree(src, ignore_errors=True)
    return pushes + pulls


# -- copy: dxf copy against skopeo copy ------------------------------------------------------------------

OCI_MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
OCI_LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
OCI_CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
COPY_MANY_JOBS = (1, 8)


def _put_image(host: str, repo: str, tag: str, layers: list[tuple[str, int]]) -> None:
    """An OCI image manifest over blobs already pushed (a small config is pushed here), tagged ``tag``:
    the kind of content skopeo copies without reading its layers as anything but bytes."""
    import dxf

    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_TYPE,
        "config": {"mediaType": OCI_CONFIG_TYPE, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_TYPE, "digest": d, "size": n} for d, n in layers],
    }
    with dxf.DXF(host, repo, insecure=True) as client:
        client.push_blob(data=config, digest=config_digest)
        client.set_manifest(tag, json.dumps(manifest))


def _prepare_copy_sources(s: Setup, count: int) -> None:
    """``bench/copy-src:big`` (the big file as one layer) and ``bench/copy-src:many`` (``count`` 4 KiB
    layers) on the bench registry."""
    import dxf

    repo = "bench/copy-src"
    subprocess.run([str(s.ours), "push-blob", repo, str(s.file)], env=s.env, check=True, capture_output=True)
    _put_image(s.reg.host, repo, "big", [(s.digest, s.size)])
    layers = []
    with dxf.DXF(s.reg.host, repo, insecure=True) as client:
        for _ in range(count):
            data = os.urandom(SMALL_SIZE)
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            client.push_blob(data=data, digest=digest)
            layers.append((digest, len(data)))
    _put_image(s.reg.host, repo, "many", layers)


def bench_copy(s: Setup, repeat: int, count: int) -> list[Result]:
    """``dxf copy`` and ``skopeo copy`` of the same image: the big blob registry -> another registry
    and registry -> OCI layout, and ``count`` 4 KiB blobs registry -> registry with ``--jobs 1``/``8``.
    Every run copies into a fresh repository or directory, so nothing is skipped as already there;
    the second registry keeps the registry -> registry copies from being mounts."""
    if shutil.which("skopeo") is None:
        skipped = "skipped: skopeo not installed (make skopeo-bin)"
        return [Result("copy (dxf vs skopeo)", "copy-rr", skipped=skipped)]
    _prepare_copy_sources(s, count)
    src = f"docker://{s.reg.host}/bench/copy-src"
    layouts = s.out_dir / "copy-layouts"
    Place = Callable[[int, str], str]  # (run, destination registry host) -> destination

    def measured(
        tool_cmd: Callable[[str], list[str]], dest: Place, env: dict[str, str]
    ) -> Callable[[int], Sample]:
        """Each run into a registry just started (so neither tool can mount or skip what an earlier
        run left there; skopeo keeps a cache of where it saw blobs) or a new layout directory."""

        def run(i: int) -> Sample:
            layouts.mkdir(parents=True, exist_ok=True)
            try:
                with running_registry() as fresh:
                    settle()
                    return run_measured(tool_cmd(dest(i, fresh.host)), env, watch=s.reg_pid)
            finally:
                shutil.rmtree(layouts, ignore_errors=True)

        return run

    def dxf_copy(source: str, dest: Place, jobs: int = JOBS) -> Callable[[int], Sample]:
        def cmd(target: str) -> list[str]:
            return [str(s.ours), "copy", "--jobs", str(jobs), source, target]

        return measured(cmd, dest, {**s.env, "DXF_INSECURE": "1"})

    def skopeo_copy(source: str, dest: Place) -> Callable[[int], Sample]:
        def cmd(target: str) -> list[str]:
            flags = ["--src-tls-verify=false", "--dest-tls-verify=false", "--preserve-digests"]
            return ["skopeo", "copy", "-q", *flags, source, target]

        return measured(cmd, dest, s.env)

    def to_registry(tag: str) -> Place:
        return lambda i, host: f"docker://{host}/bench/copy-{i}:{tag}"

    def to_layout(tool: str) -> Place:
        return lambda i, _host: f"oci:{layouts / f'{tool}-{i}'}:big"

    mib = s.size // MIB
    groups: list[tuple[list[Result], list[Callable[[int], Sample]]]] = [
        (
            [
                Result(f"skopeo copy {mib} MiB registry -> registry", "copy-rr", units=s.size),
                Result(f"dxf copy {mib} MiB registry -> registry", "copy-rr", units=s.size),
            ],
            [skopeo_copy(f"{src}:big", to_registry("big")), dxf_copy(f"{src}:big", to_registry("big"))],
        ),
        (
            [
                Result(f"skopeo copy {mib} MiB registry -> layout", "copy-rl", units=s.size),
                Result(f"dxf copy {mib} MiB registry -> layout", "copy-rl", units=s.size),
            ],
            [skopeo_copy(f"{src}:big", to_layout("skopeo")), dxf_copy(f"{src}:big", to_layout("dxf"))],
        ),
        (
            [
                Result(f"skopeo copy {count} x 4 KiB registry -> registry", "copy-many", units=count),
                *(
                    Result(f"dxf copy {count} x 4 KiB --jobs {jobs}", "copy-many", units=count)
                    for jobs in COPY_MANY_JOBS
                ),
            ],
            [
                skopeo_copy(f"{src}:many", to_registry("many")),
                *(dxf_copy(f"{src}:many", to_registry("many"), jobs) for jobs in COPY_MANY_JOBS),
            ],
        ),
    ]
    results: list[Result] = []
    for group_results, runs in groups:
        round_robin(group_results, repeat, runs)
        results += group_results
    return results


# -- report -------------------------------------------------------------------------------------------------


def anchor_for(result: Result, by_name: dict[str, Result], push_anchor: Result | None) -> Result | None:
    if result.group == "push":
        return push_anchor
    if result.group == "pull":
        return by_name.get("curl GET -o file")
    if result.group == "wan":
        return by_name.get("wan: curl GET -o file")
    if result.group == "s3":
        return by_name.get("s3: curl -L GET -o file")
    if result.group.startswith("copy"):
        return next(
            (r for r in by_name.values() if r.group == result.group and r.name.startswith("skopeo")), None
        )
    reference = "oras-py" if result.group.startswith("artifact") else "python-dxf"
    return next((r for r in by_name.values() if r.group == result.group and reference in r.name), None)


def throughput(result: Result) -> str:
    if result.group in ("push", "pull", "iter", "copy-rr", "copy-rl", "wan", "s3"):
        return f"{result.units / MIB / result.median:8.0f} MiB/s"
    if result.group.startswith("small") or result.group == "copy-many":
        return f"{result.units / result.median:8.0f} blob/s"
    if result.group.startswith("artifact"):
        return f"{result.units / result.median:8.0f} file/s"
    return ""


def push_anchor_of(results: list[Result]) -> Result | None:
    """The faster of the two curl PUTs (a stricter anchor than either alone)."""
    curls = [r for r in results if r.group == "push" and r.name.startswith("curl") and r.ok]
    return min(curls, key=lambda r: r.median) if curls else None


def anchor_label(anchor: Result) -> str:
    if anchor.group == "push":
        return "curl PUT -T" if "-T" in anchor.name else "curl PUT --data-binary"
    if anchor.group in ("pull", "wan", "s3"):
        return "curl GET"
    if anchor.group.startswith("copy"):
        return "skopeo"
    return "oras-py" if anchor.group.startswith("artifact") else "python-dxf"


def print_table(results: list[Result]) -> dict[str, float]:
    by_name = {r.name: r for r in results}
    push_anchor = push_anchor_of(results)
    ratios: dict[str, float] = {}
    width = max(len(r.name) for r in results) + 1
    columns = f"{'wall s':>8} {'ratio':>6}  {'anchor':<11} {'cpu s':>6} {'reg cpu':>7} {'peak RSS MiB':>12}"
    columns += f" {'rate':>14}"
    header = f"{'operation':<{width}} {columns}"
    print(header)
    print("-" * len(header))
    for result in results:
        if result.skipped:
            print(f"{result.name:<{width}} {result.skipped}")
            continue
        if not result.ok:
            print(f"{result.name:<{width}} FAILED: {result.error}")
            continue
        anchor = anchor_for(result, by_name, push_anchor)
        if anchor is not None and anchor.ok:
            ratio = result.median / anchor.median
            ratios[result.name] = ratio
            ratio_text = f"{ratio:6.2f}"
            anchor_text = "(anchor)" if anchor is result else anchor_label(anchor)
        else:
            ratio_text, anchor_text = f"{'-':>6}", "-"
        cpu = result.cpu
        cpu_text = f"{cpu:6.2f}" if cpu is not None else f"{'-':>6}"
        reg = result.registry_cpu
        reg_text = f"{reg:7.2f}" if reg is not None else f"{'-':>7}"
        print(
            f"{result.name:<{width}} {result.median:8.3f} {ratio_text}  {anchor_text:<11} {cpu_text} "
            f"{reg_text} {result.rss_mib:12.1f} {throughput(result):>14}"
        )
    return ratios


@dataclass
class Target:
    name: str
    passed: bool | None  # None: could not be evaluated
    detail: str


def evaluate(results: list[Result]) -> list[Target]:
    by_name = {r.name: r for r in results if r.ok}
    push_anchor = push_anchor_of(results)
    targets: list[Target] = []

    def get(name: str) -> Result | None:
        return by_name.get(name)

    ours_push = get("dxf push-blob")
    if ours_push and push_anchor:
        ratio = ours_push.median / push_anchor.median
        targets.append(
            Target(
                f"(1) push <= {PUSH_MAX_RATIO}x curl PUT",
                ratio <= PUSH_MAX_RATIO,
                f"{ratio:.2f}x ({ours_push.median:.3f} s vs {push_anchor.name} {push_anchor.median:.3f} s)",
            )
        )
    else:
        targets.append(Target(f"(1) push <= {PUSH_MAX_RATIO}x curl PUT", None, "not measured"))

    ours_pull, curl_get, their_pull = get("dxf pull-blob -o file"), get("curl GET -o file"), None
    their_pull = get("python-dxf pull-blob > file")
    name2 = f"(2) pull -o <= {PULL_MAX_RATIO}x curl GET and >= {PULL_MIN_SPEEDUP:g}x faster than python-dxf"
    if ours_pull and curl_get and their_pull:
        ratio = ours_pull.median / curl_get.median
        speedup = their_pull.median / ours_pull.median
        targets.append(
            Target(
                name2,
                ratio <= PULL_MAX_RATIO and speedup >= PULL_MIN_SPEEDUP,
                f"{ratio:.2f}x curl GET; {speedup:.2f}x faster than python-dxf",
            )
        )
    else:
        targets.append(Target(name2, None, "not measured"))

    rss_ops = [get("dxf push-blob"), get("dxf pull-blob -o file"), get("dxf pull-blob > file")]
    name3 = f"(3) peak RSS <= {RSS_MAX_MIB:g} MiB for push and pull"
    measured = [r for r in rss_ops if r is not None]
    if measured:
        worst = max(measured, key=lambda r: r.rss_mib)
        detail = ", ".join(f"{r.name} {r.rss_mib:.1f}" for r in measured) + " MiB"
        complete = len(measured) == len(rss_ops)
        targets.append(Target(name3, worst.rss_mib <= RSS_MAX_MIB if complete else None, detail))
    else:
        targets.append(Target(name3, None, "not measured"))

    name4 = f"(4) small blobs >= {SMALL_MIN_SPEEDUP:g}x python-dxf throughput (push and pull)"
    parts: list[str] = []
    verdicts: list[bool] = []
    for group in ("small-push", "small-pull"):
        theirs = next((r for r in by_name.values() if r.group == group and "python-dxf" in r.name), None)
        ours = [r for r in by_name.values() if r.group == group and ", dxf " in r.name]
        ceiling = [r for r in by_name.values() if r.group == group and "(ceiling)" in r.name]
        if theirs is None or not ours:
            parts.append(f"{group}: not measured")
            continue
        best = min(ours, key=lambda r: r.median)
        speedup = theirs.median / best.median
        verdicts.append(speedup >= SMALL_MIN_SPEEDUP)
        serial = next((r for r in ours if "loop" in r.name), None)
        serial_text = f", loop {theirs.median / serial.median:.2f}x" if serial else ""
        if ceiling:
            top = min(ceiling, key=lambda r: r.median)
            serial_text += f"; raw HTTP ceiling {theirs.median / top.median:.2f}x"
        parts.append(f"{group.split('-')[1]} {speedup:.2f}x (best: {best.name.split(', ')[1]}{serial_text})")
    targets.append(Target(name4, all(verdicts) if len(verdicts) == 2 else None, "; ".join(parts)))

    ours_list = next(
        (r for r in by_name.values() if r.group == "list-aliases" and r.name.startswith("dxf")), None
    )
    theirs_list = next(
        (r for r in by_name.values() if r.group == "list-aliases" and "python-dxf" in r.name), None
    )
    name5 = "(5) list-aliases no slower than python-dxf"
    if ours_list and theirs_list:
        targets.append(
            Target(
                name5,
                ours_list.median <= theirs_list.median,
                f"{ours_list.median:.3f} s vs {theirs_list.median:.3f} s "
                f"({ours_list.median / theirs_list.median:.2f}x)",
            )
        )
    else:
        targets.append(Target(name5, None, "not measured"))
    targets.append(_wan_target(by_name))
    return targets


def _wan_target(by_name: dict[str, Result]) -> Target:
    name = f"(6) wan: --connections 4 >= {WAN_MIN_SPEEDUP:g}x faster than curl"
    curl, four = (
        by_name.get("wan: curl GET -o file"),
        by_name.get("wan: dxf pull-blob -o file --connections 4"),
    )
    if curl is None or four is None:
        return Target(name, None, "not measured")
    speedup = curl.median / four.median
    return Target(
        name, speedup >= WAN_MIN_SPEEDUP, f"{speedup:.2f}x ({four.median:.2f} s vs {curl.median:.2f} s)"
    )


def print_targets(targets: list[Target]) -> None:
    print()
    for target in targets:
        verdict = "n/a " if target.passed is None else ("PASS" if target.passed else "MISS")
        print(f"{verdict}  {target.name}: {target.detail}")


# -- main --------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, help="size of the big blob in MiB (default 1024)")
    parser.add_argument("--repeat", type=int, help="runs per operation; the median is reported (default 5)")
    parser.add_argument("--small-count", type=int, help="number of 4 KiB blobs (default 500)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 MiB, repeat 2, 100 small blobs")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write all samples and verdicts here")
    parser.add_argument(
        "--only",
        default="push,pull,iter,small,list,artifact,copy",
        help="comma-separated subset of push,pull,iter,small,list,artifact,copy,wan,s3 (default: all but wan "
        "and s3: pulls through a shaping proxy at 16 MiB/s per connection and 20 ms per request, from the "
        "registry itself or from the S3 storage a registry redirects to)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="SRC",
        help="the src directory of another dxf (e.g. `git archive main src | tar -x -C DIR`, then DIR/src): "
        "the pull rows also run it, for before/after figures from one run",
    )
    args = parser.parse_args(argv)
    if args.baseline is not None and not (args.baseline / "dxf" / "main.py").is_file():
        parser.error(f"--baseline {args.baseline}: no dxf/main.py there")
    quick = (64, 2, 100)
    full = (1024, 5, 500)
    defaults = quick if args.quick else full
    args.size_mib = args.size_mib if args.size_mib is not None else defaults[0]
    args.repeat = args.repeat if args.repeat is not None else defaults[1]
    args.small_count = args.small_count if args.small_count is not None else defaults[2]
    if args.size_mib < 1 or args.repeat < 1 or args.small_count < 1:
        parser.error("--size-mib, --repeat and --small-count must be positive")
    return args


def tool_env(registry: RegistryProcess) -> dict[str, str]:
    """The caller's environment without DXF_* or PYTHONPATH, plus the registry's and DXF_PROGRESS=0.

    Bytecode caching is switched on for both tools, into ``bench/.work/pycache``
    (``PYTHONPYCACHEPREFIX``; ``PYTHONDONTWRITEBYTECODE`` dropped): pip precompiled python-dxf, but our
    editable install under ``PYTHONDONTWRITEBYTECODE=1`` would recompile its sources on every start
    (tens of ms here), which no installed copy does. Nothing is written outside ``bench/.work``.
    """
    drop = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXF_") and k not in drop}
    env.update(harness_env(registry))
    env["DXF_PROGRESS"] = "0"
    env["PYTHONPYCACHEPREFIX"] = str(WORK / "pycache")
    return env


def warm_up(s: Setup) -> None:
    """One untimed run of every command and script on a tiny blob, so the bytecode caches are filled
    before anything is timed."""
    tiny_dir = s.out_dir / "warmup"
    tiny_dir.mkdir(parents=True, exist_ok=True)
    tiny = tiny_dir / "tiny.bin"
    tiny.write_bytes(os.urandom(1024))
    digest = sha256_file(tiny)

    def quiet(*cmd: str | Path) -> None:
        args = [str(part) for part in cmd]
        subprocess.run(args, env=s.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    for bin_path in (s.ours, s.theirs / "dxf"):
        quiet(bin_path, "push-blob", "bench/warmup-tiny", tiny)
        quiet(bin_path, "pull-blob", "bench/warmup-tiny", digest)
        quiet(bin_path, "list-aliases", "bench/warmup-tiny")
    quiet(s.ours, "pull-blob", "bench/warmup-tiny", digest, "-o", tiny_dir / "out.bin")
    quiet(s.ours, "push-artifact", "bench/warmup-artifact", "@v1", tiny)
    quiet(s.ours, "pull-artifact", "bench/warmup-artifact", "@v1", "--output-dir", tiny_dir / "dxf-art")
    quiet(sys.executable, ORAS_SCRIPT, "push", f"{s.reg.host}/bench/warmup-oras:v1", tiny_dir)
    quiet(sys.executable, ORAS_SCRIPT, "pull", f"{s.reg.host}/bench/warmup-oras:v1", tiny_dir / "oras-art")
    for python in (s.theirs / "python", Path(sys.executable)):
        quiet(python, SMALL_SCRIPT, "--host", s.reg.host, "--repo", "bench/warmup-small", "--dir", tiny_dir)
    shutil.rmtree(tiny_dir, ignore_errors=True)


@contextlib.contextmanager
def running_registry() -> Iterator[RegistryProcess]:
    workdir = Path(tempfile.mkdtemp(prefix="registry-", dir=WORK))
    registry = start_registry("plain", workdir)
    try:
        yield registry
    finally:
        registry.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    WORK.mkdir(parents=True, exist_ok=True)
    theirs = ensure_pydxf_venv()
    ours = our_dxf()
    # the big blob only for the parts that move it (creating 1 GiB costs time and disk)
    moves_big_blob = {"push", "pull", "iter", "copy", "wan", "s3"}
    path, digest = big_file(args.size_mib) if only & moves_big_blob else (Path(os.devnull), "")
    rss_via = "/usr/bin/time %M" if os.access(TIME_BIN, os.X_OK) else "os.wait4 ru_maxrss"
    log(f"size {args.size_mib} MiB, repeat {args.repeat}, {args.small_count} small blobs; RSS via {rss_via}")

    load_start = os.getloadavg()[0]
    if load_start > 0.5 * (os.cpu_count() or 1):
        log(f"warning: load average {load_start:.1f} on {os.cpu_count()} CPUs: other work will add noise")
    results: list[Result] = []
    out_dir = Path(tempfile.mkdtemp(prefix="out-", dir=WORK))
    try:
        with running_registry() as registry:
            log(f"registry on {registry.url}, storage {registry.storage_dir}")
            setup = Setup(
                reg=Registry(registry),
                env=tool_env(registry),
                ours=ours,
                theirs=theirs,
                file=path,
                digest=digest,
                size=path.stat().st_size,
                out_dir=out_dir,
                reg_pid=registry.pid,
                baseline=args.baseline.resolve() if args.baseline is not None else None,
            )
            log("warm-up: one untimed run of each command (fills the bytecode caches)")
            warm_up(setup)
            if "push" in only:
                results += bench_pushes(setup, args.repeat)
            if "pull" in only:
                results += bench_pulls(setup, args.repeat)
            if "iter" in only:
                results += bench_iterator(setup, args.repeat)
            if "small" in only:
                results += bench_small(setup, args.repeat, args.small_count)
            if "wan" in only:
                results += bench_wan(setup, args.repeat)
            if "s3" in only:
                results += bench_s3(setup, args.repeat)
            if "list" in only:
                results += bench_list_aliases(setup, 4 if args.quick else 10)
            if "artifact" in only:
                results += bench_artifacts(setup, args.repeat)
            if "copy" in only:
                results += bench_copy(setup, args.repeat, args.small_count)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)

    load_end = os.getloadavg()[0]
    print()
    print(
        f"dxf bench: {args.size_mib} MiB blob, median of {args.repeat} runs "
        f"(list-aliases: {4 if args.quick else 10}), {args.small_count} small blobs; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, RSS via {rss_via}; "
        f"load average {load_start:.1f} at start, {load_end:.1f} at end"
    )
    print()
    ratios = print_table(results)
    targets = evaluate(results)
    print_targets(targets)
    if args.json is not None:
        report = {
            "config": {
                "size_mib": args.size_mib,
                "repeat": args.repeat,
                "small_count": args.small_count,
                "jobs": JOBS,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "rss_via": rss_via,
                "load_average": [round(load_start, 2), round(load_end, 2)],
            },
            "results": [r.to_json() for r in results],
            "ratios": {k: round(v, 4) for k, v in ratios.items()},
            "targets": [asdict(t) for t in targets],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r.ok or r.skipped or r.informational for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
