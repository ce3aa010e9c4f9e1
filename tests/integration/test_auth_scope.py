"""Tokens are filed under the scope of the request that was challenged, passed explicitly (issue #9).

A direct ``authenticate()`` answers no request of the caller's, so its token must not replace the
cached token of whatever request the same thread happened to send last.
"""

from __future__ import annotations

import requests

import dxf
from dxf import DXF, DXFBase
from harness.registry import PASSWORD, USERNAME, RegistryProcess


def test_direct_authenticate_keeps_the_push_token_of_the_last_request(
    registry_token: RegistryProcess, repo_name: str
) -> None:
    challenged: list[str] = []

    def auth(obj: DXFBase, response: requests.Response) -> None:
        challenged.append(str(response.request.method))
        obj.authenticate(USERNAME, PASSWORD, response=response)

    with DXF(registry_token.host, repo_name, auth, tlsverify=registry_token.ca_bundle or True) as client:
        client.push_blob(data=b"first", digest=dxf.hash_bytes(b"first"))  # last request: a push (PUT)
        assert "POST" in challenged  # the push token was bought on demand
        client.authenticate(USERNAME, PASSWORD, actions=["pull"])  # a pull-only token, asked for directly
        challenged.clear()
        client.push_blob(data=b"second", digest=dxf.hash_bytes(b"second"))
        assert challenged == []  # the push token was still there: no 401, no new token
        assert list(client.pull_blob(dxf.hash_bytes(b"second"))) == [b"second"]
