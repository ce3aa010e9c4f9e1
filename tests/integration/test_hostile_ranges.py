"""Servers whose ``Content-Range`` lies (issue #14): on ``--resume``, on the segments of a download over
several connections, a 200 answered to a ranged GET, a header that is not a byte range.

A small stub (:mod:`harness.stub`) serves one blob and answers ranged GETs as the test says; the real
registry always answers ranges honestly, so it cannot play this part. What must hold every time:
nothing corrupt is ever presented as complete (no target file, or the right one), a resumable part
file only ever holds a prefix of the blob (so the next honest ``--resume`` completes), the command
fails with one line, and the server only ever serves a bounded amount.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import dxf
from dxf import exceptions as ex
from dxf.digest import Digest
from dxf.download import partial_path
from harness.command import RSS_BOUND, run_dxf
from harness.proxy import FaultProxy
from harness.stub import Reply, StubRequest, StubServer

REPO = "team/data"
MIB = 1024 * 1024
BLOB = os.urandom(MIB)
HELD = 256 * 1024  # what an earlier, broken-off run left in the part file
#: A lie: given the asked range (first byte, last byte or None for "to the end"), the reply.
Lie = Callable[[int, int | None], Reply]
_RANGE_RE = re.compile(r"bytes=([0-9]+)-([0-9]*)")


def _digest(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def _honest(blob: bytes) -> Lie:
    def answer(first: int, last: int | None) -> Reply:
        end = len(blob) - 1 if last is None else last
        headers = {"Content-Range": f"bytes {first}-{end}/{len(blob)}"}
        return Reply(206, headers, blob[first : end + 1])

    return answer


class BlobStub(StubServer):
    """One blob at ``/v2/<repo>/blobs/<digest>``: GET without ``Range`` gets all of it (200, with
    ``Accept-Ranges: bytes``), HEAD its size, a ranged GET whatever ``lie`` answers (honest when the
    lie returns None). ``ranged`` counts the ranged GETs."""

    def __init__(self, blob: bytes, lie: Callable[[int, int | None], Reply | None]) -> None:
        self.blob, self.digest, self.lie = blob, _digest(blob), lie
        self.ranged = 0
        super().__init__(self._answer)

    def _answer(self, request: StubRequest) -> Reply:
        if not request.path.endswith(f"/blobs/{self.digest}"):
            return Reply(200, {"Content-Type": "application/json"}, b"{}")
        size = {"Content-Length": str(len(self.blob)), "Accept-Ranges": "bytes"}
        if request.method == "HEAD":
            return Reply(200, size, b"")
        match = _RANGE_RE.fullmatch(request.headers.get("Range", ""))
        if match is None:
            return Reply(200, size, self.blob)
        with self._lock:
            self.ranged += 1
        first, last = int(match.group(1)), int(match.group(2)) if match.group(2) else None
        return self.lie(first, last) or _honest(self.blob)(first, last)


def _part(target: Path, blob: bytes) -> Path:
    return Path(partial_path(str(target), Digest.parse(_digest(blob))))


def _leave_part(target: Path, blob: bytes) -> Path:
    part = _part(target, blob)
    part.write_bytes(blob[:HELD])
    return part


def _env(host: str) -> dict[str, str]:
    return {"DXF_HOST": host, "DXF_INSECURE": "1", "DXF_RETRIES": "0"}


def _from_zero(first: int, last: int | None) -> Reply:
    """206 with the blob's first bytes, whatever was asked."""
    end = (len(BLOB) - 1 if last is None else last) - first
    return Reply(206, {"Content-Range": f"bytes 0-{end}/{len(BLOB)}"}, BLOB[: end + 1])


