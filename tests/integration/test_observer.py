"""The request observer (``dxf.transport.observe``): every exchange on the wire, nothing secret in it."""

from __future__ import annotations

import hashlib

import pytest
import requests

import dxf
from dxf.transport import REDACTED, Exchange, observe
from harness.hooks import Exchanges
from harness.registry import PASSWORD, USERNAME, RegistryProcess, free_port
from harness.stub import Reply, StubRequest, StubServer

BLOB = b"observed blob"
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


def _redirecting_to_signed_storage(request: StubRequest) -> Reply:
    """A registry whose blob reads redirect to a presigned URL on the same host."""
    if request.path.endswith(f"/blobs/{DIGEST}"):
        return Reply(307, {"Location": "/storage/blob?X-Signature=storage-secret", "Content-Length": "0"})
    if request.path.startswith("/storage/blob"):
        return Reply(200, {"Content-Type": "application/octet-stream"}, BLOB)
    return Reply(404)


def test_credentials_never_reach_the_observer(
    registry_basic: RegistryProcess, repo_name: str, exchanges: Exchanges
) -> None:
    def auth(obj: dxf.DXFBase, response: requests.Response) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)

    client = dxf.DXF(registry_basic.host, repo_name, auth, tlsverify=registry_basic.ca_bundle or True)
    digest = client.push_blob(data=[BLOB], digest=DIGEST)
    assert client.blob_size(digest) == len(BLOB)

    seen = exchanges.to(registry_basic.host)
    assert seen[0].status == 401 and "Authorization" not in seen[0].request_headers
    authorized = [e for e in seen if "Authorization" in e.request_headers]
    assert authorized and {e.request_headers["Authorization"] for e in authorized} == {f"Basic {REDACTED}"}
    assert ("HEAD", f"{registry_basic.url}/v2/{repo_name}/blobs/{digest}", 200) in exchanges.calls(
        registry_basic.host
    )
    secret = dxf.auth.basic_header(USERNAME, PASSWORD).split()[1]
    assert not any(s in repr(e) for e in seen for s in (PASSWORD, secret, "_state"))


def test_each_redirect_hop_is_one_exchange_without_its_query(exchanges: Exchanges) -> None:
    with StubServer(_redirecting_to_signed_storage) as server:
        client = dxf.DXF(server.host, "team/data", insecure=True, retries=0)
        assert b"".join(client.pull_blob(DIGEST)) == BLOB  # type: ignore[arg-type]
    assert exchanges.calls(server.host) == [
        ("GET", f"http://{server.host}/v2/team/data/blobs/{DIGEST}", 307),
        ("GET", f"http://{server.host}/storage/blob", 200),
    ]
    assert [r.path for r in server.seen][-1] == "/storage/blob?X-Signature=storage-secret"


def test_a_request_without_answer_is_reported_with_its_error() -> None:
    seen: list[Exchange] = []
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    client = dxf.DXF(host, "team/data", insecure=True, retries=1)
    with observe(seen.append), pytest.raises(requests.exceptions.ConnectionError):
        client.list_aliases()
    assert [(e.method, e.status, e.error) for e in seen] == [("GET", None, "ConnectionError")] * 2
    with pytest.raises(requests.exceptions.ConnectionError):
        client.list_aliases()
    assert len(seen) == 2  # the block is over: nothing more is reported
