"""Run the ``dxf`` command as a child process and measure it: exit status, output, and peak RSS.

The peak RSS is read by a small probe process that starts the command and reports its
``RUSAGE_CHILDREN`` ``ru_maxrss``: measured from the test process itself, the figure would include
the test process's own pages (Linux keeps the larger of a child's RSS before and after ``exec``, and
pytest holding test blobs is far larger than the command). A command still running after
``timeout`` seconds is killed with its probe, so a command that would hang fails its test instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from dxf.main import run_command

__all__ = ["RSS_BOUND", "STUB_PASSWORD", "Finished", "run_dxf", "run_in_process", "token_env", "wait_for"]

MIB = 1024 * 1024
#: What a command that holds no body in memory may peak at: the interpreter, requests and dxf take
#: about 30 MiB here, and the hostile servers serve 100 MiB bodies a command must not hold.
RSS_BOUND = 64 * MIB
#: The password commands are given against the stub token servers: no message may ever show it.
STUB_PASSWORD = "s3cret-pw"


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: bytes
    stderr: str
    peak_rss: int  # bytes
    killed: bool

    @property
    def peak_rss_mib(self) -> float:
        return round(self.peak_rss / MIB, 1)

    def one_line_failure(self, code: int = 1) -> str:
        """The one error line, checked: exit status ``code``, one line, ``dxf: `` prefix, no traceback."""
        assert not self.killed, "the command was still running at its timeout"
        assert self.returncode == code, (self.returncode, self.stderr)
        lines = self.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("dxf: "), self.stderr
        assert "Traceback" not in self.stderr
        return lines[0]


#: Runs argv[2:], writes its peak RSS in KiB to the file argv[1], exits with its status.
_PROBE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[2:]).returncode
with open(sys.argv[1], "w") as report:
    report.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code if code >= 0 else 128 - code)
"""


def run_dxf(args: list[str], env: Mapping[str, str], *, timeout: float = 60.0) -> Finished:
    """``python -m dxf ARGS`` with only ``env`` (plus PATH and PYTHONPATH) in its environment."""
    inherited = {key: os.environ[key] for key in ("PATH", "PYTHONPATH") if key in os.environ}
    with tempfile.TemporaryDirectory() as scratch:
        rss_file = Path(scratch) / "rss"
        probe = subprocess.Popen(
            [sys.executable, "-c", _PROBE, str(rss_file), sys.executable, "-m", "dxf", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**inherited, **env},
            start_new_session=True,
        )
        killed = False
        try:
            out, err = probe.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            killed = True
            os.killpg(probe.pid, signal.SIGKILL)
            out, err = probe.communicate()
        peak_kib = int(rss_file.read_text() or 0) if rss_file.exists() else 0
    return Finished(
        returncode=probe.returncode,
        stdout=out,
        stderr=err.decode("utf-8", "replace"),
        peak_rss=peak_kib * 1024,
        killed=killed,
    )


def token_env(host: str, ca_cert: str, **extra: str) -> dict[str, str]:
    """The environment of a command talking to a TLS stub registry at ``host`` that asks for a
    token: the test process's environment without its ``DXF_*`` variables, the harness CA, user
    ``fred`` with :data:`STUB_PASSWORD`, and ``extra`` (e.g. ``DXF_RETRIES="0"``)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DXF_")}
    env.update(
        {"DXF_HOST": host, "DXF_TLSVERIFY": ca_cert, "DXF_USERNAME": "fred", "DXF_PASSWORD": STUB_PASSWORD}
    )
    env.update(extra)
    return env


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll ``condition`` (an observable state of a child process: a file's size, a proxy's
    counters) until it holds, failing the test after ``timeout`` seconds. A child process cannot
    signal a condition variable of ours, so this polls, every 10 ms."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def run_in_process(
    argv: list[str], env: dict[str, str], capsysbinary: pytest.CaptureFixture[bytes]
) -> tuple[int, str, str]:
    """The command run in this process (:func:`dxf.main.run_command`): its exit status, and what it
    wrote to standard output and standard error, as text."""
    code = run_command(argv, env)
    captured = capsysbinary.readouterr()
    return code, captured.out.decode(), captured.err.decode()
