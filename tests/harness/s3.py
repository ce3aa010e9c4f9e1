"""A local S3 server for a registry that keeps its blobs in object storage.

``MotoS3()`` runs ``moto_server`` (PyPI ``moto[server]``) on a free loopback port and creates a
bucket. Put a :class:`harness.proxy.FaultProxy` in front of it and give the proxy's URL to the
registry (``start_registry(..., s3=S3Storage(proxy.url, bucket))``): the registry's s3-aws driver
then answers blob reads with a 307 to a presigned URL on the proxy, and the proxy records every
request head that reaches the S3 host (``request_heads``), whoever sent it.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import time

from harness.registry import free_port

__all__ = ["MotoS3"]

START_TIMEOUT = 30.0


class MotoS3:
    """``moto_server`` on ``127.0.0.1:<free port>`` with bucket :attr:`bucket`; a context manager."""

    def __init__(self, bucket: str = "dxf-registry") -> None:
        self.bucket = bucket
        self.port = free_port()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            self._wait_until_up()
            self._request("PUT", f"/{bucket}")
        except BaseException:
            self.close()
            raise

    def _request(self, method: str, path: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(method, path)
            return conn.getresponse().status
        finally:
            conn.close()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with status {self._proc.returncode} at start")
            try:
                self._request("GET", "/")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not answer within {START_TIMEOUT:.0f} s") from None
            time.sleep(0.05)  # readiness polling interval

    def close(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> MotoS3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
