"""Threads of one client renew an ageing token once, not once each.

Found by the load test (test_load.py): with 8 threads and 5 s tokens, every renewal was bought by
several threads at once (up to 8 token requests, and 8 connections to the token server, where one
does). The clock of :mod:`dxf.auth` is moved forward here so that the cached tokens are past their
refresh point at once, without waiting for them to age.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
import requests

import dxf
import dxf.auth
from harness.registry import PASSWORD, USERNAME, RegistryProcess

THREADS = 8


def _client(registry: RegistryProcess, repo: str) -> dxf.DXF:
    def auth(obj: dxf.DXFBase, response: requests.Response) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)

    return dxf.DXF(registry.host, repo, auth, tlsverify=registry.ca_bundle or True, jobs=THREADS)


def test_threads_sharing_an_aged_token_renew_it_once(
    registry_token: RegistryProcess, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = registry_token.token_server
    assert server is not None
    client = _client(registry_token, repo_name)
    data = b"renewed once"
    digest = client.push_blob(data=[data], digest=dxf.hash_bytes(data))
    assert client.blob_size(digest) == len(data)  # a pull token is cached now

    # An hour later, as far as dxf.auth can tell: every cached token is due for renewal.
    later = SimpleNamespace(monotonic=lambda: time.monotonic() + 3600.0)
    monkeypatch.setattr(dxf.auth, "time", later)
    server.reset_log()
    start = threading.Barrier(THREADS)
    sizes: list[int] = []
    failures: list[BaseException] = []

    def head() -> None:
        start.wait()
        try:
            sizes.append(client.blob_size(digest))
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=head) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()

    assert failures == []
    assert sizes == [len(data)] * THREADS
    granted = [entry for entry in server.requests_log if entry["status"] == 200]
    assert len(granted) == 1, granted