def test_resume_refuses_a_206_that_starts_elsewhere(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    target = tmp_path / "out.bin"
    part = _leave_part(target, BLOB)
    argv = ["pull-blob", REPO, _digest(BLOB), "-o", str(target), "--resume"]
    with BlobStub(BLOB, _from_zero) as server:
        done = run_dxf(argv, _env(server.host))
        line = done.one_line_failure()
        assert f"asked for the blob from byte {HELD}" in line and "starts at byte 0" in line
        assert server.ranged == 1
        kept = part.read_bytes()
        assert not target.exists() and kept == BLOB[:HELD]  # kept, nothing appended
        server.lie = lambda _first, _last: None  # the server turns honest: the part is still good
        assert run_dxf(argv, _env(server.host)).returncode == 0
    assert target.read_bytes() == BLOB and not part.exists()
    record_property("exit_code", done.returncode)
    record_property("part_bytes_kept", HELD)
    assert done.peak_rss < RSS_BOUND, done.peak_rss_mib
    record_property("peak_rss_mib", done.peak_rss_mib)
    record_property("completed_after_honest_resume", "1/1")


def _bigger_total(first: int, last: int | None) -> Reply:
    """206 from the right byte, claiming a blob 1000 bytes longer, and sending those bytes too."""
    total = len(BLOB) + 1000
    body = BLOB[first:] + bytes(1000)
    return Reply(206, {"Content-Range": f"bytes {first}-{total - 1}/{total}"}, body)


def test_resume_refuses_a_206_whose_total_is_not_the_blob_size(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    target = tmp_path / "out.bin"
    with BlobStub(BLOB, _bigger_total) as server:
        # knowing the size (a descriptor's), the lie is refused before a byte is written
        part = _leave_part(target, BLOB)
        client = dxf.DXF(server.host, REPO, insecure=True, retries=0)
        with pytest.raises(ex.DXFContentRangeError, match=f"says the blob has {len(BLOB) + 1000} bytes"):
            client.pull_blob_to_file(server.digest, str(target), resume=True, expected_size=len(BLOB))
        assert not target.exists() and part.read_bytes() == BLOB[:HELD]
        # not knowing it (a digest on the command line), the digest catches it: nothing named
        done = run_dxf(["pull-blob", REPO, server.digest, "-o", str(target), "--resume"], _env(server.host))
    assert "content does not match its digest" in done.one_line_failure()
    assert not target.exists() and not part.exists()
    assert os.listdir(tmp_path) == []
    record_property("exit_code", done.returncode)
    assert done.peak_rss < RSS_BOUND, done.peak_rss_mib
    record_property("peak_rss_mib", done.peak_rss_mib)


def test_a_200_answered_to_a_resume_is_not_appended(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """A server that ignores the range sends the whole blob: what the part holds is skipped, not
    appended again, and the file comes out right."""
    target = tmp_path / "out.bin"
    part = _leave_part(target, BLOB)
    whole = Reply(200, {"Content-Length": str(len(BLOB))}, BLOB)
    with BlobStub(BLOB, lambda _first, _last: whole) as server:
        done = run_dxf(["pull-blob", REPO, server.digest, "-o", str(target), "--resume"], _env(server.host))
        assert done.returncode == 0, done.stderr
        ranged = server.ranged
    assert ranged == 1
    assert target.read_bytes() == BLOB and not part.exists()
    record_property("completed", "1/1")
    record_property("ranged_requests", ranged)


def test_a_416_claiming_the_part_already_holds_everything_is_not_believed(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """416 to ``Range: bytes=<held>-`` means "nothing is left": the part is then checked as the whole
    blob, which it is not, so nothing gets the target's name."""
    target = tmp_path / "out.bin"
    _leave_part(target, BLOB)
    nothing_left = Reply(416, {"Content-Range": f"bytes */{HELD}"}, b"")
    with BlobStub(BLOB, lambda _first, _last: nothing_left) as server:
        done = run_dxf(["pull-blob", REPO, server.digest, "-o", str(target), "--resume"], _env(server.host))
    assert "content does not match its digest" in done.one_line_failure()
    assert os.listdir(tmp_path) == []
    record_property("exit_code", done.returncode)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "bytes 5-",
        "bytes */1048576",
        "items 262144-1048575/1048576",
        "bytes 262144-1048575/x",
        "bytes ²-3/4",
    ],
)
def test_an_unparseable_content_range_is_refused(
    header: str, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    target = tmp_path / "out.bin"
    part = _leave_part(target, BLOB)
    headers = {"Content-Range": header} if header else {}
    with BlobStub(BLOB, lambda first, _last: Reply(206, headers, BLOB[first:])) as server:
        client = dxf.DXF(server.host, REPO, insecure=True, retries=0)
        with pytest.raises(ex.DXFContentRangeError, match="is not a byte range"):
            client.pull_blob_to_file(server.digest, str(target), resume=True)
        assert not target.exists() and part.read_bytes() == BLOB[:HELD]
        done = run_dxf(["pull-blob", REPO, server.digest, "-o", str(target), "--resume"], _env(server.host))
    assert "is not a byte range" in done.one_line_failure()
    assert not target.exists() and part.read_bytes() == BLOB[:HELD]
    record_property("exit_code", done.returncode)


# -- several connections ------------------------------------------------------------------------------
BIG = os.urandom(32 * MIB)  # dxf.segments.MIN_SEGMENTED_BYTES: the smallest blob worth segments
#: Per connection, through the proxy: slow enough that the first answer is judged slow (under
#: dxf.segments.FAST_CONNECTION), so the other connections open and ask for segments.
RATE = 32 * MIB


def _big_from_zero(first: int, last: int | None) -> Reply | None:
    """A segment (``bytes=a-b``) gets the blob's first bytes; an open range (``bytes=a-``) the truth."""
    if last is None:
        return None
    return Reply(206, {"Content-Range": f"bytes 0-{last - first}/{len(BIG)}"}, BIG[: last - first + 1])


def _big_always_from_zero(first: int, last: int | None) -> Reply:
    end = len(BIG) - 1 if last is None else last
    return Reply(206, {"Content-Range": f"bytes 0-{end - first}/{len(BIG)}"}, BIG[: end - first + 1])


def _segmented_client(server: StubServer, proxy: FaultProxy) -> dxf.DXF:
    proxy.shape(rate=RATE)
    return dxf.DXF(proxy.host, REPO, insecure=True, retries=0, connections=4)


def _proxy_for(server: StubServer) -> FaultProxy:
    host, port = server.host.rsplit(":", 1)
    return FaultProxy(host, int(port))


def test_a_segment_answered_with_another_range_is_not_written(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """Segments answered with other bytes are refused; the download goes on over one connection
    (whose open range the server answers truly) and the file is right."""
    target = tmp_path / "out.bin"
    with BlobStub(BIG, _big_from_zero) as server, _proxy_for(server) as proxy:
        client = _segmented_client(server, proxy)
        assert client.pull_blob_to_file(server.digest, str(target), resume=True) == len(BIG)
        segments_refused = server.ranged - 1  # all but the open range that finished the blob
    assert segments_refused >= 1
    assert target.read_bytes() == BIG and os.listdir(tmp_path) == ["out.bin"]
    record_property("segments_refused", segments_refused)
    record_property("completed", "1/1")


def test_a_download_over_connections_whose_every_range_lies_fails_cleanly(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    target = tmp_path / "out.bin"
    with BlobStub(BIG, _big_always_from_zero) as server, _proxy_for(server) as proxy:
        client = _segmented_client(server, proxy)
        with pytest.raises(ex.DXFContentRangeError, match="starts at byte 0"):
            client.pull_blob_to_file(server.digest, str(target), resume=True)
    assert not target.exists()
    kept = _part(target, BIG).read_bytes()
    assert BIG.startswith(kept)  # a gap-free prefix of the blob: the next --resume goes on from it
    record_property("part_bytes_kept", len(kept))
    record_property("errors_seen", 1)
