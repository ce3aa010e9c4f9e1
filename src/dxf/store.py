"""The store interface: what every place that holds content implements.

A registry repository, an OCI image layout on disk and an in-memory store all hold the same things:
blobs and manifests, each addressed by a :class:`~dxf.manifest.Descriptor` (media type, digest,
size), and references (tags, which dxf calls aliases) that name manifests. Copying content between
any two of them needs only five operations, so that is the whole required interface:

``exists(desc)``
    Whether the store holds the content ``desc`` names. Cheap (a HEAD, a ``stat``).
``fetch(desc)``
    The content as a :class:`VerifiedContent`: chunks that are checked against ``desc``'s size and
    digest as they pass. A consumer never sees a byte past ``desc.size``, and iterating to the end
    raises instead of finishing when the content was short or hashed differently.
``resolve(reference)``
    The descriptor of the manifest a tag (or a manifest digest) names.
``push(desc, chunks)``
    Store content under ``desc``. The store verifies what it receives against ``desc`` (see
    :func:`verified`) and keeps nothing when it does not match.
``tag(desc, reference)``
    Point a tag at a manifest the store already holds.

:class:`ReadOnlyStore` is the first three, :class:`Store` all five. A store may offer more; callers
test for it with ``isinstance(store, TagLister)`` and the like (the capability protocols are
runtime-checkable):

- :class:`TagLister` -- ``tags()``: every tag.
- :class:`Deleter` -- ``delete(desc)``: remove a blob or manifest.
- :class:`Untagger` -- ``untag(reference)``: remove one tag and nothing else.
- :class:`Mounter` -- ``mount(desc, from_repository)``: make content of another repository on the same
  server available without moving its bytes.
- :class:`ReferrerLister` -- ``referrers(desc, artifact_type)``: the manifests whose ``subject`` is
  ``desc``.

Failures use the one exception tree in :mod:`dxf.exceptions`: content or a tag that is not there is
:class:`~dxf.exceptions.DXFNotFoundError` whatever the store, content that does not match its
descriptor is :class:`~dxf.exceptions.DXFSizeMismatchError` or
:class:`~dxf.exceptions.DXFDigestMismatchError`, and a malformed reference is
:class:`~dxf.exceptions.DXFInvalidReferenceError`, raised before anything is looked up.

The shape follows oras-go v2's ``content.Storage`` / ``oras.Target`` split (small required core,
optional capabilities) and go-containerregistry's verifying readers.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from types import TracebackType
from typing import Protocol, runtime_checkable

from .exceptions import DXFDigestMismatchError, DXFSizeMismatchError
from .manifest import Descriptor

__all__ = [
    "Deleter",
    "Mounter",
    "ReadOnlyStore",
    "ReferrerLister",
    "Store",
    "TagLister",
    "Untagger",
    "VerifiedContent",
    "verified",
]


def verified(desc: Descriptor, chunks: Iterable[bytes]) -> Generator[bytes, None, None]:
    """``chunks``, checked against ``desc`` as they pass.

    Raises :class:`DXFSizeMismatchError` before yielding a chunk that would go past ``desc.size``
    (so an endless source cannot fill a disk), and after the last chunk when the content was short
    or its digest differs (:class:`DXFDigestMismatchError`). Only a generator that ran to its end
    has delivered verified content: a store commits (renames, tags, finishes an upload) only then.
    """
    hasher = desc.digest.hasher()
    received = 0
    for chunk in chunks:
        if not chunk:
            continue
        received += len(chunk)
        if received > desc.size:
            raise DXFSizeMismatchError(f"more than {desc.size}", desc.size)
        hasher.update(chunk)
        yield chunk
    if received != desc.size:
        raise DXFSizeMismatchError(received, desc.size)
    got = hasher.hexdigest()
    if got != desc.digest.hex:
        raise DXFDigestMismatchError(f"{desc.digest.algorithm}:{got}", str(desc.digest))


def _passed_through(chunks: Iterable[bytes]) -> Generator[bytes, None, None]:
    yield from chunks


class VerifiedContent:
    """The content of one blob or manifest as a store hands it out: verified chunks, closeable.

    Iterate once. Use it as a context manager (or call :meth:`close`) so that a consumer that stops
    early releases what the store holds open (a connection, a file).
    """

    def __init__(
        self,
        desc: Descriptor,
        chunks: Iterable[bytes],
        close: Callable[[], None] | None = None,
        *,
        checked_by_source: bool = False,
    ) -> None:
        """``checked_by_source``: the source of ``chunks`` already checks them against ``desc`` as
        :func:`verified` would (never a byte past ``desc.size``; size and digest at the end), as a
        blob download that hashes what it receives does, so they are not hashed a second time."""
        self.descriptor = desc
        self._chunks = _passed_through(chunks) if checked_by_source else verified(desc, chunks)
        self._close = close

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def read_all(self) -> bytes:
        """Everything, verified. For manifests and other small content: a blob should be streamed."""
        with self:
            return b"".join(self._chunks)

    def close(self) -> None:
        self._chunks.close()
        if self._close is not None:
            close, self._close = self._close, None
            close()

    def __enter__(self) -> VerifiedContent:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ReadOnlyStore(Protocol):
    """A place content can be read from."""

    def exists(self, desc: Descriptor) -> bool:
        """Whether the store holds the content ``desc`` names."""
        ...

    def fetch(self, desc: Descriptor) -> VerifiedContent:
        """The content ``desc`` names; :class:`DXFNotFoundError` when the store does not hold it."""
        ...

    def resolve(self, reference: str) -> Descriptor:
        """The manifest a tag or a manifest digest (``sha256:...``) names."""
        ...


class Store(ReadOnlyStore, Protocol):
    """A place content can be read from and written to."""

    def push(self, desc: Descriptor, chunks: Iterable[bytes]) -> None:
        """Store ``chunks`` as the content ``desc`` names, verified against it; nothing is kept when
        they do not match. A manifest's children should be pushed before it (some stores check)."""
        ...

    def tag(self, desc: Descriptor, reference: str) -> None:
        """Point tag ``reference`` at the manifest ``desc``, which the store must already hold."""
        ...


@runtime_checkable
class TagLister(Protocol):
    """A store that can list its tags."""

    def tags(self) -> Iterator[str]:
        """Every tag, as the store orders them (a registry: its page order)."""
        ...


@runtime_checkable
class Deleter(Protocol):
    """A store that can remove content."""

    def delete(self, desc: Descriptor) -> None:
        """Remove the blob or manifest ``desc`` names (a manifest's tags go with it)."""
        ...


@runtime_checkable
class Untagger(Protocol):
    """A store that can remove one tag without touching the manifest or its other tags."""

    def untag(self, reference: str) -> None:
        """Remove tag ``reference``."""
        ...


@runtime_checkable
class Mounter(Protocol):
    """A store that can take content from another repository on the same server without copying it."""

    def mount(self, desc: Descriptor, from_repository: str) -> bool:
        """Make ``desc`` from ``from_repository`` available here; ``False`` when the store could not
        (the caller then pushes the bytes)."""
        ...


@runtime_checkable
class ReferrerLister(Protocol):
    """A store that can list the manifests that refer to another (through their ``subject``)."""

    def referrers(self, desc: Descriptor, artifact_type: str | None = None) -> Iterator[Descriptor]:
        """Descriptors of the manifests whose ``subject`` is ``desc``, optionally of one type."""
        ...
