"""What an error answer with a 100 MiB body costs the ``dxf`` command: peak RSS, wall time, and how
much the server got to send before the command hung up.

A stub registry (``tests/harness/stub.py``) answers the request each command is about with ``500``
and an endless-looking JSON body (100 MiB, chunked, made as it is sent). With ``--baseline SRC`` the
same commands also run with another tree's ``src`` on ``PYTHONPATH`` (e.g. main's, exported with
``git archive main src | tar -x -C bench/.work/base``), alternating run by run so load on the
machine hits both alike. The peak RSS is the command's own (see ``tests/harness/command.py``).

    .venv/bin/python bench/hostile.py --repeat 3 --baseline bench/.work/base/src
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

from test_hostile_error_bodies import OPERATIONS, Flood, _registry  # noqa: E402

from harness.command import run_dxf  # noqa: E402
from harness.stub import StubServer  # noqa: E402

COMMANDS = ("pull-blob", "get-alias", "push-blob", "del-blob")
MIB = 1024 * 1024


def measure(src: Path, operation: str, scratch: Path) -> tuple[float, float, float]:
    """(peak RSS MiB, seconds, MiB the server produced) of one run of ``operation``."""
    source = scratch / "tiny.bin"
    source.write_bytes(b"tiny blob")
    args = [str(source) if a == "{file}" else a for a in OPERATIONS[operation][2]]
    flood = Flood(500, True, False)
    os.environ["PYTHONPATH"] = str(src)
    with StubServer(_registry(flood, operation)) as server:
        began = time.monotonic()
        done = run_dxf(args, {"DXF_HOST": server.host, "DXF_INSECURE": "1", "DXF_RETRIES": "0"}, timeout=300)
        took = time.monotonic() - began
    if done.returncode != 1:
        raise SystemExit(f"{operation} with {src}: exit {done.returncode}: {done.stderr}")
    return done.peak_rss / MIB, took, flood.produced / MIB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another tree's src directory to compare with")
    options = parser.parse_args()
    trees = {"dxf": ROOT / "src"}
    if options.baseline:
        trees["baseline"] = options.baseline.resolve()
    scratch = ROOT / "bench" / ".work"
    scratch.mkdir(parents=True, exist_ok=True)
    samples: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for _ in range(options.repeat):
        for operation in COMMANDS:
            for name, src in trees.items():
                samples.setdefault((name, operation), []).append(measure(src, operation, scratch))
    print(f"{'tree':9} {'command':10} {'peak RSS MiB':>12} {'seconds':>8} {'served MiB':>10}  (medians)")
    for (name, operation), runs in samples.items():
        rss, took, served = (statistics.median(column) for column in zip(*runs, strict=True))
        print(f"{name:9} {operation:10} {rss:12.1f} {took:8.2f} {served:10.1f}")


if __name__ == "__main__":
    main()
