"""``OCILayout``: an OCI image layout directory as a :mod:`dxf.store` store.

The format is the OCI image spec v1.1 ``image-layout.md``: an ``oci-layout`` file naming the layout
version, an ``index.json`` (an OCI image index) listing the manifests the layout holds, and every
blob and manifest under ``blobs/<algorithm>/<hex>``. A tag (a dxf alias) is an ``index.json`` entry
with the annotation ``org.opencontainers.image.ref.name``, as skopeo, oras and umoci write it.

Safety on disk, since a layout is shared between processes and carried around on removable media:

- every write is a temporary file in the same directory, flushed and renamed into place, so a crash
  leaves the old file or the new one, never half of one;
- ``index.json`` is read, changed and replaced under an exclusive ``fcntl`` lock on a file beside it
  (``index.json.lock``), so two processes tagging at once both keep their tag;
- a path is only ever built from a validated :class:`~dxf.digest.Digest` (``sha256``/``sha512`` and
  lowercase hex), and every directory and file inside the layout is opened relative to its parent
  with ``O_NOFOLLOW``: a symlink planted inside the layout is refused rather than followed;
- a blob is verified (size and digest, :func:`~dxf.store.verified`) while it is written to its
  temporary file and gets its final name only afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .digest import ALGORITHM_HEX_LENGTHS, Digest
from .exceptions import DXFDigestMismatchError, DXFError, DXFLayoutError, DXFManifestError, DXFNotFoundError
from .manifest import MAX_MANIFEST_SIZE, OCI_INDEX, OCTET_STREAM, Descriptor, parse_manifest, successors
from .reference import is_digest_reference, validate_tag
from .store import VerifiedContent, verified

#: The annotation that names a manifest in ``index.json`` (OCI image spec, "Pre-Defined Annotation Keys").
REF_NAME = "org.opencontainers.image.ref.name"
#: The only layout version the spec defines (image-layout.md, "oci-layout file").
LAYOUT_VERSION = "1.0.0"
INDEX_FILE = "index.json"
LAYOUT_FILE = "oci-layout"
LOCK_FILE = "index.json.lock"
BLOBS = "blobs"
#: Bytes per read when a blob is fetched from disk.
READ_CHUNK = 1024 * 1024
#: Prefix of temporary files; never a valid hex digest, so a listing of blobs cannot mistake one.
TEMP_PREFIX = ".dxf-tmp-"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Freed:
    """What :meth:`OCILayout.gc` removed: each digest with its size, and the bytes in all (temporary
    files an interrupted write left count in ``size`` but have no digest)."""

    removed: tuple[tuple[Digest, int], ...]
    size: int

    @property
    def digests(self) -> tuple[Digest, ...]:
        return tuple(digest for digest, _ in self.removed)


class OCILayout:
    """The OCI image layout at ``root`` (created on the first write when it does not exist yet).

    Implements :class:`dxf.store.Store` and the capabilities :class:`~dxf.store.TagLister`,
    :class:`~dxf.store.Deleter` and :class:`~dxf.store.Untagger`; :meth:`gc` removes blobs nothing
    references. Safe to share between threads and processes.
    """

    def __init__(self, root: str) -> None:
        self.root = os.fspath(root)

    def __repr__(self) -> str:
        return f"OCILayout({self.root!r})"

    # -- directories, opened without following symlinks inside the layout -------------------------
    @contextlib.contextmanager
    def _directory(self, *names: str, create: bool = False) -> Iterator[int]:
        """A descriptor of ``root/names...``; every component below ``root`` must be a real directory
        (a symlink raises :class:`DXFLayoutError`). Missing ones are made with ``create``, else
        :class:`FileNotFoundError`."""
        if create:
            os.makedirs(self.root, exist_ok=True)
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for name in names:
                parent, fd = fd, -1
                try:
                    fd = _enter(parent, name, create)
                finally:
                    os.close(parent)
            yield fd
        finally:
            if fd >= 0:
                os.close(fd)

    def _blob_dir(self, digest: Digest, create: bool = False) -> contextlib.AbstractContextManager[int]:
        return self._directory(BLOBS, digest.algorithm, create=create)

    # -- the layout files --------------------------------------------------------------------------
    def _ensure_layout(self) -> None:
        """Make ``root`` a layout if it is not one yet; refuse one of another version."""
        with self._directory(create=True) as root:
            try:
                text = _read_small(root, LAYOUT_FILE, 4096)
            except FileNotFoundError:
                _write_atomically(root, LAYOUT_FILE, _dumps({"imageLayoutVersion": LAYOUT_VERSION}))
            else:
                _check_layout_version(text, self.root)
            if not _is_file(root, INDEX_FILE):
                with self._index_lock(root):
                    if not _is_file(root, INDEX_FILE):
                        _write_atomically(root, INDEX_FILE, _dumps(_empty_index()))

    @contextlib.contextmanager
    def _index_lock(self, root: int) -> Iterator[None]:
        fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=root)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read_index(self, root: int) -> dict[str, Any]:
        try:
            text = _read_small(root, INDEX_FILE, MAX_MANIFEST_SIZE)
        except FileNotFoundError:
            return _empty_index()
        try:
            index = json.loads(text)
        except ValueError:
            raise DXFLayoutError(f"{self.root}: index.json is not valid JSON") from None
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise DXFLayoutError(f"{self.root}: index.json has no manifests array")
        parse_manifest(text, OCI_INDEX)  # every entry well-formed: digests are validated before use
        return index

    def _entries(self) -> list[dict[str, Any]]:
        """The ``manifests`` of ``index.json`` (none when the layout does not exist yet)."""
        try:
            with self._directory() as root:
                entries: list[dict[str, Any]] = self._read_index(root)["manifests"]
                return entries
        except FileNotFoundError:
            return []

    @contextlib.contextmanager
    def _changing_index(self) -> Iterator[list[dict[str, Any]]]:
        """The ``manifests`` of ``index.json`` to change in place; written back (atomically, under the
        lock) when the block ends without an error."""
        self._ensure_layout()
        with self._directory() as root, self._index_lock(root):
            index = self._read_index(root)
            yield index["manifests"]
            _write_atomically(root, INDEX_FILE, _dumps(index))

    # -- the store core ----------------------------------------------------------------------------
    def exists(self, desc: Descriptor) -> bool:
        try:
            with self._blob_dir(desc.digest) as directory:
                return _is_file(directory, desc.digest.hex)
        except FileNotFoundError:
            return False

    def size_of(self, digest: Digest) -> int:
        """The size of the blob or manifest stored under ``digest`` (a 404 when there is none)."""
        fd = self._open_blob(digest)
        try:
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def fetch(self, desc: Descriptor) -> VerifiedContent:
        fd = self._open_blob(desc.digest)
        stream = os.fdopen(fd, "rb", buffering=0)
        return VerifiedContent(desc, iter(lambda: stream.read(READ_CHUNK), b""), stream.close)

    def _open_blob(self, digest: Digest) -> int:
        try:
            with self._blob_dir(digest) as directory:
                return os.open(digest.hex, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
        except FileNotFoundError:
            raise _not_found(f"{digest} not found in {self.root}") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise DXFLayoutError(f"{self.root}: blob {digest} is a symlink") from None
            raise

    def _read_manifest(self, digest: Digest) -> bytes:
        with os.fdopen(self._open_blob(digest), "rb") as f:
            content = f.read(MAX_MANIFEST_SIZE + 1)
        if len(content) > MAX_MANIFEST_SIZE:
            raise DXFManifestError(f"manifest {digest} is larger than {MAX_MANIFEST_SIZE} bytes")
        return content

    def resolve(self, reference: str) -> Descriptor:
        if is_digest_reference(reference):
            return self._resolve_digest(Digest.parse(reference))
        tag = validate_tag(reference)
        found = [entry for entry in self._entries() if _ref_name(entry) == tag]
        if not found:
            raise _not_found(f"{tag} not found in {self.root}")
        return _plain(found[-1])

    def _resolve_digest(self, digest: Digest) -> Descriptor:
        for entry in self._entries():
            if entry["digest"] == str(digest):
                return _plain(entry)
        content = self._read_manifest(digest)  # held but not listed: a child of an index
        try:
            media_type = parse_manifest(content).media_type
        except DXFError:
            raise _not_found(f"manifest {digest} not found in {self.root}") from None
        return Descriptor(media_type, digest, len(content))

    def push(self, desc: Descriptor, chunks: Iterable[bytes]) -> None:
        if desc.is_manifest and desc.size > MAX_MANIFEST_SIZE:
            raise DXFManifestError(f"manifest {desc.digest} is larger than {MAX_MANIFEST_SIZE} bytes")
        self._ensure_layout()
        with self._blob_dir(desc.digest, create=True) as directory:
            fd, temp = _temporary(directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    content = verified(desc, chunks)
                    if desc.is_manifest:
                        data = b"".join(content)
                        parse_manifest(data, desc.media_type)  # never hold a manifest we cannot read
                        f.write(data)
                    else:
                        for chunk in content:
                            f.write(chunk)
                    f.flush()
                    os.fsync(f.fileno())
                os.rename(temp, desc.digest.hex, src_dir_fd=directory, dst_dir_fd=directory)
                os.fsync(directory)  # the new name survives a power cut too
            except BaseException:
                _remove_quietly(directory, temp)
                raise

    def tag(self, desc: Descriptor, reference: str) -> None:
        name = validate_tag(reference)
        if not desc.is_manifest or not self.exists(desc):
            raise _not_found(f"manifest {desc.digest} not found in {self.root}")
        entry: dict[str, Any] = {"mediaType": desc.media_type, "digest": str(desc.digest), "size": desc.size}
        entry["annotations"] = {REF_NAME: name}
        with self._changing_index() as entries:
            entries[:] = [e for e in entries if _ref_name(e) != name]
            entries.append(entry)

    # -- capabilities ------------------------------------------------------------------------------
    def tags(self) -> Iterator[str]:
        names = (_ref_name(entry) for entry in self._entries())
        yield from dict.fromkeys(name for name in names if name is not None)

    def untag(self, reference: str) -> None:
        name = validate_tag(reference)
        with self._changing_index() as entries:
            kept = [e for e in entries if _ref_name(e) != name]
            if len(kept) == len(entries):
                raise _not_found(f"{name} not found in {self.root}")
            entries[:] = kept

    def delete(self, desc: Descriptor) -> None:
        """Remove the blob or manifest; a manifest's ``index.json`` entries (its tags) go first."""
        if not self.exists(desc):
            raise _not_found(f"{desc.digest} not found in {self.root}")
        if desc.is_manifest:
            with self._changing_index() as entries:
                entries[:] = [e for e in entries if e["digest"] != str(desc.digest)]
        with self._blob_dir(desc.digest) as directory:
            _remove_quietly(directory, desc.digest.hex)

    def ingest(
        self, chunks: Iterable[bytes], media_type: str = OCTET_STREAM, expected: Digest | None = None
    ) -> Descriptor:
        """Store content whose size (or digest) is not known yet: hashed while it is written to a
        temporary file, which gets its final name once the digest is known and matches ``expected``
        (else :class:`DXFDigestMismatchError`, and nothing is kept)."""
        self._ensure_layout()
        hasher = Digest.of_bytes(b"").hasher()
        size = 0
        with self._directory(BLOBS, "sha256", create=True) as directory:
            fd, temp = _temporary(directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    for chunk in chunks:
                        hasher.update(chunk)
                        size += len(chunk)
                        f.write(chunk)
                    f.flush()
                    os.fsync(f.fileno())
                digest = Digest("sha256", hasher.hexdigest())
                if expected is not None and digest != expected:
                    raise DXFDigestMismatchError(str(digest), str(expected))
                os.rename(temp, digest.hex, src_dir_fd=directory, dst_dir_fd=directory)
            except BaseException:
                _remove_quietly(directory, temp)
                raise
        return Descriptor(media_type, digest, size)

    def remove_alias(self, reference: str) -> Descriptor:
        """Remove tag ``reference``, and its manifest too when nothing else (another tag, an index
        the layout lists) still refers to it; return the manifest's descriptor."""
        desc = self.resolve(reference)
        self.untag(reference)
        if desc.digest not in self.reachable():
            with self._blob_dir(desc.digest) as directory:
                _remove_quietly(directory, desc.digest.hex)
        return desc

    def reachable(self) -> set[Digest]:
        """Every digest reachable from ``index.json``: its manifests and, through them, all blobs."""
        seen: set[Digest] = set()
        pending = [_plain(entry) for entry in self._entries()]
        while pending:
            desc = pending.pop()
            if desc.digest in seen:
                continue
            seen.add(desc.digest)
            if desc.is_manifest and self.exists(desc):
                pending.extend(successors(self._read_manifest(desc.digest), desc.media_type))
        return seen

    def gc(self) -> Freed:
        """Remove every blob and manifest nothing in ``index.json`` reaches, and the temporary files
        an interrupted write left behind; say what was freed. Run it while nothing writes."""
        keep = self.reachable()
        removed: list[tuple[Digest, int]] = []
        size = 0
        for algorithm in ALGORITHM_HEX_LENGTHS:
            try:
                with self._directory(BLOBS, algorithm) as directory:
                    for name in sorted(os.listdir(directory)):
                        digest = _digest_named(algorithm, name)
                        if digest is not None and digest in keep:
                            continue
                        taken = os.stat(name, dir_fd=directory, follow_symlinks=False).st_size
                        _remove_quietly(directory, name)
                        size += taken
                        if digest is not None:
                            removed.append((digest, taken))
            except FileNotFoundError:
                continue
        return Freed(tuple(removed), size)


def layouts_under(root: str) -> Iterator[str]:
    """The relative paths of the layouts (directories with an ``oci-layout`` file) under ``root``,
    sorted; symlinked directories are not entered."""
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        if LAYOUT_FILE in files and directory != root:
            found.append(os.path.relpath(directory, root).replace(os.sep, "/"))
            subdirectories.clear()  # a layout's blobs hold no other layout
    yield from sorted(found)


# -- helpers ---------------------------------------------------------------------------------------
def _enter(parent: int, name: str, create: bool) -> int:
    """Open directory ``name`` in ``parent``, refusing a symlink."""
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o755, dir_fd=parent)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise DXFLayoutError(f"{name} in the layout is not a directory (a symlink?)") from None
        raise


