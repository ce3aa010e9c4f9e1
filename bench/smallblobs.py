"""Push then pull many small blobs through one ``dxf`` library, timing each phase.

``bench/run.py`` runs this file with the Python of each venv: ours (``.venv``) and python-dxf 12.1.1's
(``bench/.work/pydxf-venv``), so ``import dxf`` picks the library under test. It only uses the API the
two share, plus, in ``parallel`` mode, our ``DXF.push_blobs`` / ``DXF.pull_blobs``.

Modes:

* ``serial``: ``push_blob(filename)`` for each file, then ``b"".join(pull_blob(digest))`` for each
  digest, all through one ``with DXF(...)`` client (both libraries then reuse one HTTP session);
* ``parallel``: ``push_blobs(filenames, jobs=N)`` then ``pull_blobs(digests, output_dir, jobs=N)``;
* ``raw`` / ``raw-parallel``: no library, only ``http.client`` on keep-alive connections (one, or one
  per thread for N threads): a monolithic ``POST`` + ``PUT ?digest=`` per blob with the digests known
  in advance and no existence check, then a ``GET`` per blob. What the registry can take from a
  Python client doing the least possible: the ceiling for the two libraries.

Prints one JSON object: ``{"push_s": ..., "pull_s": ..., "count": ..., "bytes": ...}``, plus
``push_registry_cpu_s`` / ``pull_registry_cpu_s`` (CPU seconds the registry spent in each phase) when
given ``--registry-pid``; exits 3 when the library lacks the parallel API, 1 on a wrong result.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class RegistryClock:
    """CPU seconds (user + system) used by the registry process, read from ``/proc/<pid>/stat``."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.marks: list[float] = []

    def mark(self) -> None:
        if self.pid is None:
            return
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        self.marks.append((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))

    def phases(self) -> dict[str, float]:
        if len(self.marks) != 3:
            return {}
        return {
            "push_registry_cpu_s": self.marks[1] - self.marks[0],
            "pull_registry_cpu_s": self.marks[2] - self.marks[1],
        }


CLOCK = RegistryClock(None)


def _expected(files: list[Path]) -> tuple[list[str], list[bytes]]:
    contents = [path.read_bytes() for path in files]
    return ["sha256:" + hashlib.sha256(data).hexdigest() for data in contents], contents


def run_serial(client: Any, files: list[Path], digests: list[str], contents: list[bytes]) -> dict[str, float]:
    CLOCK.mark()
    start = time.perf_counter()
    pushed = [client.push_blob(str(path)) for path in files]
    middle = time.perf_counter()
    CLOCK.mark()
    pulled = [b"".join(client.pull_blob(digest)) for digest in pushed]
    end = time.perf_counter()
    CLOCK.mark()
    if pushed != digests:
        raise SystemExit("push_blob returned unexpected digests")
    if pulled != contents:
        raise SystemExit("pull_blob returned different bytes")
    return {"push_s": middle - start, "pull_s": end - middle}


def run_parallel(
    client: Any, files: list[Path], digests: list[str], contents: list[bytes], out_dir: Path, jobs: int
) -> dict[str, float]:
    if not (hasattr(client, "push_blobs") and hasattr(client, "pull_blobs")):
        print("this dxf has no push_blobs/pull_blobs", file=sys.stderr)
        raise SystemExit(3)
    out_dir.mkdir(parents=True, exist_ok=True)
    CLOCK.mark()
    start = time.perf_counter()
    pushed = client.push_blobs([str(path) for path in files], jobs=jobs)
    middle = time.perf_counter()
    CLOCK.mark()
    client.pull_blobs(digests, str(out_dir), jobs=jobs)
    end = time.perf_counter()
    CLOCK.mark()
    if list(pushed) != digests:
        raise SystemExit("push_blobs returned unexpected digests")
    written = sorted(path for path in out_dir.rglob("*") if path.is_file())
    total = sum(path.stat().st_size for path in written)
    if len(written) != len(files) or total != sum(len(data) for data in contents):
        raise SystemExit(f"pull_blobs wrote {len(written)} files, {total} bytes into {out_dir}")
    found = {"sha256:" + hashlib.sha256(path.read_bytes()).hexdigest() for path in written}
    if found != set(digests):
        raise SystemExit("pull_blobs wrote different bytes")
    return {"push_s": middle - start, "pull_s": end - middle}


