"""Other lies a server can tell (issue #14): a ``Content-Length`` larger than the body it sends before
closing the connection, a ``Docker-Content-Digest`` that is not the manifest's, an upload
``Location`` on another host. Each: one clear error, nothing wrong presented as complete, and for
the download, a part file that the next ``--resume`` completes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import dxf
from dxf import exceptions as ex
from dxf.digest import Digest
from dxf.download import partial_path
from dxf.manifest import DOCKER_MANIFEST_V2
from harness.command import RSS_BOUND, run_dxf
from harness.stub import Reply, StubRequest, StubServer

REPO = "team/data"
BLOB = os.urandom(4 * 1024 * 1024)
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
JSON = {"Content-Type": "application/json"}


def _env(host: str) -> dict[str, str]:
    return {"DXF_HOST": host, "DXF_INSECURE": "1", "DXF_RETRIES": "0"}


def test_a_body_shorter_than_its_content_length_keeps_a_good_part(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """The server promises the whole blob, sends part of it and hangs up: the command says the blob is
    incomplete, the part file holds a prefix of the blob (what arrived, less the piece being read
    when the connection broke), and an honest server's answer completes it."""
    sent = len(BLOB) * 5 // 8
    honest = [False]

    def answer(request: StubRequest) -> Reply:
        if not request.path.endswith(DIGEST):
            return Reply(200, JSON, b"{}")
        if honest[0]:
            first = int(request.headers["Range"].removeprefix("bytes=").rstrip("-"))
            headers = {"Content-Range": f"bytes {first}-{len(BLOB) - 1}/{len(BLOB)}"}
            return Reply(206, headers, BLOB[first:])
        headers = {"Content-Length": str(len(BLOB)), "Connection": "close"}
        return Reply(200, headers, BLOB[:sent])

    target = tmp_path / "out.bin"
    part = Path(partial_path(str(target), Digest.parse(DIGEST)))
    argv = ["pull-blob", REPO, DIGEST, "-o", str(target), "--resume"]
    with StubServer(answer) as server:
        done = run_dxf(argv, _env(server.host))
        line = done.one_line_failure()
        assert "closed by the server before the response was complete" in line, line
        kept = part.read_bytes()
        assert not target.exists() and BLOB.startswith(kept) and len(kept) > 0
        honest[0] = True
        assert run_dxf(argv, _env(server.host)).returncode == 0
    assert target.read_bytes() == BLOB and not part.exists()
    assert done.peak_rss < RSS_BOUND
    record_property("exit_code", done.returncode)
    record_property("part_bytes_kept", len(kept))
    record_property("peak_rss_mib", done.peak_rss_mib)
    record_property("completed_after_resume", "1/1")


def test_a_manifest_shorter_than_its_content_length_is_an_error(
    record_property: Callable[[str, object], None],
) -> None:
    def answer(request: StubRequest) -> Reply:
        headers = {"Content-Type": DOCKER_MANIFEST_V2, "Content-Length": "5000", "Connection": "close"}
        return Reply(200, headers, b'{"schemaVersion": 2')

    with StubServer(answer) as server:
        done = run_dxf(["get-alias", REPO, "latest"], _env(server.host))
    assert "closed by the server before the response was complete" in done.one_line_failure()
    record_property("exit_code", done.returncode)


def test_a_docker_content_digest_that_is_not_the_manifests_is_refused(
    record_property: Callable[[str, object], None],
) -> None:
    config = {"mediaType": "application/octet-stream", "size": len(BLOB), "digest": DIGEST}
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST_V2, "config": config, "layers": [config]}
    ).encode()
    wrong = "sha256:" + hashlib.sha256(manifest + b" ").hexdigest()

    def answer(request: StubRequest) -> Reply:
        headers = {"Content-Type": DOCKER_MANIFEST_V2, "Docker-Content-Digest": wrong}
        return Reply(200, headers, manifest)

    with StubServer(answer) as server:
        client = dxf.DXF(server.host, REPO, insecure=True, retries=0)
        with pytest.raises(ex.DXFDigestMismatchError):
            client.get_alias("latest")
        done = run_dxf(["get-alias", REPO, "latest"], _env(server.host))
    line = done.one_line_failure()
    assert "content does not match its digest" in line and wrong in line
    assert done.stdout == b""
    record_property("exit_code", done.returncode)


def test_an_upload_location_on_another_host_is_refused(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """Our credentials would go there: the upload stops before a byte of the blob leaves."""
    with StubServer(lambda _request: Reply(202, {"Content-Length": "0"}, b"")) as elsewhere:

        def answer(request: StubRequest) -> Reply:
            if request.method == "POST":
                return Reply(202, {"Location": f"http://{elsewhere.host}/upload/1", "Content-Length": "0"})
            if request.method == "HEAD":
                return Reply(404, {"Content-Length": "0"})
            return Reply(200, JSON, b"{}")

        source = tmp_path / "blob.bin"
        source.write_bytes(BLOB)
        with StubServer(answer) as server:
            client = dxf.DXF(server.host, REPO, insecure=True, retries=0)
            with pytest.raises(ex.DXFSecurityError, match="it is not the registry's origin"):
                client.push_blob(str(source))
            done = run_dxf(["push-blob", REPO, str(source)], _env(server.host))
            sent_bodies = sum(len(r.body) for r in server.seen)
        assert elsewhere.seen == []
    assert "it is not the registry's origin" in done.one_line_failure()
    assert sent_bodies == 0
    record_property("exit_code", done.returncode)
    record_property("requests_to_other_host", len(elsewhere.seen))
