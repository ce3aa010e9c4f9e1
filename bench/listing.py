"""How the memory of ``dxf list-aliases`` / ``list-repos`` behaves as listings grow (issue 14).

For each count (default 1,000, 10,000 and 100,000 names) a loopback pager (``tests/harness/pager.py``)
serves the names in pages of 100 with ``Link`` headers, and the command runs as a fresh process
under ``tests/harness/peak.py``, which reports the peak of what Python objects held while the command
ran (``tracemalloc``, which also slows it) and the process's peak RSS. Lines are counted, not kept.

    .venv/bin/python bench/listing.py [--counts 1000,10000,100000] [--command list-repos]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness.pager import Pager  # noqa: E402

PEAK = ROOT / "tests" / "harness" / "peak.py"


def measure(command: str, count: int, page: int) -> dict[str, float]:
    """One fresh ``dxf`` process listing ``count`` names: lines, seconds, traced KiB, RSS MiB."""
    with Pager(count, page) as pager, tempfile.TemporaryDirectory() as work:
        peak_file = Path(work) / "peak.json"
        env = {
            **os.environ,
            "DXF_HOST": pager.host,
            "DXF_INSECURE": "1",
            "DXF_TEST_PEAK_FILE": str(peak_file),
        }
        argv = [command, "team/data"] if command == "list-aliases" else [command]
        started = time.monotonic()
        with subprocess.Popen([sys.executable, str(PEAK), *argv], stdout=subprocess.PIPE, env=env) as child:
            assert child.stdout is not None
            lines = sum(1 for _line in child.stdout)
            if child.wait() != 0:
                raise RuntimeError(f"{command} exited with {child.returncode}")
        seconds = time.monotonic() - started
        figures = json.loads(peak_file.read_text())
    return {
        "lines": lines,
        "seconds": seconds,
        "traced_kib": figures["traced_peak"] / 1024,
        "rss_mib": figures["maxrss_kib"] / 1024,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", default="1000,10000,100000", help="names to list, comma-separated")
    parser.add_argument("--command", default="list-aliases", choices=["list-aliases", "list-repos"])
    parser.add_argument("--page", type=int, default=100, help="names a page (default 100)")
    args = parser.parse_args(argv)
    counts = [int(part) for part in args.counts.split(",") if part.strip()]
    print(f"dxf {args.command}, pages of {args.page}, one fresh process per row (timed under tracemalloc)")
    print(f"{'names':>9} {'pages':>6} {'seconds':>8} {'traced peak KiB':>16} {'peak RSS MiB':>13}")
    for count in counts:
        row = measure(args.command, count, args.page)
        if row["lines"] != count:
            raise RuntimeError(f"listed {row['lines']} names of {count}")
        pages = -(-count // args.page)
        print(
            f"{count:>9} {pages:>6} {row['seconds']:>8.2f} {row['traced_kib']:>16.1f} {row['rss_mib']:>13.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
