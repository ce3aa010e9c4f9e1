"""OCI artifacts: files stored under their names, with a type and annotations, in any :mod:`dxf.store`.

An artifact is an OCI image manifest written as image-spec v1.1 "Guidelines for Artifact Usage" asks:
an ``artifactType``, the empty config (``application/vnd.oci.empty.v1+json``, content ``{}``) unless
one is given, one layer per file with the file's base name in ``org.opencontainers.image.title``,
and annotations (``org.opencontainers.image.created`` is added unless given). A directory becomes
one tar layer (gzip-compressed by default) marked with ``io.deis.oras.content.unpack`` -- the
annotation oras clients use for the same thing -- so that a pull unpacks it again.

Pulling is the dangerous direction: titles come from whoever pushed. Every title is checked before
anything is downloaded (absolute, ``..``, leading out of the output directory through a symlink, two
layers with one title: :class:`~dxf.exceptions.DXFArtifactError`); every layer is downloaded and
verified into a staging directory inside the output directory, tar layers are unpacked there with
the standard library's ``data`` extraction filter (no member outside its directory, no device
files, no links leading out), and only when all of them succeeded are they renamed into place.

Everything here talks to a :class:`~dxf.store.Store` (or a :class:`~dxf.store.ReadOnlyStore` to
pull), so artifacts work against a registry and any other store alike.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from .digest import Digest
from .exceptions import DXFArtifactError, DXFManifestError
from .manifest import OCI_MANIFEST, OCTET_STREAM, Descriptor, ImageManifest, parse_manifest
from .parallel import blob_file_name, run_all
from .store import ReadOnlyStore, Store

#: image-spec v1.1 "Guidelines for Artifact Usage": the config of an artifact that needs none.
EMPTY_CONFIG = Descriptor("application/vnd.oci.empty.v1+json", Digest.of_bytes(b"{}"), 2)
EMPTY_CONFIG_CONTENT = b"{}"
#: The artifact type image-spec suggests when none is known.
UNKNOWN_ARTIFACT_TYPE = "application/vnd.unknown.artifact.v1"
#: Pre-defined annotation keys (image-spec "Annotations").
TITLE = "org.opencontainers.image.title"
CREATED = "org.opencontainers.image.created"
#: The annotation that marks a layer as a packed directory (the oras clients' name for it).
UNPACK = "io.deis.oras.content.unpack"
TAR = "application/vnd.oci.image.layer.v1.tar"
TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

_CHUNK = 1024 * 1024
# type "/" subtype, RFC 6838 4.2 restricted names (with an optional +suffix and parameters left out)
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")


# -- what the caller asks for ------------------------------------------------------------------------
@dataclass(frozen=True)
class FileSpec:
    """A file (or directory) to put into an artifact, with the media type its layer gets (None: the
    default, ``application/octet-stream`` for a file, a tar type for a directory)."""

    path: str
    media_type: str | None = None

    @classmethod
    def parse(cls, text: str) -> FileSpec:
        """``FILE[:MEDIATYPE]``: the part after the last ``:`` is a media type when it looks like one
        (``type/subtype``), so a file name with a colon still works."""
        path, colon, media_type = text.rpartition(":")
        if colon and path and _MEDIA_TYPE.match(media_type):
            return cls(path, media_type)
        return cls(text)


def parse_annotations(items: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` items as a dict; a missing ``=`` or an empty key is a :class:`DXFArtifactError`."""
    annotations: dict[str, str] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise DXFArtifactError(f"an annotation must be KEY=VALUE, not {item!r}")
        annotations[key] = value
    return annotations


# -- pushing ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layer:
    """A layer ready to upload: its descriptor and the local file that holds its bytes."""

    desc: Descriptor
    path: str


def _file_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def _describe_file(path: str, media_type: str, annotations: Mapping[str, str]) -> Descriptor:
    """The descriptor of a local file (hashed now; the upload checks the bytes against it again)."""
    return Descriptor(
        media_type, Digest.of_file(path), os.path.getsize(path), annotations=dict(annotations) or None
    )


