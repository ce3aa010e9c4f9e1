"""A tiny in-memory store, written from ``pydoc dxf.store`` alone: the proof that the interface is
implementable by something that is not a registry, and the reference the contract tests hold every
other store to."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from dxf.digest import Digest
from dxf.exceptions import DXFNotFoundError
from dxf.manifest import Descriptor, parse_manifest
from dxf.reference import validate_tag
from dxf.store import VerifiedContent, verified

#: Chunk size fetch hands content out in: small, so multi-chunk paths are exercised.
CHUNK = 4096


class MemoryStore:
    """Blobs and manifests in a dict, tags in another; safe to share between threads."""

    def __init__(self) -> None:
        self._content: dict[Digest, tuple[Descriptor, bytes]] = {}
        self._tags: dict[str, Descriptor] = {}
        self._lock = threading.Lock()

    # -- the required core -------------------------------------------------------------------------
    def exists(self, desc: Descriptor) -> bool:
        with self._lock:
            return desc.digest in self._content

    def fetch(self, desc: Descriptor) -> VerifiedContent:
        with self._lock:
            held = self._content.get(desc.digest)
        if held is None:
            raise DXFNotFoundError(f"{desc.digest} not found")
        data = held[1]
        return VerifiedContent(desc, (data[i : i + CHUNK] for i in range(0, len(data), CHUNK)))

    def resolve(self, reference: str) -> Descriptor:
        with self._lock:
            if ":" in reference:
                held = self._content.get(Digest.parse(reference))
                if held is not None and held[0].is_manifest:
                    return held[0]
            else:
                found = self._tags.get(validate_tag(reference))
                if found is not None:
                    return found
        raise DXFNotFoundError(f"{reference} not found")

    def push(self, desc: Descriptor, chunks: Iterable[bytes]) -> None:
        data = b"".join(verified(desc, chunks))
        if desc.is_manifest:
            parse_manifest(data, desc.media_type)  # a store never holds a manifest it cannot read
        with self._lock:
            self._content[desc.digest] = (desc, data)

    def tag(self, desc: Descriptor, reference: str) -> None:
        name = validate_tag(reference)
        with self._lock:
            held = self._content.get(desc.digest)
            if held is None or not held[0].is_manifest:
                raise DXFNotFoundError(f"manifest {desc.digest} not found")
            self._tags[name] = held[0]

    # -- optional capabilities ---------------------------------------------------------------------
    def tags(self) -> Iterator[str]:
        with self._lock:
            names = sorted(self._tags)
        yield from names

    def delete(self, desc: Descriptor) -> None:
        with self._lock:
            if self._content.pop(desc.digest, None) is None:
                raise DXFNotFoundError(f"{desc.digest} not found")
            for name in [n for n, d in self._tags.items() if d.digest == desc.digest]:
                del self._tags[name]

    def untag(self, reference: str) -> None:
        with self._lock:
            if self._tags.pop(validate_tag(reference), None) is None:
                raise DXFNotFoundError(f"{reference} not found")
