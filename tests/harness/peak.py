"""Run the ``dxf`` command in this process and report the memory it used.

``python tests/harness/peak.py ARGS...`` runs ``dxf ARGS...`` (its real standard streams, its exit
status) and writes ``{"traced_peak": B, "maxrss_kib": K}`` as JSON to the file named by
``DXF_TEST_PEAK_FILE``: ``B`` is the most memory Python objects held at once while the command ran
(``tracemalloc``, started after the imports, so it counts the command's own work and nothing the
interpreter loaded before it), ``K`` the process's peak resident set (``getrusage``), imports
included. Measuring in a child keeps the test's servers and the test runner out of both figures.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tracemalloc

from dxf.main import run_command


def main() -> int:
    tracemalloc.start()
    code = run_command(sys.argv[1:], os.environ)
    sys.stdout.flush()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(os.environ["DXF_TEST_PEAK_FILE"], "w", encoding="utf-8") as out:
        json.dump({"traced_peak": peak, "maxrss_kib": maxrss}, out)
    return code


if __name__ == "__main__":
    sys.exit(main())
