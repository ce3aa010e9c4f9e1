"""Many transfers to one host share one budget and back off together (issue 13, part 4).

The fault proxy plays a rate-limited registry: a request arriving while K others are in flight is
answered 429 by the proxy. 32 parallel uploads must all land, and the 429s stay few: after the
first ones, the client's shared limit drops below K and every thread pauses, instead of each thread
retrying alone until its attempts run out.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import dxf
from harness.figures import Record
from harness.proxy import FaultProxy

JOBS = 32
IN_FLIGHT = 4


@pytest.mark.slow
def test_parallel_pushes_to_a_throttling_host_slow_down_together(
    proxy: FaultProxy, repo_name: str, tmp_path: Path, record_property: Record
) -> None:
    files = []
    for index in range(JOBS):
        path = tmp_path / f"f{index}"
        path.write_bytes(os.urandom(64 * 1024))
        files.append(str(path))
    proxy.throttle_above(IN_FLIGHT)
    with dxf.DXF(proxy.host, repo_name, insecure=True, jobs=JOBS) as client:
        digests = client.push_blobs(files, jobs=JOBS)
        proxy.throttle_above(10_000)
        for digest, name in zip(digests, files, strict=True):
            assert client.pull_blob_to_file(digest, name + ".back") == 64 * 1024
            assert Path(name + ".back").read_bytes() == Path(name).read_bytes()
    # Threads on their own get one 429 each in the first burst alone (all but K of them).
    assert 0 < proxy.throttled < JOBS - IN_FLIGHT, proxy.stats()
    record_property("completed", f"{len(digests)}/{JOBS}")
    record_property("429s", proxy.throttled)
