"""The one bounded retry loop every transfer uses, :class:`dxf.transfer.Retrying` (issue #9)."""

from __future__ import annotations

import requests

from dxf.exceptions import DXFHTTPError, DXFNotFoundError, DXFSessionLostError
from dxf.transfer import Retrying
from dxf.transport import RetryPolicy, Transport


def _transport(attempts: int, waits: list[float]) -> Transport:
    return Transport(retry=RetryPolicy(attempts=attempts, backoff=1.0, max_backoff=8.0), sleep=waits.append)


def _http_error(status: int, retry_after: str | None = None) -> DXFHTTPError:
    response = requests.Response()
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return DXFHTTPError(f"{status}", response=response)


def test_resumable_failures_wait_then_give_up_when_attempts_are_spent() -> None:
    waits: list[float] = []
    retrying = Retrying(_transport(3, waits))
    broken = requests.exceptions.ConnectionError("reset")
    assert retrying.again(broken)
    assert retrying.again(broken)
    assert not retrying.again(broken)  # the third failure of three attempts is final
    assert len(waits) == 2
    assert 0 <= waits[0] <= 1.0 and 0 <= waits[1] <= 2.0  # full jitter under an exponential ceiling


def test_a_failure_not_worth_resuming_is_final_at_once() -> None:
    waits: list[float] = []
    retrying = Retrying(_transport(5, waits))
    assert not retrying.again(DXFNotFoundError("404", response=None))
    assert not retrying.again(ValueError("bug"))
    assert waits == []


def test_retry_after_is_honoured_and_a_caller_may_judge_an_error_worth_it() -> None:
    waits: list[float] = []
    retrying = Retrying(_transport(5, waits))
    assert retrying.again(_http_error(503, retry_after="7"))
    assert retrying.again(DXFSessionLostError("gone"), worth_it=True)
    assert not retrying.again(_http_error(503), worth_it=False)
    assert waits[0] == 7.0 and len(waits) == 2


def test_the_transports_sleep_is_looked_up_at_each_wait() -> None:
    first: list[float] = []
    later: list[float] = []
    transport = _transport(5, first)
    retrying = Retrying(transport)
    transport.sleep = later.append
    assert retrying.again(requests.exceptions.Timeout())
    assert first == [] and len(later) == 1
