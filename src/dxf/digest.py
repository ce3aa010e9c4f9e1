"""Content digests: parsing, validation and hashing.

A digest is ``algorithm:hex`` (OCI image spec, "Digests"). We accept the two registered algorithms,
sha256 (64 lowercase hex characters) and sha512 (128). Everything past the public boundary carries a
:class:`Digest`, so a string that could smuggle ``/`` or ``..`` into a URL or a file path never gets there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from .exceptions import DXFInvalidReferenceError, DXFUnexpectedDigestMethodError

#: Hex length of each algorithm we accept (OCI image spec, registered algorithms).
ALGORITHM_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
DEFAULT_ALGORITHM = "sha256"
#: Read size for hashing files: large reads keep hashlib near its native speed.
READ_SIZE = 1024 * 1024

_ALGORITHM_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*")
_HEX_RE = re.compile(r"[a-f0-9]+")


@dataclass(frozen=True, order=True)
class Digest:
    """A validated ``algorithm:hex`` content digest."""

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        expected = ALGORITHM_HEX_LENGTHS.get(self.algorithm)
        if expected is None:
            raise DXFUnexpectedDigestMethodError(self.algorithm, "sha256 or sha512")
        if len(self.hex) != expected or not _HEX_RE.fullmatch(self.hex):
            raise DXFInvalidReferenceError(
                f"invalid {self.algorithm} digest: expected {expected} lowercase hex characters"
            )

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``algorithm:hex``; raise :class:`DXFInvalidReferenceError` when malformed."""
        if not isinstance(text, str):
            raise DXFInvalidReferenceError(f"invalid digest: {text!r} is not a string")
        algorithm, sep, hexpart = text.partition(":")
        if not sep or not _ALGORITHM_RE.fullmatch(algorithm):
            raise DXFInvalidReferenceError(f"invalid digest: {_shorten(text)!r} (expected algorithm:hex)")
        return cls(algorithm, hexpart)

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
        """The digest of ``data``."""
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    @classmethod
    def of_file(cls, path: str, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
        """The digest of a file's content, read in large blocks."""
        with open(path, "rb") as f:
            return cls.of_stream(f, algorithm)

    @classmethod
    def of_stream(cls, stream: BinaryIO, algorithm: str = DEFAULT_ALGORITHM) -> Digest:
        """The digest of everything left in a binary stream."""
        hasher = hashlib.new(algorithm)
        buf = bytearray(READ_SIZE)
        view = memoryview(buf)
        readinto = getattr(stream, "readinto", None)
        if readinto is not None:
            while n := readinto(view):
                hasher.update(view[:n])
        else:
            while chunk := stream.read(READ_SIZE):
                hasher.update(chunk)
        return cls(algorithm, hasher.hexdigest())

    @classmethod
    def of_chunks(cls, chunks: Iterable[bytes], algorithm: str = DEFAULT_ALGORITHM) -> Digest:
        """The digest of the concatenation of ``chunks``."""
        hasher = hashlib.new(algorithm)
        for chunk in chunks:
            hasher.update(chunk)
        return cls(algorithm, hasher.hexdigest())

    def hasher(self) -> hashlib._Hash:
        """A fresh hash object of this digest's algorithm, to verify content as it streams."""
        return hashlib.new(self.algorithm)

    def matches(self, hasher: hashlib._Hash) -> bool:
        """Whether a finished hash object produced this digest."""
        return hasher.name == self.algorithm and hasher.hexdigest() == self.hex

    @property
    def short(self) -> str:
        """A short human label, e.g. ``sha256:0123456789ab``."""
        return f"{self.algorithm}:{self.hex[:12]}"

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def hash_bytes(buf: bytes) -> str:
    """``sha256:<hex>`` of ``buf``, as python-dxf's ``hash_bytes`` returns it."""
    return str(Digest.of_bytes(buf))


def hash_file(filename: str) -> str:
    """``sha256:<hex>`` of a file's content, as python-dxf's ``hash_file`` returns it."""
    return str(Digest.of_file(filename))


def split_digest(s: str) -> tuple[str, str]:
    """Split ``algorithm:hex`` into its parts, validating both (python-dxf's ``split_digest``)."""
    digest = Digest.parse(s)
    return digest.algorithm, digest.hex


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
