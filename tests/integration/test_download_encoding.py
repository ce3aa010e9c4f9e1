"""What a blob GET asks for and how its bytes come back (issue #7: items 2 and 4).

* ``Accept-Encoding: identity`` on blob GETs; a server that compresses anyway (``Content-Encoding:
  gzip``) has its encoding undone, and the digest is checked over the blob's own bytes, for every
  way of pulling.
* ``pull_blob`` yields 8192-byte chunks by default, as python-dxf documents; file downloads and the
  ``pull-blob`` command keep large reads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import dxf
from dxf.main import doit
from dxf.transfer import DEFAULT_DOWNLOAD_CHUNK
from harness.blobserver import BlobServer
from harness.registry import RegistryProcess, harness_env

BLOB = os.urandom(300_000)


@pytest.fixture
def gzipping() -> Any:
    with BlobServer(BLOB, "gzip") as server:
        yield server


def test_a_compressed_response_verifies_everywhere(
    gzipping: BlobServer, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    client = dxf.DXF(gzipping.host, "team/data", insecure=True, retries=0)
    digest = gzipping.digest
    assert b"".join(client.pull_blob(digest)) == BLOB  # type: ignore[arg-type]
    chunks, size = client.pull_blob(digest, size=True)
    assert b"".join(chunks) == BLOB and size is None  # type: ignore[arg-type]  # the only length on offer is the compressed one
    assert client.pull_blob_to_file(digest, str(tmp_path / "f")) == len(BLOB)
    assert (tmp_path / "f").read_bytes() == BLOB
    [path] = client.pull_blobs([digest], str(tmp_path / "d"))
    assert Path(path).read_bytes() == BLOB

    env = {"DXF_HOST": gzipping.host, "DXF_INSECURE": "1"}
    assert doit(["pull-blob", "team/data", digest], env) == 0
    assert capsysbinary.readouterr().out == BLOB
    assert doit(["pull-blob", "team/data", digest, "-o", str(tmp_path / "o")], env) == 0
    assert (tmp_path / "o").read_bytes() == BLOB
    assert doit(["pull-blobs", "team/data", "--output-dir", str(tmp_path / "p"), digest], env) == 0
    assert (tmp_path / "p" / digest.replace(":", "-")).read_bytes() == BLOB


def test_blob_gets_ask_for_the_identity_encoding(gzipping: BlobServer, tmp_path: Path) -> None:
    client = dxf.DXF(gzipping.host, "team/data", insecure=True, retries=0)
    b"".join(client.pull_blob(gzipping.digest))  # type: ignore[arg-type]
    client.pull_blob_to_file(gzipping.digest, str(tmp_path / "f"))
    gets = [headers for method, headers in gzipping.blob_requests() if method == "GET"]
    assert len(gets) == 2
    assert all(headers.get("Accept-Encoding") == "identity" for headers in gets), gets


# -- chunk sizes ------------------------------------------------------------------------------------


@pytest.fixture
def big_blob(registry_plain: RegistryProcess, repo_name: str) -> tuple[dxf.DXF, str, bytes]:
    client = dxf.DXF(registry_plain.host, repo_name, insecure=True)
    data = os.urandom(3 * 1024 * 1024 + 5)
    return client, client.push_blob(data=data, digest=dxf.hash_bytes(data)), data


def test_pull_blob_yields_8192_byte_chunks_by_default(big_blob: tuple[dxf.DXF, str, bytes]) -> None:
    client, digest, data = big_blob
    chunks: list[bytes] = list(client.pull_blob(digest))  # type: ignore[arg-type]
    assert b"".join(chunks) == data
    assert all(len(chunk) == 8192 for chunk in chunks[:-1]) and 0 < len(chunks[-1]) <= 8192
    bigger: list[bytes] = list(client.pull_blob(digest, chunk_size=1024 * 1024))  # type: ignore[arg-type]
    assert len(bigger[0]) == 1024 * 1024


def test_files_and_the_command_keep_large_reads(
    big_blob: tuple[dxf.DXF, str, bytes],
    registry_plain: RegistryProcess,
    repo_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, digest, _ = big_blob
    seen: list[int] = []
    client.pull_blob_to_file(digest, str(tmp_path / "f"), lambda _d, chunk, _t: seen.append(len(chunk)))
    assert max(seen) == DEFAULT_DOWNLOAD_CHUNK

    asked: list[Any] = []
    pull_blob = dxf.DXF.pull_blob

    def spy(self: dxf.DXF, *args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("chunk_size"))
        return pull_blob(self, *args, **kwargs)

    monkeypatch.setattr(dxf.DXF, "pull_blob", spy)
    env = harness_env(registry_plain)
    assert doit(["pull-blob", repo_name, digest, "-o", "-"], env) == 0
    assert doit(["pull-blob", repo_name, digest], {**env, "DXF_CHUNK_SIZE": "4096"}) == 0
    assert asked == [DEFAULT_DOWNLOAD_CHUNK, 4096]
