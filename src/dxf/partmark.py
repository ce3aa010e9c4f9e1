"""The gap-free length of a resumable part file, recorded beside it while several connections write.

A segmented download (:mod:`dxf.segments`) writes segments at their offsets, so until it ends the
part file can hold bytes past a hole. Ended in-process (a failure, Ctrl-C), it cuts the file back to
its gap-free beginning itself; killed (SIGKILL, power loss of the process), it cannot. So while it
runs, a small *mark* file beside the part records how many leading bytes are written and hashed
(the hashed prefix, which is also gap-free), rewritten as that prefix grows. ``--resume`` reads it
back and cuts the part file to that length before continuing (:func:`trim`); without a mark the
whole part file is the prefix, as a single connection appends in order.

The mark is a hint, never trusted over the file: a mark that claims more than the file holds, or
does not parse, is ignored, and the resumed download re-hashes the part file before it is used.
The mark is a fixed-width decimal number written with one ``pwrite`` at offset 0, so a kill never
leaves half of an old number beside half of a new one.
"""

from __future__ import annotations

import contextlib
import os

#: The part file's suffix (:func:`dxf.download.partial_path`) and the mark's, of the same length, so
#: a part name that fits the file system's name limit gives a mark name that fits too.
PART_SUFFIX = ".dxf-part"
MARK_SUFFIX = ".dxf-good"
_WIDTH = 20  # digits: more than any file size


def mark_path(part: str) -> str:
    """The mark beside ``part``."""
    stem = part[: -len(PART_SUFFIX)] if part.endswith(PART_SUFFIX) else part
    return stem + MARK_SUFFIX


class Mark:
    """The mark of one part file, open for recording (the part file's lock covers it too)."""

    def __init__(self, part: str) -> None:
        self.path = mark_path(part)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

    def record(self, length: int) -> None:
        """The part file's first ``length`` bytes are written and hashed."""
        if self._fd is not None:
            os.pwrite(self._fd, f"{length:0{_WIDTH}d}\n".encode("ascii"), 0)

    def discard(self) -> None:
        """Close and remove the mark: the part file is gap-free again (complete, or cut back)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def read(part: str) -> int | None:
    """The length the mark beside ``part`` records; ``None`` when there is none or it does not parse."""
    try:
        with open(mark_path(part), "rb") as f:
            text = f.read(_WIDTH + 2)
    except FileNotFoundError:
        return None
    digits = text.rstrip(b"\n")
    if len(digits) != _WIDTH or not digits.isdigit():
        return None
    return int(digits)


def trim(part: str, fd: int) -> int:
    """Cut the part file (open as ``fd``, locked) to the length its mark records, when that is
    shorter than the file, and remove the mark; return the file's length afterwards."""
    size = os.fstat(fd).st_size
    recorded = read(part)
    if recorded is not None and recorded < size:
        os.ftruncate(fd, recorded)
        size = recorded
    with contextlib.suppress(FileNotFoundError):
        os.unlink(mark_path(part))
    return size
