"""Run the ``dxf`` command in this process and report the memory it used.

``python tests/harness/peak.py ARGS...`` runs ``dxf ARGS...`` (its real standard streams, its exit
status) and writes ``{"traced_peak": B, "maxrss_kib": K}`` as JSON to the file named by
``DXF_TEST_PEAK_FILE``: ``B`` is the most memory Python objects held at once while the command ran
(``tracemalloc``, started after the imports, so it counts the command's own work and nothing the
interpreter loaded before it), ``K`` the process's peak resident set, imports included: ``VmHWM``
of ``/proc/self/status``, which starts afresh at ``exec`` (``getrusage``'s ``ru_maxrss`` does not:
Linux carries the forking parent's high-water mark into it, so a child of a big test runner would
report the runner's size). Measuring in a child keeps the test's servers and the test runner out
of both figures.
"""

from __future__ import annotations

import json
import os
import sys
import tracemalloc
from collections.abc import Callable

from dxf.main import run_command


def traced_peak_of(call: Callable[[], object]) -> tuple[BaseException | None, int]:
    """Run ``call`` in this process under ``tracemalloc``: what it raised (handed back for the test
    to assert on; None if nothing) and the most memory Python objects held at once meanwhile."""
    tracemalloc.start()
    try:
        call()
        error = None
    except BaseException as exc:
        error = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return error, peak


def _high_water_kib() -> int:
    """The peak resident set of this process image, in KiB (``VmHWM``)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> int:
    tracemalloc.start()
    code = run_command(sys.argv[1:], os.environ)
    sys.stdout.flush()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    maxrss = _high_water_kib()
    with open(os.environ["DXF_TEST_PEAK_FILE"], "w", encoding="utf-8") as out:
        json.dump({"traced_peak": peak, "maxrss_kib": maxrss}, out)
    return code


if __name__ == "__main__":
    sys.exit(main())
