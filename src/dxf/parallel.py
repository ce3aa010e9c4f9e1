"""Many blobs at once: a bounded pool of workers over one thread-safe client.

Each blob is its own transfer (streamed, verified, resumable); the pool only decides how many run at
a time. Results keep the order of the inputs. When one transfer fails, or the caller is interrupted
(Ctrl-C), the batch is abandoned at once: those not yet started never start, those running see the
cancellation event at their next chunk and stop (removing their temporary files, cancelling their
upload sessions), and the first error is raised. The workers are given a moment to unwind, not the
time to finish their transfers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Seconds an abandoned batch waits for its running transfers to stop (they check between chunks, so
#: this is only reached when one is stuck in a stalled read).
UNWIND_TIMEOUT = 5.0


def run_all(
    items: Sequence[T], work: Callable[[T], R], jobs: int, cancel: threading.Event | None = None
) -> list[R]:
    """``[work(item) for item in items]`` with up to ``jobs`` running at once.

    ``cancel`` is set when the batch is abandoned; ``work`` should pass it to its transfers (see
    :meth:`dxf.remote.RemoteRepository.for_batch`) so that they stop promptly.
    """
    if jobs <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    cancel = cancel if cancel is not None else threading.Event()
    pool = ThreadPoolExecutor(max_workers=min(jobs, len(items)), thread_name_prefix="dxf-transfer")
    futures: list[Future[R]] = []
    try:
        futures = [pool.submit(work, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            error = failed[0].exception()
            assert error is not None
            raise error
        return [future.result() for future in futures]
    except BaseException:
        _abandon(pool, futures, cancel)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _abandon(pool: ThreadPoolExecutor, futures: list[Future[R]], cancel: threading.Event) -> None:
    """Stop the batch: nothing new starts, running transfers are told to stop and given a moment to
    clean up after themselves."""
    cancel.set()
    pool.shutdown(wait=False, cancel_futures=True)
    wait(futures, timeout=UNWIND_TIMEOUT)


def blob_file_name(digest: str) -> str:
    """The file name a pulled blob gets in an output directory: ``<algorithm>-<hex>``."""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}-{hexpart}"
