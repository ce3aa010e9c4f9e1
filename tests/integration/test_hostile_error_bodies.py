"""Error answers with endless bodies (issue #14): a 500, 404 or 400 whose body is 100 MiB of JSON or of
garbage, with or without ``Content-Length``, to every kind of request that builds an error from a
response: blob and manifest reads (streamed), upload POST/PATCH/PUT, manifest PUT, DELETE (bodies
requests used to read whole), and the token server.

At most :data:`dxf.limits.MAX_ERROR_BODY_SIZE` of an error body is read; one longer than that gives
the status line without details. The stub produces its body lazily and counts what it produced, so
"bounded" is checked on both sides: the client's peak memory (tracemalloc; the command's RSS) and
the bytes the server got to send before the client hung up (socket buffers included, far below the
100 MiB a client reading the whole body would pull).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import dxf
from dxf import exceptions as ex
from dxf.limits import MAX_ERROR_BODY_SIZE
from harness.command import RSS_BOUND, STUB_PASSWORD, run_dxf, token_env
from harness.peak import traced_peak_of
from harness.pki import PkiPaths
from harness.stub import Reply, StubRequest, StubServer

REPO = "team/data"
MIB = 1024 * 1024
FLOOD = 100 * MIB
DATA = b"tiny blob"
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
REASONS = {400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}


@dataclass
class Flood:
    """An error answer with a 100 MiB body made as it is sent; ``produced`` counts its bytes."""

    status: int
    json: bool
    declared: bool
    produced: int = 0
    served: int = field(default=0)

    def reply(self) -> Reply:
        self.served += 1
        headers = {"Content-Type": "application/json" if self.json else "application/octet-stream"}
        if self.declared:
            headers["Content-Length"] = str(FLOOD)
        return Reply(self.status, headers, self._pieces())

    def _pieces(self) -> Iterator[bytes]:
        head = b'{"errors": [{"code": "X", "message": "' if self.json else b"\xff\xfe"
        piece = (b"m" if self.json else b"\x00\xff") * (MIB // (1 if self.json else 2))
        self.produced += len(head)
        yield head
        while self.produced + len(piece) <= FLOOD:
            self.produced += len(piece)
            yield piece
        rest = FLOOD - self.produced
        self.produced += rest
        yield piece[:rest]


def _registry(flood: Flood, operation: str) -> Callable[[StubRequest], Reply]:
    """A registry that works until the request ``operation`` is about, which gets the flood."""

    def answer(request: StubRequest) -> Reply:
        method, path = request.method, request.path.split("?")[0]
        if (method, path) == (*OPERATIONS[operation][0],) or (
            operation == "upload" and path.startswith("/upload/")
        ):
            return flood.reply()
        if path.endswith("/blobs/uploads/"):
            return Reply(202, {"Location": "/upload/1", "Content-Length": "0"}, b"")
        if method == "HEAD" and "/blobs/" in path:
            return Reply(200 if operation == "set-alias" else 404, {"Content-Length": str(len(DATA))}, b"")
        return Reply(200, {"Content-Type": "application/json"}, b"{}")

    return answer


#: operation: ((method, path that gets the flood), module call, command arguments)
OPERATIONS: dict[str, tuple[tuple[str, str], Callable[[dxf.DXF], object], list[str]]] = {
    "pull-blob": (
        ("GET", f"/v2/{REPO}/blobs/{DIGEST}"),
        lambda c: c.pull_blob(DIGEST),
        ["pull-blob", REPO, DIGEST],
    ),
    "get-alias": (
        ("GET", f"/v2/{REPO}/manifests/latest"),
        lambda c: c.get_alias("latest"),
        ["get-alias", REPO, "latest"],
    ),
    "push-blob": (
        ("POST", f"/v2/{REPO}/blobs/uploads/"),
        lambda c: c.push_blob(data=DATA, digest=DIGEST),
        ["push-blob", REPO, "{file}"],
    ),
    "upload": (
        ("-", "/upload/1"),
        lambda c: c.push_blob(data=DATA, digest=DIGEST),
        ["push-blob", REPO, "{file}"],
    ),
    "set-alias": (
        ("PUT", f"/v2/{REPO}/manifests/latest"),
        lambda c: c.set_alias("latest", DIGEST),
        ["set-alias", REPO, "latest", DIGEST],
    ),
    "del-blob": (
        ("DELETE", f"/v2/{REPO}/blobs/{DIGEST}"),
        lambda c: c.del_blob(DIGEST),
        ["del-blob", REPO, DIGEST],
    ),
}
#: (status, JSON body?, Content-Length declared?): each operation meets each kind of flood.
FLOODS = [(500, True, True), (404, False, False), (400, True, False)]


def _expected_type(status: int) -> type[ex.DXFHTTPError]:
    return ex.DXFNotFoundError if status == 404 else ex.DXFHTTPError


@pytest.mark.parametrize(
    ("status", "json", "declared"), FLOODS, ids=["500-json-length", "404-garbage-chunked", "400-json-chunked"]
)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_an_endless_error_body_is_read_within_its_cap(
    operation: str, status: int, json: bool, declared: bool, record_property: Callable[[str, object], None]
) -> None:
    flood = Flood(status, json, declared)
    with StubServer(_registry(flood, operation)) as server:
        client = dxf.DXF(server.host, REPO, insecure=True, retries=0)
        error, peak = traced_peak_of(lambda: OPERATIONS[operation][1](client))
    assert type(error) is _expected_type(status), error
    assert isinstance(error, ex.DXFHTTPError)
    assert str(error).endswith(f"{status} {REASONS[status]}"), str(error)  # no details past the cap
    assert error.errors == [] and len(error.response.content) <= MAX_ERROR_BODY_SIZE + 1
    assert flood.served == (2 if operation == "upload" else 1)  # an upload's failed PUT, then its cancel
    assert peak < 8 * MIB, peak
    assert flood.produced < flood.served * 16 * MIB, flood.produced
    record_property("peak_traced_mib", round(peak / MIB, 1))
    record_property("body_bytes_produced", flood.produced)


@pytest.mark.parametrize("operation", ["pull-blob", "del-blob"])
def test_an_endless_401_body_is_read_within_its_cap(
    operation: str, record_property: Callable[[str, object], None]
) -> None:
    """A 401 with no credentials to answer it: the challenge's body is not read whole either."""
    flood = Flood(401, True, False)

    def answer(_request: StubRequest) -> Reply:
        reply = flood.reply()
        reply.headers["WWW-Authenticate"] = 'Basic realm="stub"'
        return reply

    with StubServer(answer) as server:
        client = dxf.DXF(server.host, REPO, insecure=True, retries=0)
        error, peak = traced_peak_of(lambda: OPERATIONS[operation][1](client))
    assert type(error) is ex.DXFUnauthorizedError, error
    assert peak < 8 * MIB and flood.produced < flood.served * 16 * MIB, (peak, flood.produced)
    record_property("peak_traced_mib", round(peak / MIB, 1))
    record_property("body_bytes_produced", flood.produced)


