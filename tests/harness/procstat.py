"""What this process holds, read from ``/proc/self``: resident memory, open descriptors, sockets.

The load test (tests/integration/test_load.py) and the focused leak tests compare these before and
after work; they are kept here so each test says *what* it compares, not how Linux spells it.

* RSS is ``/proc/self/statm``'s second field (resident pages) times the page size: one read of a
  small file, cheap enough to sample after every operation.
* A descriptor is a socket when its link reads ``socket:[INODE]``; ``/proc/self/net/tcp`` and
  ``tcp6`` map that inode to the connection's two ends, so a socket can be told apart by the port
  it talks to (the registry, the token server) or the port it was accepted on (an in-process
  server's side of a connection).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "Descriptors",
    "TcpEnd",
    "descriptors",
    "join_new_threads",
    "rss_bytes",
]

_PAGE = os.sysconf("SC_PAGE_SIZE")
_SOCKET = re.compile(r"socket:\[(\d+)\]")


def rss_bytes() -> int:
    """This process's resident set size, in bytes, now."""
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


@dataclass(frozen=True)
class TcpEnd:
    """One TCP socket of ours: its local and remote ports (IPv4 or IPv6) and its state code."""

    local_port: int
    remote_port: int
    state: str

    @property
    def listening(self) -> bool:
        return self.state == "0A"  # TCP_LISTEN in include/net/tcp_states.h


@dataclass(frozen=True)
class Descriptors:
    """A snapshot of ``/proc/self/fd``: every descriptor's link target, and our TCP sockets."""

    links: dict[int, str]
    tcp: dict[int, TcpEnd]  # by descriptor number

    @property
    def count(self) -> int:
        return len(self.links)

    @property
    def sockets(self) -> int:
        return sum(1 for link in self.links.values() if link.startswith("socket:"))

    @property
    def others(self) -> list[str]:
        """The non-socket descriptors' targets, sorted (files, pipes, eventfds...)."""
        return sorted(link for link in self.links.values() if not link.startswith("socket:"))

    def connected_to(self, port: int) -> int:
        """Our sockets whose remote end is ``port`` (client connections to that server)."""
        return sum(1 for end in self.tcp.values() if end.remote_port == port and not end.listening)

    def accepted_on(self, port: int) -> int:
        """Our sockets accepted on ``port`` (an in-process server's ends of its connections)."""
        return sum(1 for end in self.tcp.values() if end.local_port == port and not end.listening)


def _tcp_table() -> dict[int, TcpEnd]:
    """``/proc/self/net/tcp{,6}`` as inode -> ends (the table is the network namespace's; the
    inodes of our own descriptors pick out our sockets)."""
    table: dict[int, TcpEnd] = {}
    for name in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(name) as handle:
                lines = handle.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            table[inode] = TcpEnd(int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16), state)
    return table


def descriptors() -> Descriptors:
    """Every open descriptor of this process (except the one used to list them) and its TCP ends."""
    links: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            links[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:  # the listing's own descriptor, closed once the listing was read
            continue
    table = _tcp_table()
    tcp: dict[int, TcpEnd] = {}
    for fd, link in links.items():
        match = _SOCKET.fullmatch(link)
        if match and int(match.group(1)) in table:
            tcp[fd] = table[int(match.group(1))]
    return Descriptors(links, tcp)


def join_new_threads(
    before: Iterable[threading.Thread],
    timeout: float,
    *,
    exclude: Callable[[threading.Thread], bool] | None = None,
) -> list[threading.Thread]:
    """Join every thread started since ``before`` was taken (each up to ``timeout`` seconds in all)
    and return those still alive: the threads that outlived the work they belonged to.

    Waiting is by ``Thread.join`` (the thread's own end), not by sleeping; an in-process server's
    connection threads end once their client closed the connection. ``exclude`` selects threads
    to leave out (never joined, never returned)."""
    known = set(before)
    deadline = time.monotonic() + timeout
    alive: list[threading.Thread] = []
    for thread in threading.enumerate():
        if thread in known or thread is threading.current_thread():
            continue
        if exclude is not None and exclude(thread):
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            alive.append(thread)
    return alive
