"""Credentials stay with the host they belong to.

Registries backed by object storage answer blob GETs with a redirect to a storage host, and an upload
``Location`` is whatever the registry says. The filesystem-backed test registry never redirects, so
these tests stand up two tiny local HTTPS servers (the harness CA's certificate): a front that redirects
like such a registry, and a "storage" host that records what it receives. (Over plain HTTP no
credential is sent at all; see test_plain_http_credentials.py.)
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import dxf
from dxf import exceptions as ex
from harness.pki import PkiPaths

BLOB = b"stored elsewhere"
DIGEST = dxf.hash_bytes(BLOB)
TOKEN = "secret-token-value"


@dataclass
class Recorder:
    server: ThreadingHTTPServer
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"


def _serve(handler_factory: type[BaseHTTPRequestHandler], pki: PkiPaths) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_factory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def storage(harness_pki: PkiPaths) -> Iterator[Recorder]:
    recorder: Recorder

    class Storage(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            recorder.seen.append(("GET", self.path, self.headers.get("Authorization")))
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOB)))
            self.end_headers()
            self.wfile.write(BLOB)

        do_PUT = do_PATCH = do_GET

    recorder = Recorder(_serve(Storage, harness_pki))
    yield recorder
    recorder.server.shutdown()


@pytest.fixture
def front(storage: Recorder, harness_pki: PkiPaths) -> Iterator[Recorder]:
    recorder: Recorder

    class Front(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, location: str) -> None:
            recorder.seen.append((self.command, self.path, self.headers.get("Authorization")))
            self.send_response(status)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self._answer(307, f"{storage.origin}/bucket/blob?X-Signature=presigned")

        def do_POST(self) -> None:
            self._answer(202, f"{storage.origin}/upload/1")

    recorder = Recorder(_serve(Front, harness_pki))
    yield recorder
    recorder.server.shutdown()


def _client(front: Recorder, pki: PkiPaths) -> dxf.DXF:
    client = dxf.DXF(front.origin.removeprefix("https://"), "team/data", tlsverify=str(pki.ca_cert))
    client.token = TOKEN
    return client


def test_redirect_to_storage_drops_authorization(
    front: Recorder, storage: Recorder, harness_pki: PkiPaths
) -> None:
    client = _client(front, harness_pki)
    assert b"".join(client.pull_blob(DIGEST)) == BLOB  # type: ignore[arg-type]
    assert front.seen[0][2] == f"Bearer {TOKEN}"
    assert storage.seen == [("GET", "/bucket/blob?X-Signature=presigned", None)]


def test_upload_location_on_another_host_is_refused(
    front: Recorder, storage: Recorder, harness_pki: PkiPaths
) -> None:
    client = _client(front, harness_pki)
    with pytest.raises(ex.DXFSecurityError) as info:
        client.push_blob(data=[BLOB], digest=DIGEST, check_exists=False)
    assert "X-Signature" not in str(info.value) and TOKEN not in str(info.value)
    assert storage.seen == []
