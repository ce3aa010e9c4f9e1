"""Transfer policy every upload and download shares: progress callbacks, which failures are worth
resuming, and the one bounded retry loop they all use.

Rules (see ``design.md``): never hold a whole blob in memory; hash bytes as they pass; a blob is
verified (size and digest) before anything presents it as complete; a failed transfer resumes from
what the other side already has instead of starting again. The repository a transfer talks to is a
:class:`dxf.remote.RemoteRepository`; uploads live in :mod:`dxf.upload`, downloads in
:mod:`dxf.download`, many-blob transfers in :mod:`dxf.parallel`.
"""

from __future__ import annotations

from collections.abc import Callable

import requests
import urllib3.exceptions

from .digest import READ_SIZE
from .exceptions import DXFHTTPError, DXFUnauthorizedError
from .transport import RetryPolicy, Transport

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


def is_resumable(error: BaseException, retry: RetryPolicy) -> bool:
    """Whether a failed request is worth resuming: network trouble, a retryable status, or a 401 that
    re-authentication already answered (the request body could not be replayed in place)."""
    if isinstance(error, (*NETWORK_FAILURES, DXFUnauthorizedError)):
        return True
    return isinstance(error, DXFHTTPError) and error.status_code in retry.statuses


class Retrying:
    """The bounded retry loop of one transfer step, written once::

        retrying = Retrying(transport)
        while True:
            try:
                ...  # one attempt
                return
            except Exception as error:
                if not retrying.again(error):
                    raise

    Attempts are bounded by the transport's :class:`~dxf.transport.RetryPolicy` (the client's
    ``retries``); waits back off exponentially and honour ``Retry-After``. The transport's
    ``sleep`` is looked up at each wait, so a test can replace it on a live client.
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self.failures = 0

    def again(self, error: BaseException, *, worth_it: bool | None = None) -> bool:
        """Count ``error`` and wait before the next attempt; ``False`` when ``error`` is final: not
        worth resuming (by :func:`is_resumable`, unless ``worth_it`` says) or the attempts are spent."""
        policy = self._transport.retry
        if not (is_resumable(error, policy) if worth_it is None else worth_it):
            return False
        self.failures += 1
        if self.failures >= policy.attempts:
            return False
        self._transport.sleep(policy.delay(self.failures, getattr(error, "response", None)))
        return True
