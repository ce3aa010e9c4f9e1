"""Reliability of blob transfers against a real registry, with faults injected on the wire.

Every test runs the library (and once the CLI) against a real distribution registry, most of them
through :class:`~harness.proxy.FaultProxy`, which cuts connections at chosen byte offsets, answers
with throttling statuses, or inverts bytes of a response body. What each test checks would fail if
the feature under test were missing: a transfer that does not retry fails, one that restarts from
zero instead of resuming sends too many bytes, one that does not verify returns wrong bytes.

Offsets come from seeded generators; every assertion message names the seed and the offset so a
failure can be replayed (``DXF_RELIABILITY_SEED`` overrides the seeds).

Nothing here waits by sleeping: faults are armed before the transfer they hit and counted by the
proxy, the registry restart is triggered from the upload's own progress callback, and throttling
waits go to a recorder instead of ``time.sleep``. The one deliberate ``time.sleep`` paces an upload
so that it outlives a 3 s token; it is pacing, not synchronisation.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

import pytest
import requests

import dxf
from dxf.exceptions import DXFDigestMismatchError, DXFHTTPError
from harness.figures import Record
from harness.hooks import Exchanges
from harness.proxy import FaultProxy
from harness.registry import PASSWORD, USERNAME, RegistryProcess, start_registry

MiB = 1024 * 1024
BIG = 64 * MiB
#: Faulted transfers per test (the brief asks for 20 of each kind).
PUSH_CUTS = 20
PULL_CUTS = 20
#: Bytes a resumed transfer may send again beyond the blob itself: HTTP heads, plus what was in
#: flight when the connection broke. With a FIN the receiver still gets everything the proxy
#: forwarded, but a download loses the partly read chunk (up to 1 MiB, ``READ_SIZE``); with an RST
#: the kernel's socket buffers (a few MiB on loopback) are lost as well. Restarting from zero
#: would send the whole prefix again: as many bytes as the cut offset (1 to 63 MiB).
#: (distribution 2.8 cancels an upload session as soon as a request names it with a ``_state`` whose
#: offset differs from the bytes it stored, which is the case after any PATCH broken mid-body; a
#: client can then only start a new session. So against this registry an upload cut mid-body costs
#: one restart, and in-place resumption is tested where the session stays consistent: a PATCH
#: refused before it was stored, and a restart of the registry between two PATCHes.)
SLACK_FIN = 2 * MiB
SLACK_RST = 8 * MiB
#: Bound on how long a test waits for a transfer that must fail rather than hang.
HANG_TIMEOUT = 60.0


def _seed(default: int) -> int:
    value = os.environ.get("DXF_RELIABILITY_SEED", "")
    return int(value) if value.isdigit() else default


# -- helpers ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def payload() -> bytes:
    """64 MiB of random bytes, shared by the tests of this module (each writes its own file)."""
    return os.urandom(BIG)


def _sha256(data: bytes | Iterable[bytes]) -> str:
    hasher = hashlib.sha256()
    if isinstance(data, bytes):
        hasher.update(data)
    else:
        for chunk in data:
            hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def _file_digest(path: Path) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            hasher.update(chunk)
            size += len(chunk)
    return "sha256:" + hasher.hexdigest(), size


def _chunks(client: dxf.DXF, digest: str) -> Iterable[bytes]:
    """``pull_blob`` without ``size``: the chunk iterator."""
    return cast(Iterable[bytes], client.pull_blob(digest))


def _pulled(client: dxf.DXF, digest: str) -> tuple[str, int]:
    """Digest and length of what iterating ``pull_blob`` yields, hashed here independently."""
    hasher = hashlib.sha256()
    size = 0
    for chunk in _chunks(client, digest):
        hasher.update(chunk)
        size += len(chunk)
    return "sha256:" + hasher.hexdigest(), size


def _plain_client(host: str, repo: str, **kwargs: object) -> dxf.DXF:
    return dxf.DXF(host, repo, insecure=True, **kwargs)  # type: ignore[arg-type]


def _registry_has(registry: RegistryProcess, repo: str, digest: str) -> bool:
    response = requests.head(f"{registry.url}/v2/{repo}/blobs/{digest}", timeout=10)
    assert response.status_code in (200, 404), response.status_code
    return response.status_code == 200


def _registry_errors(registry: RegistryProcess, limit: int = 8) -> str:
    """The last error lines of the registry's log, reduced to method, status and message."""
    picked = []
    for line in registry.log_tail(200_000).splitlines():
        if "level=error" not in line:
            continue
        fields = dict(re.findall(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S+)', line))
        picked.append(
            " ".join(
                f"{key}={fields[key]}"
                for key in ("http.request.method", "http.response.status", "msg", "err.detail")
                if key in fields
            )
        )
    return "\n".join(picked[-limit:]) or "(no errors logged)"


def _requests(exchanges: Exchanges, host: str) -> list[tuple[str, str]]:
    """(method, "upload" or "other") for every request sent to ``host``."""
    return [(e.method, "upload" if "/blobs/uploads/" in e.url else "other") for e in exchanges.to(host)]


def _mib(count: int) -> str:
    """A byte count for the reliability table."""
    return f"{count / MiB:.1f} MiB"


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- 1. uploads cut at random offsets ------------------------------------------------------------------


@pytest.mark.slow
def test_push_resumes_after_cuts_at_random_offsets(
    registry_plain: RegistryProcess,
    proxy: FaultProxy,
    repo_name: str,
    payload: bytes,
    tmp_path: Path,
    exchanges: Exchanges,
    record_property: Record,
) -> None:
    """20 pushes of 64 MiB (a resumable PATCH), each cut once upstream at a random offset.

    Each push must complete; the registry (asked directly, not through the proxy) must hold the
    right size and bytes; the client must first have asked the session how much it holds (the
    resume attempt), and since distribution 2.8 then drops the session, must have started over at
    most once: the bytes it sent beyond the blob stay under one restart's worth.
    Even pushes are cut with a FIN, odd ones with an RST.
    """
    seed = _seed(0xD1F_0001)
    rng = random.Random(seed)
    path = tmp_path / "blob"
    path.write_bytes(payload)
    direct = _plain_client(registry_plain.host, repo_name)
    client = _plain_client(proxy.host, repo_name)
    body = memoryview(payload)[8:]
    completed = restarts = most_resent = 0
    for i in range(PUSH_CUTS):
        header = rng.getrandbits(64).to_bytes(8, "big")  # a fresh blob each time
        with open(path, "r+b") as f:
            f.write(header)
        hasher = hashlib.sha256(header)
        hasher.update(body)
        expected = "sha256:" + hasher.hexdigest()
        offset = rng.randrange(MiB + 1, 63 * MiB)
        hard = i % 2 == 1
        slack = SLACK_RST if hard else SLACK_FIN
        where = f"seed={seed} push #{i}: cut ({'RST' if hard else 'FIN'}) after {offset} bytes upstream"
        sent_before, cuts_before = proxy.bytes_upstream, proxy.cuts
        exchanges.clear()

        proxy.cut_after(offset, "upstream", hard=hard)
        try:
            # check_exists=False: the existence check is a HEAD sent from the hashing thread while
            # the upload starts; racing the POST for pooled connections, it could leave the PATCH on
            # another connection than the one that claimed the cut.
            digest = client.push_blob(str(path), check_exists=False)
        except Exception as error:
            pytest.fail(
                f"{where}: the push failed: {type(error).__name__}: {error}\n"
                f"registry errors:\n{_registry_errors(registry_plain)}"
            )

        assert digest == expected, where
        assert proxy.cuts == cuts_before + 1 and proxy.pending_faults == 0, (
            f"{where}: the proxy did not cut: {proxy.stats()}, {cuts_before} cuts before"
        )
        assert direct.blob_size(digest) == BIG, where
        assert _pulled(direct, digest) == (expected, BIG), where
        resent = proxy.bytes_upstream - sent_before - BIG
        assert resent < offset + slack, f"{where}: {resent} bytes resent: more than one restart's worth"
        calls = _requests(exchanges, proxy.host)
        assert ("GET", "upload") in calls, f"{where}: the client never asked the session what it holds"
        assert calls.count(("POST", "upload")) <= 2, f"{where}: more than one restart: {calls}"
        completed += 1
        restarts += calls.count(("POST", "upload")) - 1
        most_resent = max(most_resent, resent)
    record_property("completed", f"{completed}/{PUSH_CUTS}")
    record_property("restarted sessions", restarts)
    record_property("most bytes re-sent", _mib(most_resent))


# -- 2. downloads cut at random offsets ----------------------------------------------------------------


@pytest.fixture(scope="module")
def big_blob(
    registry_plain: RegistryProcess, payload: bytes, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """(repository, digest) of the 64 MiB payload, pushed directly (not through a proxy)."""
    repo = "test/reliability-big-blob"
    path = tmp_path_factory.mktemp("big-blob") / "blob"
    path.write_bytes(payload)
    digest = _plain_client(registry_plain.host, repo).push_blob(str(path))
    assert digest == _sha256(payload)
    return repo, digest


@pytest.mark.slow
@pytest.mark.parametrize("how", ["to_file", "iterate"])
def test_pull_resumes_after_cuts_at_random_offsets(
    how: str, big_blob: tuple[str, str], proxy: FaultProxy, tmp_path: Path, record_property: Record
) -> None:
    """20 pulls of 64 MiB, each cut once downstream at a random offset: same bytes, resumed.

    ``to_file`` uses ``pull_blob_to_file`` (the file is then hashed here); ``iterate`` hashes the
    chunks of ``pull_blob``. Digest and size must match (no duplicated or missing bytes), and the
    bytes received beyond the blob stay under the slack (a resumed ``Range`` request, not a restart).
    Even pulls are cut with a FIN, odd ones with an RST. One connection per blob: the cut offsets
    assume one stream carries the whole blob (segmented pulls are cut in tests/integration/
    test_segmented.py).
    """
    repo, digest = big_blob
    seed = _seed(0xD1F_0002 if how == "to_file" else 0xD1F_0003)
    rng = random.Random(seed)
    client = _plain_client(proxy.host, repo, connections=1)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "blob"
    completed = most_resent = 0
    for i in range(PULL_CUTS):
        offset = rng.randrange(MiB + 1, 63 * MiB)
        hard = i % 2 == 1
        slack = SLACK_RST if hard else SLACK_FIN
        where = f"seed={seed} {how} pull #{i}: cut ({'RST' if hard else 'FIN'}) after {offset} bytes"
        received_before, cuts_before = proxy.bytes_downstream, proxy.cuts

        proxy.cut_after(offset, "downstream", hard=hard)
        try:
            if how == "to_file":
                written = client.pull_blob_to_file(digest, str(target))
            else:
                got = _pulled(client, digest)
        except Exception as error:
            pytest.fail(f"{where}: the pull failed: {type(error).__name__}: {error}")

        if how == "to_file":
            assert written == BIG, where
            assert _leftovers(out_dir) == ["blob"], f"{where}: temporary files left behind"
            got = _file_digest(target)
        assert got == (digest, BIG), where
        assert proxy.cuts == cuts_before + 1 and proxy.pending_faults == 0, (
            f"{where}: the proxy did not cut: {proxy.stats()}, {cuts_before} cuts before"
        )
        resent = proxy.bytes_downstream - received_before - BIG
        assert resent < slack, (
            f"{where}: {resent} bytes received beyond the {BIG}-byte blob (allowed {slack}); "
            f"restarting from zero receives about {offset} again: the download was not resumed"
        )
        completed += 1
        most_resent = max(most_resent, resent)
    record_property("completed", f"{completed}/{PULL_CUTS}")
    record_property("most bytes received twice", _mib(most_resent))


# -- 3. the registry restarts in the middle of a chunked upload ----------------------------------------


def test_chunked_push_survives_a_registry_restart(
    repo_name: str, payload: bytes, tmp_path: Path, record_property: Record
) -> None:
    """64 MiB pushed in 8 MiB PATCHes; the registry is killed and restarted (same port, storage and
    secret) from the progress callback once 24 MiB have been reported. The push completes."""
    registry = start_registry("plain", tmp_path / "registry")
    try:
        path = tmp_path / "blob"
        path.write_bytes(payload)
        expected = _sha256(payload)
        client = _plain_client(registry.host, repo_name, upload_chunk_size=8 * MiB)
        pid_before = registry.pid
        reported = 0
        restarted_at: list[int] = []

        def progress(_digest: str, chunk: bytes, _total: int) -> None:
            nonlocal reported
            reported += len(chunk)
            if reported >= 24 * MiB and not restarted_at:
                restarted_at.append(reported)
                registry.restart()  # drops every connection, the upload's included

        try:
            digest = client.push_blob(str(path), progress)
        except Exception as error:
            pytest.fail(
                f"the push failed after the restart at {restarted_at} bytes reported: "
                f"{type(error).__name__}: {error}\nregistry errors:\n{_registry_errors(registry)}"
            )
        assert restarted_at, "the progress callback never reached 24 MiB"
        assert registry.pid != pid_before and registry.running
        assert reported == BIG  # every byte reported once, despite the resend
        assert digest == expected
        direct = _plain_client(registry.host, repo_name)
        assert direct.blob_size(digest) == BIG
        assert _pulled(direct, digest) == (expected, BIG)
        record_property("completed", "1/1")
        record_property("restarted at", _mib(restarted_at[0]))
    finally:
        registry.close()


def test_chunked_push_resumes_in_place_after_a_refused_patch(
    registry_plain: RegistryProcess,
    proxy: FaultProxy,
    repo_name: str,
    payload: bytes,
    tmp_path: Path,
    exchanges: Exchanges,
    record_property: Record,
) -> None:
    """64 MiB in 8 MiB PATCHes; the proxy answers the 4th PATCH with 503 before the registry sees it.
    The session stays consistent, so the client continues *in the same session* from the 24 MiB the
    registry reports: one POST, and only the refused chunk is sent twice."""
    path = tmp_path / "blob"
    path.write_bytes(payload)
    client = _plain_client(proxy.host, repo_name, upload_chunk_size=8 * MiB)
    delays = _record_sleeps(client)
    proxy.inject_status(503, method="PATCH", skip=3)
    sent_before = proxy.bytes_upstream
    digest = client.push_blob(str(path), check_exists=False)
    calls = _requests(exchanges, proxy.host)
    assert digest == _sha256(payload)
    assert proxy.injected == 1 and len(delays) == 1
    assert calls.count(("POST", "upload")) == 1, calls
    assert calls.count(("PATCH", "upload")) == 9, calls  # 8 chunks + the refused one again
    resent = proxy.bytes_upstream - sent_before - BIG
    assert resent < 8 * MiB + SLACK_FIN
    record_property("sessions", calls.count(("POST", "upload")))
    record_property("bytes re-sent", _mib(resent))
    assert _pulled(_plain_client(registry_plain.host, repo_name), digest) == (digest, BIG)


def test_stream_push_resumes_in_place_across_a_registry_restart(
    repo_name: str, payload: bytes, tmp_path: Path, exchanges: Exchanges, record_property: Record
) -> None:
    """A stdin-style push (8 MiB PATCHes) whose registry is restarted between two PATCHes: the upload
    URL, signed with the unchanged ``http.secret``, still names the session, so the push continues in
    it after the restart: one POST, every chunk sent once."""
    registry = start_registry("plain", tmp_path / "registry")
    try:
        client = _plain_client(registry.host, repo_name)
        pid_before = registry.pid
        streamed = 0

        def progress(_label: str, chunk: bytes) -> None:
            nonlocal streamed
            streamed += len(chunk)
            if streamed == 24 * MiB:  # called after the third PATCH was answered
                registry.restart()

        digest = client.push_stream(io.BytesIO(payload), progress)
        calls = _requests(exchanges, registry.host)
        assert registry.pid != pid_before and registry.running
        assert digest == _sha256(payload)
        assert calls.count(("POST", "upload")) == 1, calls
        assert calls.count(("PATCH", "upload")) == 8, calls
        record_property("sessions", 1)
        record_property("chunks sent twice", 0)
        assert _pulled(_plain_client(registry.host, repo_name), digest) == (digest, BIG)
    finally:
        registry.close()


def test_a_registry_refusing_patch_gets_one_put(
    registry_plain: RegistryProcess,
    proxy: FaultProxy,
    repo_name: str,
    payload: bytes,
    tmp_path: Path,
    exchanges: Exchanges,
) -> None:
    """A registry that answers the first PATCH with 405 (no chunked uploads) gets the file in one
    monolithic ``PUT ?digest=`` in a new session instead, and the push succeeds."""
    path = tmp_path / "blob"
    path.write_bytes(payload[: 20 * MiB])
    client = _plain_client(proxy.host, repo_name)
    proxy.inject_status(405, method="PATCH")
    digest = client.push_blob(str(path), check_exists=False)
    calls = _requests(exchanges, proxy.host)
    assert digest == _sha256(payload[: 20 * MiB])
    assert proxy.injected == 1
    assert calls.count(("PATCH", "upload")) == 1 and calls.count(("POST", "upload")) == 2, calls
    assert calls[-1] == ("PUT", "upload"), calls
    assert _pulled(_plain_client(registry_plain.host, repo_name), digest) == (digest, 20 * MiB)


# -- 4. throttling and transient failures --------------------------------------------------------------


def _record_sleeps(client: dxf.DXF) -> list[float]:
    delays: list[float] = []
    client._transport.sleep = delays.append
    return delays


def test_bursts_of_429_and_503_are_waited_out(
    proxy: FaultProxy, repo_name: str, tmp_path: Path, record_property: Record
) -> None:
    """3 x 429 (``Retry-After: 1``) then 2 x 503 in front of a push and of a pull: both complete, and
    each 429 was followed by a wait of exactly the second its ``Retry-After`` asked for."""
    data = os.urandom(2 * MiB)
    path = tmp_path / "blob"
    path.write_bytes(data)
    client = _plain_client(proxy.host, repo_name, retries=5)
    delays = _record_sleeps(client)

    proxy.inject_status(429, times=3, retry_after=1)
    proxy.inject_status(503, times=2)
    digest = client.push_blob(str(path))
    assert digest == _sha256(data)
    assert proxy.injected == 5 and proxy.pending_faults == 0
    assert len(delays) == 5, delays  # one wait per refused request
    assert delays[:3] == [1.0, 1.0, 1.0], delays  # Retry-After honoured
    assert all(0 <= d <= 30 for d in delays[3:]), delays  # 503 without a hint: bounded backoff
    assert client.blob_size(digest) == len(data)

    delays.clear()
    proxy.inject_status(429, times=3, retry_after=1)
    proxy.inject_status(503, times=2)
    assert b"".join(_chunks(client, digest)) == data
    assert proxy.injected == 10 and proxy.pending_faults == 0
    assert len(delays) == 5 and delays[:3] == [1.0, 1.0, 1.0], delays
    record_property("completed", "2/2")
    record_property("refusals waited out", proxy.injected)


def test_a_burst_longer_than_the_retry_budget_fails_with_its_status(
    registry_plain: RegistryProcess, proxy: FaultProxy, repo_name: str, tmp_path: Path
) -> None:
    """With ``retries=2`` a burst of 503s outlasting the 3 attempts fails with an HTTP error that
    carries the 503 (and is a ``requests`` HTTPError), after exactly 3 attempts."""
    data = os.urandom(MiB)
    path = tmp_path / "blob"
    path.write_bytes(data)
    digest = _sha256(data)
    client = _plain_client(proxy.host, repo_name, retries=2)
    delays = _record_sleeps(client)

    proxy.inject_status(503, times=10)
    with pytest.raises(requests.exceptions.HTTPError) as pushed:
        client.push_blob(str(path))
    assert isinstance(pushed.value, DXFHTTPError)
    assert pushed.value.status_code == 503
    assert pushed.value.response is not None and pushed.value.response.status_code == 503
    assert proxy.injected == 3 and len(delays) == 2
    assert not _registry_has(registry_plain, repo_name, digest)

    proxy.reset_faults()
    _plain_client(registry_plain.host, repo_name).push_blob(str(path))
    proxy.inject_status(503, times=10)
    with pytest.raises(requests.exceptions.HTTPError) as pulled:
        b"".join(_chunks(client, digest))
    assert isinstance(pulled.value, DXFHTTPError) and pulled.value.status_code == 503
    assert proxy.injected == 6 and len(delays) == 4
    proxy.reset_faults()


# -- 5. a token that expires during a long upload ------------------------------------------------------


@pytest.mark.slow
def test_token_expiring_during_a_long_upload(
    short_token_registry: RegistryProcess,
    repo_name: str,
    payload: bytes,
    tmp_path: Path,
    record_property: Record,
) -> None:
    """A 32 MiB push in 4 MiB PATCHes, paced to last well over the 3 s a token lives: it completes
    with the right digest, and more than one push token was issued while it ran."""
    registry = short_token_registry
    token_server = registry.token_server
    assert token_server is not None
    data = payload[: 32 * MiB]
    path = tmp_path / "blob"
    path.write_bytes(data)

    def auth(obj: dxf.DXFBase, response: requests.Response) -> None:
        obj.authenticate(USERNAME, PASSWORD, response=response)

    client = dxf.DXF(
        registry.host, repo_name, auth, tlsverify=registry.ca_bundle or True, upload_chunk_size=4 * MiB
    )

    def progress(_digest: str, chunk: bytes, _total: int) -> None:
        if chunk:
            time.sleep(0.15)  # pacing: stretches 32 x 1 MiB chunks over ~5 s; not synchronisation

    started = time.time()
    digest = client.push_blob(str(path), progress)
    finished = time.time()

    assert digest == _sha256(data)
    assert finished - started > 4.0, "the upload did not outlive a 3 s token"
    push_tokens = [
        entry
        for entry in token_server.requests_log
        if entry["status"] == 200
        and started <= entry["time"] <= finished
        and any("push" in scope.rsplit(":", 1)[-1].split(",") for scope in entry["scopes"])
    ]
    assert len(push_tokens) >= 2, token_server.requests_log
    record_property("completed", "1/1")
    record_property("upload time", f"{finished - started:.1f} s")
    record_property("push tokens issued", len(push_tokens))
    checker = dxf.DXF(registry.host, repo_name, auth, tlsverify=registry.ca_bundle or True)
    assert checker.blob_size(digest) == len(data)
    assert _sha256(_chunks(checker, digest)) == digest


# -- 6. a registry that sends the wrong bytes ----------------------------------------------------------


@pytest.fixture
def blob_12mib(registry_plain: RegistryProcess, repo_name: str, payload: bytes) -> tuple[str, bytes]:
    """A 12 MiB blob (above the threaded-hashing threshold) pushed directly; (digest, data)."""
    data = payload[: 12 * MiB]
    digest = _plain_client(registry_plain.host, repo_name).push_blob(data=data, digest=_sha256(data))
    return digest, data


def test_pull_blob_iteration_rejects_wrong_bytes(
    proxy: FaultProxy, repo_name: str, blob_12mib: tuple[str, bytes], record_property: Record
) -> None:
    digest, data = blob_12mib
    client = _plain_client(proxy.host, repo_name)
    proxy.corrupt_after(5 * MiB + 17)
    received = 0
    with pytest.raises(DXFDigestMismatchError) as info:
        for chunk in _chunks(client, digest):
            received += len(chunk)
    assert proxy.corrupted == 1 and proxy.bytes_corrupted == len(data) - (5 * MiB + 17)
    assert received == len(data)  # the length was right: only the digest can tell
    assert info.value.expected == digest
    assert info.value.got != info.value.expected and str(info.value.got).startswith("sha256:")
    record_property("corrupt pulls caught", "1/1")
    record_property("bytes corrupted", _mib(proxy.bytes_corrupted))


def test_pull_blob_to_file_rejects_wrong_bytes_and_leaves_no_file(
    proxy: FaultProxy, repo_name: str, blob_12mib: tuple[str, bytes], tmp_path: Path, record_property: Record
) -> None:
    digest, _data = blob_12mib
    client = _plain_client(proxy.host, repo_name)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "blob"
    proxy.corrupt_after(MiB)
    with pytest.raises(DXFDigestMismatchError) as info:
        client.pull_blob_to_file(digest, str(target))
    assert proxy.corrupted == 1
    assert info.value.expected == digest and info.value.got != digest
    assert _leftovers(out_dir) == []  # neither the target nor a .dxf-*.part temporary file
    record_property("corrupt pulls caught", "1/1")
    record_property("files left", 0)


def test_cli_pull_blob_rejects_wrong_bytes_and_leaves_no_file(
    proxy: FaultProxy,
    repo_name: str,
    blob_12mib: tuple[str, bytes],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dxf.main import run_command

    digest, _data = blob_12mib
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "blob"
    env = {"DXF_HOST": proxy.host, "DXF_INSECURE": "1"}
    # times=5: whatever small responses the command reads before the blob (a /v2/ probe, say)
    # use a rule up unchanged; only the blob's body is long enough to be corrupted.
    proxy.corrupt_after(3 * MiB, times=5)
    code = run_command(["pull-blob", repo_name, digest, "-o", str(target)], env)
    captured = capsys.readouterr()
    proxy.reset_faults()
    assert code != 0
    assert proxy.corrupted == 1
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("dxf:") and "digest" in lines[0], lines[0]
    assert captured.out == ""
    assert _leftovers(out_dir) == []


# -- 7. a body that cannot be sent twice ---------------------------------------------------------------


def test_push_of_a_generator_cut_once_fails_cleanly(
    registry_plain: RegistryProcess, proxy: FaultProxy, repo_name: str, payload: bytes
) -> None:
    """``push_blob(data=generator, digest=...)`` whose upload is cut once: the generator cannot be
    replayed, so the push must fail with a clear error, promptly, and the registry must not hold the
    blob (no truncated or empty body sent in its place). 16 MiB, cut after 1 MiB: more than socket
    buffers hold, so the generator is still mid-way when the connection breaks."""
    chunk_size, count = 64 * 1024, 256
    data = payload[: chunk_size * count]
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    digest = _sha256(data)
    iterations = 0
    produced = 0

    def generate() -> Iterator[bytes]:
        nonlocal iterations, produced
        iterations += 1
        for chunk in chunks:
            produced += 1
            yield chunk

    client = _plain_client(proxy.host, repo_name)
    outcome: list[BaseException | str] = []

    def push() -> None:
        try:
            outcome.append(client.push_blob(data=generate(), digest=digest))
        except BaseException as error:
            outcome.append(error)

    proxy.cut_after(MiB, "upstream")
    worker = threading.Thread(target=push, daemon=True)
    worker.start()
    worker.join(HANG_TIMEOUT)
    assert not worker.is_alive(), f"push_blob(data=generator) still running after {HANG_TIMEOUT} s"
    assert proxy.cuts == 1
    assert len(outcome) == 1
    error = outcome[0]
    # The broken connection itself is the clear error. An HTTP error status would mean a second
    # request carried the (exhausted, hence empty or truncated) body to the registry.
    assert isinstance(error, (requests.exceptions.ConnectionError, dxf.exceptions.DXFError)), (
        f"expected the connection failure (or a dxf error explaining it), got {error!r}"
    )
    assert not isinstance(error, requests.exceptions.HTTPError), f"the body was sent again: {error!r}"
    assert iterations == 1 and produced < count, (iterations, produced)
    assert not _registry_has(registry_plain, repo_name, digest)


def test_push_of_bytes_survives_a_cut(
    registry_plain: RegistryProcess, proxy: FaultProxy, repo_name: str
) -> None:
    """``push_blob(data=bytes, digest=...)``: bytes can be sent again, so one broken connection must
    not fail the push (the transport's own rule: bytes bodies are replayable)."""
    data = os.urandom(4 * MiB)
    digest = _sha256(data)
    client = _plain_client(proxy.host, repo_name)
    proxy.cut_after(MiB, "upstream")
    try:
        assert client.push_blob(data=data, digest=digest) == digest
    except requests.exceptions.ConnectionError as error:
        pytest.fail(f"push_blob(data=bytes) gave up after one cut instead of resending the bytes: {error}")
    assert proxy.cuts == 1
    assert _registry_has(registry_plain, repo_name, digest)


def test_push_stream_cut_mid_chunk_fails_clearly_without_replaying_the_patch(
    registry_plain: RegistryProcess, proxy: FaultProxy, repo_name: str, payload: bytes
) -> None:
    """``push_stream`` (stdin) cut in the middle of its second 8 MiB PATCH. The registry may hold part
    of that PATCH, so sending it again as it was would duplicate bytes (distribution even cancels the
    session for it); earlier chunks are gone, so the push cannot start over either. It must fail with
    the clear "stream cannot be read again" error, not with whatever status a blind replay earns."""
    data = payload[: 20 * MiB]
    client = _plain_client(proxy.host, repo_name)
    proxy.cut_after(12 * MiB, "upstream")
    with pytest.raises(dxf.exceptions.DXFError) as info:
        client.push_stream(io.BytesIO(data))
    assert proxy.cuts == 1
    assert not isinstance(info.value, requests.exceptions.HTTPError), (
        f"the broken PATCH was sent again as it was: {info.value}\n"
        f"registry errors:\n{_registry_errors(registry_plain, 4)}"
    )
    assert "stream" in str(info.value), info.value
    assert not _registry_has(registry_plain, repo_name, _sha256(data))


def test_existing_large_blob_is_not_uploaded_again(
    registry_plain: RegistryProcess,
    proxy: FaultProxy,
    repo_name: str,
    payload: bytes,
    tmp_path: Path,
    exchanges: Exchanges,
) -> None:
    """A large file is hashed while its upload starts; when the registry already has the blob, the
    upload is abandoned and its session cancelled (never closed with a PUT), and the caller's progress
    callback hears nothing, as python-dxf's ``check_exists`` promises. (How many bytes went out
    before the answer came depends on the machine's load, so it is not asserted.)"""
    path = tmp_path / "blob"
    path.write_bytes(payload)
    client = _plain_client(proxy.host, repo_name)
    digest = client.push_blob(str(path))
    exchanges.clear()
    progress: list[int] = []
    assert client.push_blob(str(path), lambda _d, chunk, _t: progress.append(len(chunk))) == digest
    calls = _requests(exchanges, proxy.host)
    assert progress == []
    assert ("PUT", "upload") not in calls
    if ("POST", "upload") in calls:  # the upload had started: its session was cancelled
        assert ("DELETE", "upload") in calls, calls
