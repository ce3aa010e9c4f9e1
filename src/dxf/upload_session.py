"""The upload-session protocol (OCI distribution spec, "Pushing blobs"): open, append, ask, close.

``POST`` opens a session (end-4a), ``PATCH`` requests with ``Content-Range`` append to it (end-5),
``GET`` on its location says how much it holds (end-13, ``Range: 0-<last>``), ``PUT ?digest=``
closes it (end-6) and ``DELETE`` abandons it. After a failed ``PATCH`` :func:`send_span` asks the
session how much it holds and continues from there. Not every registry can answer: distribution 2.8
signs the expected offset into the upload URL and cancels a session whose stored size disagrees,
which is exactly what a ``PATCH`` broken mid-body leaves; that raises
:class:`~dxf.exceptions.DXFSessionLostError` and the caller (:mod:`dxf.upload`) starts again. What
each answer means is in :mod:`dxf.statuses`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import requests

from . import statuses
from .digest import Digest
from .exceptions import DXFError, DXFHTTPError, DXFPatchRefusedError, DXFSessionLostError, describe_response
from .limits import header_int
from .statuses import Outcome
from .transfer import is_resumable

if TYPE_CHECKING:
    from .remote import RemoteRepository


class UploadSession:
    """One upload session at the registry; tracks its current location."""

    def __init__(self, repo: RemoteRepository, location: str | None = None) -> None:
        """Open a new session (POST), or with ``location`` take up one opened earlier."""
        self.repo = repo
        self.min_chunk = 0
        #: Called with each new location, so a journal can remember where to continue.
        self.on_move: Callable[[str], None] | None = None
        registry = repo.registry
        if location is not None:
            self.location = registry.resolve_location(registry.base_url, location)
            return
        url = registry.upload_start_url(repo.path)
        response = repo.request("POST", url, answers=statuses.UPLOAD_OPEN)
        response.close()
        self.location = registry.resolve_location(url, _location(response))
        minimum = response.headers.get("OCI-Chunk-Min-Length", "")
        self.min_chunk = header_int(minimum) or 0

    def _follow(self, response: requests.Response) -> None:
        location = response.headers.get("Location")
        if location:
            self.location = self.repo.registry.resolve_location(self.location, location)
            if self.on_move is not None:
                self.on_move(self.location)

    def patch(self, body: object, start: int, length: int) -> None:
        """Append ``length`` bytes at ``start`` (the session must hold exactly ``start`` bytes).

        Raises :class:`DXFSessionLostError` when the registry refuses the range, and
        :class:`DXFPatchRefusedError` when it takes no ``PATCH`` uploads at all.
        """
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{start}-{start + length - 1}",
        }
        if length:
            headers["Content-Length"] = str(length)
        answers = statuses.UPLOAD_PATCH
        response = self.repo.request(
            "PATCH", self.location, body=body, headers=headers, answers=answers, retry=False
        )
        response.close()
        outcome = answers.of(response)
        if outcome is Outcome.RANGE_REFUSED:
            raise DXFSessionLostError(
                f"the registry refused the PATCH's range: {describe_response(response)}"
            )
        if outcome is Outcome.PATCH_UNSUPPORTED:
            raise DXFPatchRefusedError(describe_response(response), response=response)
        self._follow(response)

    def offset(self) -> int:
        """How many bytes the registry holds for this session (``Range: 0-<last byte>``).

        distribution answers ``0-0`` both for an empty session and for one holding a single byte; we
        take 0. If that is wrong, the registry refuses the next PATCH (its signed state disagrees with
        what it stored) and the upload starts again in a new session, so nothing is ever corrupted.
        """
        response = self.repo.request("GET", self.location, answers=statuses.UPLOAD_STATUS)
        response.close()
        if statuses.UPLOAD_STATUS.of(response) is Outcome.SESSION_GONE:
            raise DXFSessionLostError(
                f"the registry dropped the upload session: {describe_response(response)}"
            )
        self._follow(response)
        start, _, end = response.headers.get("Range", "").partition("-")
        last = header_int(end)
        if start != "0" or last is None:
            raise DXFSessionLostError(
                f"the registry's upload status has no usable Range: {response.headers.get('Range')!r}"
            )
        return 0 if last == 0 else last + 1

    def finish(self, digest: Digest, body: object = None) -> None:
        """Close the session with ``PUT ?digest=`` (and the rest of the content, if any).

        A PUT whose answer was lost may still have landed, so after a failure we ask whether the blob
        exists before trying again; a PUT that carries content is never resent here (the caller
        starts a new session for that).
        """
        url = self.repo.registry.with_query(self.location, digest=str(digest))
        headers = {"Content-Type": "application/octet-stream"}
        retrying = self.repo.retrying()
        while True:
            try:
                answers = statuses.UPLOAD_CLOSE
                self.repo.request(
                    "PUT", url, body=body, headers=headers, answers=answers, retry=False
                ).close()
                return
            except Exception as error:
                if not is_resumable(error, self.repo.retry):
                    raise
                if self.repo.blob_exists(digest):
                    return
                if body is not None or not retrying.again(error):
                    raise

    def cancel(self) -> None:
        """Abandon the session (best effort: an orphan session is only garbage at the registry)."""
        with contextlib.suppress(DXFError, requests.exceptions.RequestException):
            self.repo.request("DELETE", self.location, answers=statuses.UPLOAD_CANCEL).close()


def _location(response: requests.Response) -> str:
    location = response.headers.get("Location")
    if not location:
        raise DXFHTTPError(f"{response.status_code} {response.reason}: no Location header", response=response)
    return location


def send_span(session: UploadSession, body_from: Callable[[int], object], start: int, end: int) -> None:
    """PATCH bytes ``[start, end)``; after a failure, ask the registry what it holds and go on from there.

    ``body_from(offset)`` makes a fresh request body for ``[offset, end)``. Attempts are bounded by the
    client's retry policy. When the registry can no longer say where the session stands (distribution
    2.8 cancels a session whose stored size disagrees with its signed state, which is what a PATCH
    broken mid-body leaves behind) this raises :class:`DXFSessionLostError`, and the caller starts over.
    """
    offset = start
    retrying = session.repo.retrying()
    while True:
        try:
            session.patch(body_from(offset), offset, end - offset)
            return
        except Exception as error:
            if not retrying.again(error):
                raise
            offset = _resume_point(session, start, end)
            if offset == end:
                return


def _resume_point(session: UploadSession, start: int, end: int) -> int:
    """Where to continue after a failure: the registry's own count, if it is inside the span."""
    held = session.offset()
    if not start <= held <= end:
        raise DXFSessionLostError(f"the registry holds {held} bytes, outside the span {start}-{end}")
    return held
