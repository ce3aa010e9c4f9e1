"""Where an interrupted upload is remembered between runs, so ``push-blob --resume`` can continue it.

One small JSON file per (registry, repository, digest) in a private directory (0700; files 0600): it
holds the upload session's location, which is all the registry needs to continue a session — and a
capability to write to it, hence the permissions. A location read back is checked like any other
(same origin as the registry, no downgrade) before anything is sent to it, so a tampered file cannot
direct our credentials elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping

from .digest import Digest


def default_directory(environ: Mapping[str, str]) -> str:
    """``$XDG_CACHE_HOME/dxf/uploads``, else ``~/.cache/dxf/uploads``."""
    cache = environ.get("XDG_CACHE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".cache"
    )
    return os.path.join(cache, "dxf", "uploads")


class UploadJournal:
    """Remembers upload locations by registry, repository and digest."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _path(self, registry: str, repo: str, digest: Digest) -> str:
        key = hashlib.sha256(f"{registry}\n{repo}\n{digest}".encode()).hexdigest()[:32]
        return os.path.join(self.directory, key + ".json")

    def load(self, registry: str, repo: str, digest: Digest) -> str | None:
        """The location saved for this upload, or None (nothing saved, or a file we cannot read)."""
        try:
            with open(self._path(registry, repo, digest), encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("digest") != str(digest):
            return None
        location = record.get("location")
        return location if isinstance(location, str) else None

    def save(self, registry: str, repo: str, digest: Digest, location: str) -> None:
        """Record (atomically) where the upload of ``digest`` can be continued."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        record = {"registry": registry, "repository": repo, "digest": str(digest), "location": location}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(record, f)
            os.replace(tmp, self._path(registry, repo, digest))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def forget(self, registry: str, repo: str, digest: Digest) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(registry, repo, digest))
