"""Progress bars for the ``dxf`` command: one tqdm bar per blob, on standard error.

:class:`ProgressBars` is a python-dxf style progress callback: the library calls it as
``progress(digest, chunk, total)`` when the blob's size is known (file uploads, downloads) and as
``progress(digest, chunk)`` when it is not (a stream from stdin). The first call for a digest, usually
with an empty chunk, opens that blob's bar; each chunk advances it by its length; the bar is closed as
soon as it reaches its total, and :meth:`ProgressBars.close` closes whatever is still open (streams of
unknown length, or a transfer that failed half way).

For parallel transfers (``push-blobs``, ``pull-blobs``) the callback is called from several threads at
once: a lock keeps the bars consistent, and :meth:`ProgressBars.add_total` adds one more bar that
counts the bytes of every blob together.
"""

from __future__ import annotations

import threading
from typing import Any, TextIO

import tqdm


def short_label(digest: str, width: int = 12) -> str:
    """A short description for a bar: the algorithm and the first ``width`` hex digits
    (``sha256:0f3c4d5e6a7b``), which starts like python-dxf's label and still tells blobs apart.

    Anything that is not a digest (e.g. ``(stream)`` for an upload from stdin) is kept as it is.
    """
    algorithm, sep, hexpart = digest.partition(":")
    if sep and hexpart:
        return f"{algorithm}:{hexpart[:width]}"
    return digest


#: tqdm's default layout with the unit after both sizes ("1.20MB/3.00MB"), not only after the rate.
#: Sizes are decimal (kB = 1000 bytes, MB = 10^6), as the "kB"/"MB" prefixes tqdm prints say.
_SIZED_FORMAT = "{l_bar}{bar}| {n_fmt}B/{total_fmt}B [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


class ProgressBars:
    """A progress callback drawing one bar per blob on ``stream`` (normally ``sys.stderr``)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bars: dict[str, tqdm.tqdm[Any]] = {}
        self._total: tqdm.tqdm[Any] | None = None
        self._lock = threading.Lock()

    def add_total(self, total: int | None, label: str = "total") -> None:
        """Show a bar for all blobs together (``total`` bytes, or unknown)."""
        with self._lock:
            self._total = self._new_bar(label, total)

    def _new_bar(self, label: str, total: int | None) -> tqdm.tqdm[Any]:
        return tqdm.tqdm(
            desc=label,
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1000,
            file=self._stream,
            leave=True,
            bar_format=_SIZED_FORMAT if total is not None else None,
        )

    def __call__(self, digest: str, chunk: bytes | memoryview, total: int | None = None) -> None:
        with self._lock:
            self._advance(digest, chunk, total)
            if self._total is not None and chunk:
                self._total.update(len(chunk))

    def _advance(self, digest: str, chunk: bytes | memoryview, total: int | None) -> None:
        bar: tqdm.tqdm[Any] | None = self._bars.get(digest)
        if bar is None:
            bar = self._new_bar(short_label(digest), total)
            self._bars[digest] = bar
        elif total is not None and bar.total is None:
            bar.total = total
        if chunk:
            bar.update(len(chunk))
        if bar.total is not None and bar.n >= bar.total:
            self._finish(digest)

    def _finish(self, digest: str) -> None:
        bar = self._bars.pop(digest, None)
        if bar is not None:
            bar.close()

    def close(self) -> None:
        """Close every bar still open."""
        with self._lock:
            for digest in list(self._bars):
                self._finish(digest)
            if self._total is not None:
                self._total.close()
                self._total = None

    @property
    def open_bars(self) -> int:
        """How many bars are still open (for tests)."""
        return len(self._bars)

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()