def _is_file(directory: int, name: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def _read_small(directory: int, name: str, limit: int) -> bytes:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise DXFLayoutError(f"{name} is larger than {limit} bytes")
    return data


def _temporary(directory: int) -> tuple[int, str]:
    """A new temporary file in ``directory`` (exclusive create, never following a symlink)."""
    while True:
        name = TEMP_PREFIX + os.urandom(8).hex()
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            return os.open(name, flags, 0o644, dir_fd=directory), name
        except FileExistsError:
            continue


def _write_atomically(directory: int, name: str, data: bytes) -> None:
    fd, temp = _temporary(directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(temp, name, src_dir_fd=directory, dst_dir_fd=directory)
        os.fsync(directory)  # the new name survives a power cut too
    except BaseException:
        _remove_quietly(directory, temp)
        raise


def _remove_quietly(directory: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=directory)


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _empty_index() -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}


def _check_layout_version(text: bytes, root: str) -> None:
    try:
        version = json.loads(text).get("imageLayoutVersion")
    except (ValueError, AttributeError):
        version = None
    if version != LAYOUT_VERSION:
        raise DXFLayoutError(f"{root}: not an OCI image layout {LAYOUT_VERSION} (oci-layout file)")


def _ref_name(entry: dict[str, Any]) -> str | None:
    annotations = entry.get("annotations") or {}
    name = annotations.get(REF_NAME)
    return name if isinstance(name, str) else None


def _plain(entry: dict[str, Any]) -> Descriptor:
    """An ``index.json`` entry as a descriptor without its annotations (the tag is not content)."""
    return Descriptor(entry["mediaType"], Digest.parse(entry["digest"]), entry["size"])


def _not_found(message: str) -> DXFNotFoundError:
    """A registry's 404, as a layout says it (status 404, so the command exits as for a registry)."""
    error = DXFNotFoundError(message)
    error.status_code = 404
    return error


def _digest_named(algorithm: str, name: str) -> Digest | None:
    """The digest a file in ``blobs/<algorithm>`` is named for; None for anything else (temporaries)."""
    try:
        return Digest(algorithm, name)
    except DXFError:
        return None
