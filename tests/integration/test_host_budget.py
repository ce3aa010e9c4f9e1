"""Many transfers to one host share one budget and back off together (issue 13, part 4), whose
ceiling the command takes from ``DXF_HOST_REQUESTS`` (issue 14).

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
from dxf.main import run_command
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


@pytest.mark.usefixtures("clean_dxf_environment")
@pytest.mark.parametrize(("setting", "most"), [("2", 2), (None, None)], ids=["DXF_HOST_REQUESTS=2", "unset"])
def test_the_command_takes_its_host_budget_from_dxf_host_requests(
    proxy: FaultProxy,
    repo_name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    record_property: Record,
    setting: str | None,
    most: int | None,
) -> None:
    """``push-blobs --jobs 8`` of 4 MiB files: with ``DXF_HOST_REQUESTS=2`` the registry never has
    more than 2 of the command's requests at once (the proxy counts them from forwarded head to last
    byte back); unset, the 8 transfers overlap well past 2, so the first case measures the setting."""
    files = []
    for index in range(8):
        path = tmp_path / f"f{index}"
        path.write_bytes(os.urandom(4 * 1024 * 1024))
        files.append(str(path))
    env = {"DXF_HOST": proxy.host, "DXF_INSECURE": "1"}
    if setting is not None:
        env["DXF_HOST_REQUESTS"] = setting
    assert run_command(["push-blobs", repo_name, "--jobs", "8", *files], env) == 0
    assert len(capsys.readouterr().out.split()) == len(files)
    if most is not None:
        assert proxy.peak_in_flight <= most, proxy.stats()
    else:
        assert proxy.peak_in_flight > 2, proxy.stats()
    record_property("peak_in_flight", proxy.peak_in_flight)


@pytest.mark.usefixtures("clean_dxf_environment")
@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "nan"])
def test_a_bad_dxf_host_requests_is_one_line_and_exit_2(
    proxy: FaultProxy, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    env = {"DXF_HOST": proxy.host, "DXF_INSECURE": "1", "DXF_HOST_REQUESTS": value}
    assert run_command(["list-repos"], env) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"dxf: list-repos: DXF_HOST_REQUESTS must be a positive integer, not {value!r}\n"
    assert proxy.request_heads == []  # refused before anything was sent
