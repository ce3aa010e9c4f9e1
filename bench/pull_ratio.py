"""A loopback pull of one large blob, ``dxf`` against curl, alternating (issue #13, part 5).

Starts a plain registry with the test harness, pushes a random blob of ``--size-mib`` MiB and one of
1 KiB, then runs each command ``--rounds`` times in turn (curl, the ``--baseline`` dxf if given, our
dxf): the large blob to ``/dev/null`` through standard output and to a file with ``-o``, and the
1 KiB blob with ``-o`` (the fixed cost of a command). Prints the median wall time, its ratio to
curl's, and the median user and system CPU seconds of each; and the registry's CPU seconds per curl
run (it shares the machine's cores with the client). Python bytecode of both trees is compiled first,
as ``pip install`` does, so that no run pays for compiling.

    .venv/bin/python bench/pull_ratio.py --rounds 7 --baseline /tmp/main-src/src
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness.registry import start_registry  # noqa: E402

DXF = str(Path(sys.executable).parent / "dxf")


def _compile(tree: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree)], env=env, check=True)


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall, user and system seconds of one run (output to /dev/null)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv[0]} failed with status {status}")
    return wall, usage.ru_utime, usage.ru_stime


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--baseline", type=Path, help="src directory of the dxf to compare with")
    args = parser.parse_args()
    _compile(ROOT / "src")
    if args.baseline is not None:
        _compile(args.baseline)
    work = Path(tempfile.mkdtemp(prefix="pull-ratio-"))
    registry = start_registry("plain", work)
    try:
        env = dict(os.environ, DXF_HOST=registry.url.split("://")[1], DXF_INSECURE="1", DXF_PROGRESS="0")
        digests = {}
        for name, size in (("big", args.size_mib << 20), ("small", 1024)):
            path = work / name
            with path.open("wb") as f:
                for _ in range(size >> 20):
                    f.write(os.urandom(1 << 20))
                f.write(os.urandom(size & ((1 << 20) - 1)))
            push = [DXF, "push-blob", "r", str(path)]
            digests[name] = subprocess.run(
                push, env=env, capture_output=True, text=True, check=True
            ).stdout.strip()
            path.unlink()
        big, small = digests["big"], digests["small"]
        out = str(work / "out")
        dxfs = {"dxf": env}
        if args.baseline is not None:
            dxfs = {"before": {**env, "PYTHONPATH": str(args.baseline)}, **dxfs}
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "curl > /dev/null": (
                ["curl", "-s", "-f", "-o", "/dev/null", f"{registry.url}/v2/r/blobs/{big}"],
                env,
            ),
            "curl -o file": (["curl", "-s", "-f", "-o", out, f"{registry.url}/v2/r/blobs/{big}"], env),
        }
        for label, dxf_env in dxfs.items():
            commands[f"{label} pull-blob > /dev/null"] = ([DXF, "pull-blob", "r", big], dxf_env)
            commands[f"{label} pull-blob -o file"] = ([DXF, "pull-blob", "r", big, "-o", out], dxf_env)
        commands["curl 1 KiB -o file"] = (
            ["curl", "-s", "-f", "-o", out, f"{registry.url}/v2/r/blobs/{small}"],
            env,
        )
        for label, dxf_env in dxfs.items():
            commands[f"{label} 1 KiB -o file"] = ([DXF, "pull-blob", "r", small, "-o", out], dxf_env)
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
        registry_cpu: list[float] = []
        registry_pid = registry.pid
        assert registry_pid is not None
        print(f"load average before: {os.getloadavg()}", flush=True)
        for _ in range(args.rounds):
            for name, (argv, command_env) in commands.items():
                before = _cpu_seconds(registry_pid) if name == "curl > /dev/null" else 0.0
                results[name].append(_run(argv, command_env))
                if name == "curl > /dev/null":
                    registry_cpu.append(_cpu_seconds(registry_pid) - before)
                with_file = Path(out)
                if with_file.exists():
                    with_file.unlink()
        print(f"load average after: {os.getloadavg()}")
        print(f"{'command':32s} {'wall s':>7s} {'ratio':>6s} {'user s':>7s} {'sys s':>6s} {'fastest':>8s}")
        anchors = {"KiB": "curl 1 KiB -o file", "/dev/null": "curl > /dev/null", "-o file": "curl -o file"}
        for name, samples in results.items():
            anchor = next(a for key, a in anchors.items() if key in name)
            wall = statistics.median(s[0] for s in samples)
            ratio = wall / statistics.median(s[0] for s in results[anchor])
            user = statistics.median(s[1] for s in samples)
            system = statistics.median(s[2] for s in samples)
            fastest = min(s[0] for s in samples)
            print(f"{name:32s} {wall:7.3f} {ratio:6.2f} {user:7.2f} {system:6.2f} {fastest:8.3f}")
        print(f"registry CPU per curl > /dev/null: {statistics.median(registry_cpu):.2f} s")
    finally:
        registry.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
