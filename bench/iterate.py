"""Time ``DXF.pull_blob(digest)`` consumed as an iterator, in one process, with one library.

``bench/run.py`` runs this file with the Python of each venv (ours, python-dxf 12.1.1's), so
``import dxf`` picks the library under test. ``--chunk-size`` is passed as ``chunk_size=``; without
it, the library's default applies (8192 bytes in both, as python-dxf documents). Only the iteration is
timed (the GET is sent by ``pull_blob`` itself, so it is inside the timing too); interpreter start is
not. Prints ``{"s": <seconds>, "bytes": <bytes seen>}``.
"""

from __future__ import annotations

import argparse
import json
import time

import dxf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--digest", required=True)
    parser.add_argument("--chunk-size", type=int)
    args = parser.parse_args()
    kwargs = {"chunk_size": args.chunk_size} if args.chunk_size else {}
    with dxf.DXF(args.host, args.repo, insecure=True) as client:
        start = time.perf_counter()
        seen = 0
        for chunk in client.pull_blob(args.digest, **kwargs):
            seen += len(chunk)
        elapsed = time.perf_counter() - start
    print(json.dumps({"s": elapsed, "bytes": seen}))


if __name__ == "__main__":
    main()
