"""Blob bodies read straight into reused buffers (issue #13, part 5; ``dxf.body``).

A plain body of known length is read with ``http.client``'s ``readinto`` into a few buffers used in
turn; the hashing thread may still be reading one of them, so a buffer is refilled only once its
bytes are hashed, and no more than ``HASH_QUEUE_DEPTH`` chunks wait for the hasher. Compressed and
chunked bodies keep urllib3's path. The connection goes back to the pool after a body read to its
end, and a cut in the middle resumes as before.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

import dxf
from dxf.download import HASH_QUEUE_DEPTH, THREADED_HASH_THRESHOLD, BlobReader
from harness.blobserver import BlobServer
from harness.proxy import FaultProxy
from harness.registry import RegistryProcess

MIB = 1024 * 1024


def _client(host: str) -> dxf.DXF:
    return dxf.DXF(host, "direct/reads", insecure=True)


def _reader(client: dxf.DXF, digest: str, **kwargs: object) -> BlobReader:
    reader = client.pull_blob(digest, chunk_size=MIB, **kwargs)  # type: ignore[arg-type]
    assert isinstance(reader, BlobReader)
    return reader


def _reader_default(client: dxf.DXF, digest: str) -> BlobReader:
    reader = client.pull_blob(digest)
    assert isinstance(reader, BlobReader)
    return reader


def test_a_plain_body_fills_one_reused_buffer(registry_plain: RegistryProcess) -> None:
    blob = os.urandom(3 * MIB + 5)
    client = _client(registry_plain.host)
    digest = client.push_blob(data=blob, digest=dxf.hash_bytes(blob))
    pieces: list[bytes] = []
    buffers: set[int] = set()
    for view in _reader(client, digest).views():
        assert isinstance(view, memoryview)
        buffers.add(id(view.obj))
        pieces.append(bytes(view))
    assert b"".join(pieces) == blob
    assert [len(p) for p in pieces] == [MIB, MIB, MIB, 5]
    assert len(buffers) == 1  # a small blob is hashed inline: one buffer serves every read
    # the public iterator still yields bytes of python-dxf's chunk size
    chunks = list(_reader_default(client, digest))
    assert all(type(c) is bytes for c in chunks) and len(chunks[0]) == 8192
    assert b"".join(chunks) == blob


@pytest.mark.parametrize("behaviour", ["gzip", "chunked"])
def test_compressed_and_chunked_bodies_keep_urllib3s_path(behaviour: str) -> None:
    blob = os.urandom(2 * MIB)
    with BlobServer(blob, behaviour) as server:
        pieces = list(_reader(_client(server.host), server.digest).views())
    assert all(type(p) is bytes for p in pieces)  # urllib3's, decoded and framed by it
    assert b"".join(pieces) == blob


class _GatedHash:
    """A SHA-256 that holds its first update until told, and checks that every piece it is given
    still holds the blob's bytes at that offset when it gets to hash it."""

    def __init__(self, blob: bytes) -> None:
        self._blob = blob
        self._hash = hashlib.sha256()
        self._offset = 0
        self.gate = threading.Event()
        self.stale: list[int] = []

    def update(self, piece: bytes | memoryview) -> None:
        if not self.gate.wait(timeout=30):
            raise AssertionError("gate never opened")
        if bytes(piece) != self._blob[self._offset : self._offset + len(piece)]:
            self.stale.append(self._offset)
        self._offset += len(piece)
        self._hash.update(piece)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def test_buffers_wait_for_the_hashing_thread(registry_plain: RegistryProcess) -> None:
    blob = os.urandom(THREADED_HASH_THRESHOLD + 4 * MIB)
    client = _client(registry_plain.host)
    digest = client.push_blob(data=blob, digest=dxf.hash_bytes(blob))
    seed = _GatedHash(blob)
    repo = client._handle  # the registry repository the client reads from
    reader = BlobReader(repo, dxf.Digest.parse(digest), MIB, seed=seed)  # type: ignore[arg-type]
    received: list[bytes] = []
    progressed = threading.Condition()
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            for view in reader.views():
                with progressed:
                    received.append(bytes(view))
                    progressed.notify_all()
        except BaseException as error:  # reported by the test below
            errors.append(error)

    consumer = threading.Thread(target=consume)
    consumer.start()
    with progressed:
        assert progressed.wait_for(lambda: len(received) >= HASH_QUEUE_DEPTH, timeout=30)
        # the first chunk is not hashed yet: the reader must not run further ahead (bounded memory,
        # and the next read would go into a buffer the hasher still has to read)
        assert not progressed.wait_for(lambda: len(received) > HASH_QUEUE_DEPTH, timeout=0.5)
    seed.gate.set()
    consumer.join(timeout=60)
    assert not errors and not consumer.is_alive()
    assert b"".join(received) == blob
    assert seed.stale == []


def test_the_connection_goes_back_to_the_pool(proxy: FaultProxy, tmp_path: Path) -> None:
    blob = os.urandom(2 * MIB)
    client = _client(proxy.host)
    digest = client.push_blob(data=blob, digest=dxf.hash_bytes(blob))
    before = proxy.stats()["connections"]
    assert b"".join(bytes(v) for v in _reader(client, digest).views()) == blob
    assert client.pull_blob_to_file(digest, str(tmp_path / "f")) == len(blob)
    assert proxy.stats()["connections"] == before  # all on the connection the upload opened


def test_a_cut_in_a_direct_read_resumes_from_there(proxy: FaultProxy, tmp_path: Path) -> None:
    blob = os.urandom(6 * MIB)
    client = _client(proxy.host)
    digest = client.push_blob(data=blob, digest=dxf.hash_bytes(blob))
    proxy.cut_after(3 * MIB, direction="downstream")
    assert b"".join(bytes(v) for v in _reader(client, digest).views()) == blob
    assert proxy.stats()["cuts"] == 1
    ranges = [h for h in proxy.request_heads if b"range: bytes=" in h.lower()]
    assert len(ranges) == 1 and b"bytes=0-" not in ranges[0].lower()


def test_a_stalled_direct_read_times_out_and_resumes(proxy: FaultProxy) -> None:
    blob = os.urandom(4 * MIB)
    digest = _client(proxy.host).push_blob(data=blob, digest=dxf.hash_bytes(blob))
    client = dxf.DXF(proxy.host, "direct/reads", insecure=True, timeout=0.5)
    proxy.stall_after(2 * MIB)
    try:
        assert b"".join(bytes(v) for v in _reader(client, digest).views()) == blob
    finally:
        proxy.release_stalls()
    assert proxy.stats()["stalls"] == 1
    ranges = [h for h in proxy.request_heads if b"range: bytes=" in h.lower()]
    assert len(ranges) == 1 and b"bytes=0-" not in ranges[0].lower()