def test_an_error_body_within_the_cap_keeps_its_details() -> None:
    """The cap drops details only past it: a registry's ordinary error still says why."""
    body = b'{"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry"}]}'

    def answer(request: StubRequest) -> Reply:
        return Reply(404, {"Content-Type": "application/json"}, body)

    with StubServer(answer) as server:
        client = dxf.DXF(server.host, REPO, insecure=True, retries=0)
        for call in (lambda: client.pull_blob(DIGEST), lambda: client.del_blob(DIGEST)):
            with pytest.raises(ex.DXFNotFoundError) as info:
                call()
            assert str(info.value).endswith("404 Not Found (blob unknown to registry)")
            assert info.value.response is not None and info.value.response.content == body


def test_retried_error_answers_are_each_read_within_the_cap(
    record_property: Callable[[str, object], None],
) -> None:
    flood = Flood(503, True, False)
    with StubServer(lambda _request: flood.reply()) as server:
        client = dxf.DXF(server.host, REPO, insecure=True, retries=2)
        client._transport.sleep = lambda _seconds: None  # the back-off is not what is tested here
        error, peak = traced_peak_of(lambda: client.del_blob(DIGEST))
    assert isinstance(error, ex.DXFHTTPError) and error.status_code == 503
    assert flood.served == 3 and peak < 8 * MIB and flood.produced < 3 * 16 * MIB
    record_property("attempts", flood.served)
    record_property("peak_traced_mib", round(peak / MIB, 1))


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_the_command_reports_an_endless_error_body_in_one_line(
    operation: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    source = tmp_path / "tiny.bin"
    source.write_bytes(DATA)
    flood = Flood(500, True, False)
    args = [str(source) if a == "{file}" else a for a in OPERATIONS[operation][2]]
    with StubServer(_registry(flood, operation)) as server:
        done = run_dxf(args, {"DXF_HOST": server.host, "DXF_INSECURE": "1", "DXF_RETRIES": "0"})
    line = done.one_line_failure()
    assert line.endswith("500 Internal Server Error"), line
    assert done.peak_rss < RSS_BOUND, done.peak_rss_mib
    assert flood.produced < 16 * MIB
    record_property("exit_code", done.returncode)
    record_property("peak_rss_mib", done.peak_rss_mib)
    record_property("body_bytes_produced", flood.produced)


@pytest.mark.parametrize("status", [400, 500])
def test_an_endless_token_server_error_is_read_within_its_cap(
    status: int, harness_pki: PkiPaths, record_property: Callable[[str, object], None]
) -> None:
    flood = Flood(status, True, status == 400)
    host = ""

    def answer(request: StubRequest) -> Reply:
        if request.path.startswith("/token"):
            return flood.reply()
        challenge = f'Bearer realm="https://{host}/token",service="stub"'
        return Reply(401, {"WWW-Authenticate": challenge, "Content-Type": "application/json"}, b"{}")

    tls = (str(harness_pki.server_cert), str(harness_pki.server_key))
    with StubServer(answer, tls=tls) as server:
        host = server.host
        env = token_env(server.host, str(harness_pki.ca_cert), DXF_RETRIES="0")
        done = run_dxf(["list-aliases", REPO], env)
    line = done.one_line_failure()
    assert line.endswith(f"token server: {status} {REASONS[status]}") and STUB_PASSWORD not in line, line
    assert done.peak_rss < RSS_BOUND, done.peak_rss_mib
    assert flood.produced < 16 * MIB
    record_property("exit_code", done.returncode)
    record_property("peak_rss_mib", done.peak_rss_mib)
