"""The /proc readings the load test relies on (tests/harness/procstat.py) see what they claim to:
a socket opened here is counted and told apart by its ports, a file opened here is listed, memory
allocated here shows in RSS, and a thread that does not end is reported."""

from __future__ import annotations

import os
import socket
import threading

from harness.procstat import descriptors, join_new_threads, rss_bytes

MiB = 1024 * 1024


def test_sockets_are_counted_by_the_port_they_talk_to_and_the_port_they_were_accepted_on() -> None:
    before = descriptors()
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = server.accept()
            with accepted:
                during = descriptors()
                assert during.connected_to(port) == 1  # the client end, not the listener
                assert during.accepted_on(port) == 1  # the server's end of that connection
                assert during.sockets == before.sockets + 3
    after = descriptors()
    assert after.sockets == before.sockets and after.connected_to(port) == 0


def test_files_are_listed_by_target_and_memory_shows_in_rss() -> None:
    before = descriptors()
    path = os.path.realpath(__file__)
    with open(path, "rb"):
        assert descriptors().others == sorted([*before.others, path])
    assert descriptors().others == before.others
    start = rss_bytes()
    block = bytearray(64 * MiB)  # zero pages are touched below, so they become resident
    block[::4096] = b"\x01" * len(range(0, len(block), 4096))
    assert rss_bytes() - start >= 60 * MiB
    del block


def test_a_thread_that_does_not_end_is_reported_and_one_that_ends_is_not() -> None:
    before = threading.enumerate()
    release = threading.Event()
    stuck = threading.Thread(target=release.wait, name="stuck")
    quick = threading.Thread(target=lambda: None, name="quick")
    stuck.start()
    quick.start()
    try:
        assert join_new_threads(before, 0.2) == [stuck]
        assert join_new_threads(before, 0.2, exclude=lambda t: t.name == "stuck") == []
    finally:
        release.set()
        stuck.join()
    assert join_new_threads(before, 5) == []
