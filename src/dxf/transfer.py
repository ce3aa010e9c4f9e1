"""What every blob transfer shares: the repository it talks to, progress callbacks, failure rules.

Rules (see ``design.md``): never hold a whole blob in memory; hash bytes as they pass; a blob is
verified (size and digest) before anything presents it as complete; a failed transfer resumes from
what the other side already has instead of starting again. Uploads live in :mod:`dxf.upload`,
downloads in :mod:`dxf.download`, many-blob transfers in :mod:`dxf.parallel`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions

from .digest import READ_SIZE
from .exceptions import DXFHTTPError, DXFUnauthorizedError
from .registry import Registry, UnauthorizedHook
from .transport import RetryPolicy

#: Bytes per read when downloading; python-dxf read 8 KiB, which made pulls CPU-bound.
DEFAULT_DOWNLOAD_CHUNK = READ_SIZE

#: ``progress(digest, chunk, total)`` for files, ``progress(digest, chunk)`` for iterables (python-dxf).
Progress = Callable[..., None]

#: Failures after which a transfer asks the registry what it has and continues: the connection broke,
#: stalled, or the registry said "try again later".
NETWORK_FAILURES: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
)


class TransferCancelled(Exception):
    """Raised inside a transfer whose batch was abandoned (a sibling failed, or Ctrl-C): stop at once.

    Never reaches the caller of a batch: :func:`dxf.parallel.run_all` raises the failure that caused
    the cancellation instead.
    """


@dataclass
class RepoContext:
    """What a transfer needs to talk to one repository.

    ``cancel``, when set, makes transfers stop between two chunks with :class:`TransferCancelled`
    (parallel batches set it when one transfer fails or the user interrupts).
    """

    registry: Registry
    repo: str
    on_unauthorized: UnauthorizedHook | None
    cancel: threading.Event | None = None

    def check_cancelled(self) -> None:
        """Raise :class:`TransferCancelled` if the batch this transfer belongs to was abandoned."""
        if self.cancel is not None and self.cancel.is_set():
            raise TransferCancelled("transfer cancelled")

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return self.registry.request(
            method, url, repo=self.repo, on_unauthorized=self.on_unauthorized, **kwargs
        )

    @property
    def retry(self) -> RetryPolicy:
        return self.registry.transport.retry

    def pause(self, failures: int, error: BaseException) -> None:
        """Wait before retry number ``failures`` (honouring ``Retry-After`` when the error carries one)."""
        response = getattr(error, "response", None)
        self.registry.transport.sleep(self.retry.delay(failures, response))


def is_resumable(error: BaseException, retry: RetryPolicy) -> bool:
    """Whether a failed request is worth resuming: network trouble, a retryable status, or a 401 that
    re-authentication already answered (the request body could not be replayed in place)."""
    if isinstance(error, (*NETWORK_FAILURES, DXFUnauthorizedError)):
        return True
    return isinstance(error, DXFHTTPError) and error.status_code in retry.statuses
