"""Redirects without end (issue #14): a blob GET or HEAD redirected to itself, between two URLs, or
through an endless chain of fresh URLs, and a token realm that redirects in a loop.

dxf follows at most :data:`dxf.transport.MAX_REDIRECTS` (10) hops, as README says: the stub counts
the requests (the first plus 10 followed, never more), the module raises requests'
``TooManyRedirects`` (python-dxf let requests follow and raise the same type), and the command says
so in one line. The stub answers every hop at once, so a client without the limit would spin
forever, bounded here only by the subprocess timeout.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable

import pytest
import requests

import dxf
from dxf.transport import MAX_REDIRECTS
from harness.command import RSS_BOUND, STUB_PASSWORD, run_dxf, token_env
from harness.pki import PkiPaths
from harness.stub import Reply, StubRequest, StubServer

REPO = "team/data"
DIGEST = "sha256:" + hashlib.sha256(b"never served").hexdigest()
BLOB_PATH = f"/v2/{REPO}/blobs/{DIGEST}"
JSON = {"Content-Type": "application/json"}


def _redirecting(kind: str) -> Callable[[StubRequest], Reply]:
    """Blob requests (and every hop) answered 302: to the same URL, between two URLs, or each to a
    URL never seen before."""
    fresh = itertools.count(1)

    def answer(request: StubRequest) -> Reply:
        if request.path == "/v2/":
            return Reply(200, JSON, b"{}")
        if kind == "self":
            location = request.path
        elif kind == "ping-pong":
            location = "/elsewhere" if request.path == BLOB_PATH else BLOB_PATH
        else:
            location = f"/hop/{next(fresh)}"
        return Reply(302, {"Location": location, "Content-Length": "0"}, b"")

    return answer


KINDS = ["self", "ping-pong", "endless"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_blob_redirect_loop_stops_at_the_hop_limit(
    kind: str, method: str, record_property: Callable[[str, object], None]
) -> None:
    with StubServer(_redirecting(kind)) as server:
        client = dxf.DXF(server.host, REPO, insecure=True)
        call = (lambda: client.pull_blob(DIGEST)) if method == "GET" else (lambda: client.blob_size(DIGEST))
        loop = f"more than {MAX_REDIRECTS} redirects"
        with pytest.raises(requests.exceptions.TooManyRedirects, match=loop):
            call()
        requests_seen = [r for r in server.seen if r.path != "/v2/"]
    assert len(requests_seen) == MAX_REDIRECTS + 1
    assert {r.method for r in requests_seen} == {method}
    record_property("requests_seen", len(requests_seen))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", ["pull-blob", "blob-size"])
def test_the_command_reports_a_redirect_loop_in_one_line(
    kind: str, command: str, record_property: Callable[[str, object], None]
) -> None:
    with StubServer(_redirecting(kind)) as server:
        done = run_dxf([command, REPO, DIGEST], {"DXF_HOST": server.host, "DXF_INSECURE": "1"})
        requests_seen = len([r for r in server.seen if r.path != "/v2/"])
    line = done.one_line_failure()
    assert f"more than {MAX_REDIRECTS} redirects" in line and "stopped before http://127.0.0.1:" in line
    assert requests_seen == MAX_REDIRECTS + 1  # never retried: a loop is not a transient failure
    assert done.stdout == b""
    record_property("exit_code", done.returncode)
    record_property("requests_seen", requests_seen)
    assert done.peak_rss < RSS_BOUND, done.peak_rss_mib
    record_property("peak_rss_mib", done.peak_rss_mib)


def test_a_token_realm_that_redirects_in_a_loop_stops(
    harness_pki: PkiPaths, record_property: Callable[[str, object], None]
) -> None:
    host = ""

    def answer(request: StubRequest) -> Reply:
        if request.path.startswith("/token"):
            return Reply(302, {"Location": request.path, "Content-Length": "0"}, b"")
        challenge = f'Bearer realm="https://{host}/token",service="stub"'
        return Reply(401, {"WWW-Authenticate": challenge, **JSON}, b'{"errors": []}')

    tls = (str(harness_pki.server_cert), str(harness_pki.server_key))
    with StubServer(answer, tls=tls) as server:
        host = server.host
        done = run_dxf(["list-aliases", REPO], token_env(server.host, str(harness_pki.ca_cert)))
        token_requests = len([r for r in server.seen if r.path.startswith("/token")])
    line = done.one_line_failure()
    assert f"more than {MAX_REDIRECTS} redirects" in line and STUB_PASSWORD not in line
    assert token_requests == MAX_REDIRECTS + 1
    record_property("exit_code", done.returncode)
    record_property("token_requests", token_requests)
    assert done.peak_rss < RSS_BOUND, done.peak_rss_mib
    record_property("peak_rss_mib", done.peak_rss_mib)
