"""Test hooks on a dxf client's transport: see or steer the requests it sends, without mocking."""

from __future__ import annotations

from typing import Any

import requests

from harness.proxy import FaultProxy


def inject_on_patch(client: Any, proxy: FaultProxy, *, number: int, status: int) -> None:
    """Have ``proxy`` answer the client's ``number``-th PATCH with ``status`` (the registry never sees
    it): the fault is armed just before that request goes out."""
    send = client._transport.send
    patches = 0

    def arming(method: str, url: str, **kwargs: Any) -> requests.Response:
        nonlocal patches
        if method == "PATCH":
            patches += 1
            if patches == number:
                proxy.inject_status(status, times=1)
        return send(method, url, **kwargs)  # type: ignore[no-any-return]

    client._transport.send = arming
