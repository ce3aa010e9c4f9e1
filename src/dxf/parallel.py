"""Many blobs at once: a bounded pool of workers over one thread-safe client.

Each blob is its own transfer (streamed, verified, resumable); the pool only decides how many run at
a time. Results keep the order of the inputs. When one transfer fails, those not yet started are
cancelled, those running finish, and the first error is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_all(items: Sequence[T], work: Callable[[T], R], jobs: int) -> list[R]:
    """``[work(item) for item in items]`` with up to ``jobs`` running at once."""
    if jobs <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(jobs, len(items)), thread_name_prefix="dxf-transfer") as pool:
        futures: list[Future[R]] = [pool.submit(work, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            for future in futures:
                future.cancel()
            wait(futures)
            error = failed[0].exception()
            assert error is not None
            raise error
        return [future.result() for future in futures]


def blob_file_name(digest: str) -> str:
    """The file name a pulled blob gets in an output directory: ``<algorithm>-<hex>``."""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}-{hexpart}"