class RawClient:
    """One keep-alive HTTP/1.1 connection to a plain-HTTP registry."""

    def __init__(self, host: str, repo: str) -> None:
        self.conn = http.client.HTTPConnection(host, timeout=60)
        self.repo = repo

    def call(self, method: str, target: str, body: bytes | None = None) -> tuple[int, str | None, bytes]:
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        self.conn.request(method, target, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, response.getheader("Location"), data

    def push(self, data: bytes, digest: str) -> None:
        status, location, _ = self.call("POST", f"/v2/{self.repo}/blobs/uploads/")
        if status != 202 or location is None:
            raise SystemExit(f"POST: {status}")
        parts = urlsplit(location)
        query = f"{parts.query}&digest={digest}" if parts.query else f"digest={digest}"
        status, _, _ = self.call("PUT", f"{parts.path}?{query}", data)
        if status != 201:
            raise SystemExit(f"PUT: {status}")

    def pull(self, digest: str) -> bytes:
        status, _, data = self.call("GET", f"/v2/{self.repo}/blobs/{digest}")
        if status != 200:
            raise SystemExit(f"GET: {status}")
        return data


def _spread(jobs: int, count: int, work: Callable[[int, list[int]], None]) -> None:
    """Run ``work(thread_index, item_indexes)`` on ``jobs`` threads, items dealt round-robin."""
    threads = [
        threading.Thread(target=work, args=(t, list(range(t, count, jobs)))) for t in range(min(jobs, count))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_raw(host: str, repo: str, digests: list[str], contents: list[bytes], jobs: int) -> dict[str, float]:
    clients = [RawClient(host, repo) for _ in range(jobs)]
    pulled: list[bytes] = [b""] * len(digests)

    def push(thread: int, items: list[int]) -> None:
        for i in items:
            clients[thread].push(contents[i], digests[i])

    def pull(thread: int, items: list[int]) -> None:
        for i in items:
            pulled[i] = clients[thread].pull(digests[i])

    CLOCK.mark()
    start = time.perf_counter()
    _spread(jobs, len(digests), push)
    middle = time.perf_counter()
    CLOCK.mark()
    _spread(jobs, len(digests), pull)
    end = time.perf_counter()
    CLOCK.mark()
    if pulled != contents:
        raise SystemExit("raw GET returned different bytes")
    return {"push_s": middle - start, "pull_s": end - middle}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--dir", required=True, type=Path, help="directory of the small files to push")
    parser.add_argument("--mode", choices=("serial", "parallel", "raw", "raw-parallel"), default="serial")
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--out-dir", type=Path, help="where pull_blobs writes (parallel mode)")
    parser.add_argument("--registry-pid", type=int, help="report the CPU time this process used per phase")
    args = parser.parse_args()
    CLOCK.pid = args.registry_pid

    files = sorted(path for path in args.dir.iterdir() if path.is_file())
    digests, contents = _expected(files)
    if args.mode.startswith("raw"):
        jobs = args.jobs if args.mode == "raw-parallel" else 1
        times = run_raw(args.host, args.repo, digests, contents, jobs)
        print(json.dumps({**times, **CLOCK.phases(), "count": len(files), "bytes": sum(map(len, contents))}))
        return
    import dxf  # the library under test: whichever venv's Python runs this file

    with dxf.DXF(args.host, args.repo, insecure=True) as client:
        if args.mode == "serial":
            times = run_serial(client, files, digests, contents)
        else:
            if args.out_dir is None:
                parser.error("--out-dir is required in parallel mode")
            times = run_parallel(client, files, digests, contents, args.out_dir, args.jobs)
    print(json.dumps({**times, **CLOCK.phases(), "count": len(files), "bytes": sum(map(len, contents))}))


if __name__ == "__main__":
    main()