def _pack_directory(directory: str, into: str, compress: bool) -> str:
    """``directory`` as a tar file in ``into`` (its members named from the directory's base name, as
    oras does); gzip without a time stamp, so the same tree packs to the same digest."""
    name = os.path.basename(os.path.normpath(directory))
    path = os.path.join(into, name + (".tar.gz" if compress else ".tar"))
    with open(path, "wb") as raw:
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if compress else None
        try:
            with tarfile.open(fileobj=gz or raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.add(directory, arcname=name, filter=_reproducible)
        finally:
            if gz is not None:
                gz.close()
    return path


def _reproducible(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Leave out who owned the files: a pull must not try to restore another machine's owners."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def prepare_layer(spec: FileSpec, workdir: str, *, compress: bool = True) -> _Layer:
    """The layer for one file or directory (a directory is packed into ``workdir`` first)."""
    title = os.path.basename(os.path.normpath(spec.path))
    if os.path.isdir(spec.path):
        packed = _pack_directory(spec.path, workdir, compress)
        media_type = spec.media_type or (TAR_GZIP if compress else TAR)
        return _Layer(_describe_file(packed, media_type, {TITLE: title, UNPACK: "true"}), packed)
    return _Layer(_describe_file(spec.path, spec.media_type or OCTET_STREAM, {TITLE: title}), spec.path)


def artifact_manifest(
    layers: Sequence[Descriptor],
    *,
    config: Descriptor = EMPTY_CONFIG,
    artifact_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
    subject: Descriptor | None = None,
    now: datetime.datetime | None = None,
) -> bytes:
    """The OCI image manifest of an artifact. ``artifactType`` is required by the guidance when the
    config is the empty one, so it then defaults to :data:`UNKNOWN_ARTIFACT_TYPE`; ``created`` is
    ``now`` (UTC, RFC 3339) unless ``annotations`` give it."""
    when = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
        "annotations": {CREATED: when, **(annotations or {})},
    }
    if artifact_type is None and config == EMPTY_CONFIG:
        artifact_type = UNKNOWN_ARTIFACT_TYPE
    if artifact_type is not None:
        manifest["artifactType"] = artifact_type
    if subject is not None:
        manifest["subject"] = Descriptor(subject.media_type, subject.digest, subject.size).to_json()
    return json.dumps(manifest, sort_keys=True).encode("utf-8")


def _push_blob(store: Store, desc: Descriptor, path: str | None, content: bytes = b"") -> None:
    if store.exists(desc):
        return
    store.push(desc, _file_chunks(path) if path is not None else [content])


def push_artifact(
    store: Store,
    reference: str | None,
    files: Sequence[FileSpec],
    *,
    artifact_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
    config: FileSpec | None = None,
    subject: Descriptor | None = None,
    jobs: int = 4,
    compress: bool = True,
) -> Descriptor:
    """Upload ``files`` (up to ``jobs`` at once) and their artifact manifest, tag it ``reference``
    (unless None) and return the manifest's descriptor. Two files with one base name are refused
    before anything is uploaded (a pull could not restore both)."""
    if not files:
        raise DXFArtifactError("an artifact needs at least one file")
    with tempfile.TemporaryDirectory(prefix="dxf-artifact-") as workdir:
        layers = [prepare_layer(spec, workdir, compress=compress) for spec in files]
        _check_unique_titles([layer.desc for layer in layers])
        config_desc, config_path = EMPTY_CONFIG, None
        if config is not None:
            config_path = config.path
            config_desc = _describe_file(config.path, config.media_type or OCTET_STREAM, {})
        run_all(layers, lambda layer: _push_blob(store, layer.desc, layer.path), jobs)
        _push_blob(store, config_desc, config_path, EMPTY_CONFIG_CONTENT)
        content = artifact_manifest(
            [layer.desc for layer in layers],
            config=config_desc,
            artifact_type=artifact_type,
            annotations=annotations,
            subject=subject,
        )
    desc = Descriptor.of_bytes(OCI_MANIFEST, content)
    store.push(desc, [content])
    if reference is not None:
        store.tag(desc, reference)
    return desc


# -- pulling ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Placement:
    """Where one layer of a pulled artifact goes: ``name`` relative to the output directory; a
    packed directory (``unpack``) is extracted there instead of written."""

    layer: Descriptor
    name: str
    unpack: bool


def output_name(layer: Descriptor) -> str:
    """The layer's title, or ``<alg>-<hex>`` for a layer without one."""
    title = (layer.annotations or {}).get(TITLE)
    return title if title is not None else blob_file_name(str(layer.digest))


def check_title(name: str, root: str) -> str:
    """``root/name`` when ``name`` is a safe place inside ``root`` (an existing directory): not empty,
    not absolute, no ``..`` component, no NUL, and not leading out of ``root`` through a symlink
    that already exists there. Anything else is a :class:`DXFArtifactError`."""
    parts = name.replace("\\", "/").split("/")
    if not name or "\0" in name or os.path.isabs(name) or name.startswith(("/", "\\")) or ".." in parts:
        raise DXFArtifactError(f"refusing unsafe file name in artifact: {name!r}")
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(real_root, name))
    if os.path.commonpath([real_root, target]) != real_root or target == real_root:
        raise DXFArtifactError(f"refusing file name that leads out of {root}: {name!r}")
    return os.path.join(root, os.path.normpath(name))


def _check_unique_titles(layers: Sequence[Descriptor]) -> None:
    seen: set[str] = set()
    for layer in layers:
        name = os.path.normpath(output_name(layer))
        if name in seen:
            raise DXFArtifactError(f"two layers of the artifact have the file name {name!r}")
        seen.add(name)


def plan_pull(manifest: ImageManifest, root: str) -> list[Placement]:
    """Where each layer goes, every name checked before anything is written."""
    _check_unique_titles(manifest.layers)
    plan = []
    for layer in manifest.layers:
        name = output_name(layer)
        check_title(name, root)
        unpack = (layer.annotations or {}).get(UNPACK) == "true"
        plan.append(Placement(layer, os.path.normpath(name), unpack))
    return plan


def read_artifact(store: ReadOnlyStore, reference: str) -> ImageManifest:
    """The image manifest ``reference`` names (an index is not an artifact)."""
    desc = store.resolve(reference)
    parsed = parse_manifest(store.fetch(desc).read_all(), desc.media_type)
    if not isinstance(parsed, ImageManifest):
        raise DXFManifestError(f"{reference} is not an artifact (an image manifest) but {desc.media_type}")
    return parsed


def _stage(store: ReadOnlyStore, placement: Placement, staging: str, index: int) -> str:
    """Download one layer (verified) into ``staging``; unpack it there when it is a packed directory.
    Returns what is to be renamed into place."""
    blob = os.path.join(staging, f"{index}.blob")
    with store.fetch(placement.layer) as content, open(blob, "wb") as out:
        for chunk in content:
            out.write(chunk)
    if not (placement.unpack or _packed_by_oras_py(placement, blob)):
        return blob
    unpacked = os.path.join(staging, f"{index}.dir")
    os.mkdir(unpacked)
    try:
        with tarfile.open(blob, "r:*") as tar:
            tar.extractall(unpacked, filter="data")
    except (tarfile.FilterError, tarfile.ReadError) as e:
        raise DXFArtifactError(f"refusing packed directory {placement.name!r}: {e}") from None
    return _unpacked_root(unpacked)


def _packed_by_oras_py(placement: Placement, blob: str) -> bool:
    """Whether an unmarked layer is a directory as oras-py packs one: oras-py writes no
    ``io.deis.oras.content.unpack`` but gives a directory the media type ``...tar+gzip`` and packs
    it under its base name (the title). A ``.tar.gz`` pushed as a file holds other names, and stays
    a file."""
    if placement.layer.media_type != TAR_GZIP or UNPACK in (placement.layer.annotations or {}):
        return False
    try:
        with tarfile.open(blob, "r:gz") as tar:
            tops = {member.name.split("/", 1)[0] for member in tar.getmembers()}
            first = tar.getmember(placement.name) if placement.name in tops else None
    except (tarfile.TarError, OSError, EOFError):
        return False
    return tops == {placement.name} and first is not None and first.isdir()


def _unpacked_root(unpacked: str) -> str:
    """The directory a packed layer holds: its one top-level entry (packed under the title, as dxf
    and oras do), else the extraction directory itself."""
    entries = os.listdir(unpacked)
    if len(entries) == 1 and os.path.isdir(os.path.join(unpacked, entries[0])):
        return os.path.join(unpacked, entries[0])
    return unpacked


def _place(staged: str, target: str, trash: str) -> None:
    """Rename ``staged`` to ``target``; an existing directory there is moved to ``trash`` first."""
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    if os.path.isdir(target) and not os.path.islink(target):
        os.rename(target, os.path.join(trash, f"old-{len(os.listdir(trash))}"))
    os.replace(staged, target)


def pull_artifact(store: ReadOnlyStore, reference: str, output_dir: str, *, jobs: int = 4) -> list[str]:
    """Restore every layer of the artifact ``reference`` into ``output_dir`` (created if missing)
    under its title; return the paths written, in layer order. All or nothing: when one layer fails
    (a refused title, a digest mismatch, a broken connection), no file of this artifact is placed."""
    manifest = read_artifact(store, reference)
    os.makedirs(output_dir, exist_ok=True)
    plan = plan_pull(manifest, output_dir)
    staging = tempfile.mkdtemp(prefix=".dxf-pull-", dir=output_dir)
    try:
        staged = run_all(list(enumerate(plan)), lambda item: _stage(store, item[1], staging, item[0]), jobs)
        targets = [check_title(p.name, output_dir) for p in plan]  # again: nothing changed meanwhile
        for source, target in zip(staged, targets, strict=True):
            _place(source, target, staging)
        return targets
    finally:
        shutil.rmtree(staging, ignore_errors=True)
