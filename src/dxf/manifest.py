"""Manifest media types, the manifest dxf writes for an alias, and reading any manifest back.

Reading covers everything a registry may hand back for a tag: Docker schema 2 manifests and
manifest lists, OCI image manifests and indexes, and legacy schema 1 (signed or not). Parsing is
strict about shape -- every digest becomes a validated :class:`~dxf.digest.Digest` -- because the
digests go on to build URLs and file names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from .digest import Digest
from .exceptions import (
    DXFDigestMismatchError,
    DXFError,
    DXFInvalidReferenceError,
    DXFManifestError,
    DXFPlatformDataNotFound,
    DXFUnsupportedSchemaType,
)

DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCTET_STREAM = "application/octet-stream"

IMAGE_MANIFEST_TYPES = frozenset({DOCKER_MANIFEST_V2, OCI_MANIFEST})
INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
SCHEMA1_TYPES = frozenset({DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED})
MANIFEST_TYPES = IMAGE_MANIFEST_TYPES | INDEX_TYPES | SCHEMA1_TYPES

#: ``Accept`` header for manifest requests: without it registries fall back to schema 1 (or 404 for
#: OCI content), so we list every type we can read.
ACCEPT_MANIFESTS = ", ".join(
    (
        OCI_MANIFEST,
        OCI_INDEX,
        DOCKER_MANIFEST_V2,
        DOCKER_MANIFEST_LIST,
        DOCKER_MANIFEST_V1_SIGNED,
        DOCKER_MANIFEST_V1,
    )
)

#: The largest manifest we read, from a registry or from standard input: a manifest is metadata, and
#: an unbounded one is a memory exhaustion attack. 4 MiB is the default cap of oras-go for manifests and
#: of Pulp for manifest payloads.
MAX_MANIFEST_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class Platform:
    """The platform an index entry is built for; :attr:`key` is the ``os/arch[/variant]`` form."""

    os: str
    architecture: str
    variant: str | None = None

    @property
    def key(self) -> str:
        """``os/architecture`` or ``os/architecture/variant``, as ``docker --platform`` spells it."""
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/architecture[/variant]``; raise :class:`DXFInvalidReferenceError` otherwise."""
        parts = text.split("/") if isinstance(text, str) else []
        if len(parts) not in (2, 3) or not all(parts):
            shown = repr(text) if len(repr(text)) <= 80 else repr(text)[:77] + "..."
            raise DXFInvalidReferenceError(f"invalid platform {shown}: expected os/architecture[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


@dataclass(frozen=True)
class Descriptor:
    """A typed, sized, content-addressed reference to a blob or manifest.

    Hashable, so a graph walk can keep the nodes it has visited in a set: the hash leaves out the
    annotations (a dict), while equality still compares them.
    """

    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    annotations: Mapping[str, str] | None = field(default=None, hash=False)
    #: The ``artifactType`` an index entry carries (image-spec v1.1, referrers lists use it).
    artifact_type: str | None = field(default=None, hash=False)

    @classmethod
    def of_bytes(cls, media_type: str, content: bytes) -> Descriptor:
        """The descriptor of ``content`` (sha256)."""
        return cls(media_type, Digest.of_bytes(content), len(content))

    @property
    def is_manifest(self) -> bool:
        """Whether this names a manifest or index (a registry keeps those apart from blobs)."""
        return self.media_type in MANIFEST_TYPES

    def to_json(self) -> dict[str, object]:
        """The descriptor as a manifest or index writes it (image-spec "Descriptor" field names)."""
        data: dict[str, object] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.artifact_type is not None:
            data["artifactType"] = self.artifact_type
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        if self.platform is not None:
            platform = {"os": self.platform.os, "architecture": self.platform.architecture}
            if self.platform.variant:
                platform["variant"] = self.platform.variant
            data["platform"] = platform
        return data


@dataclass(frozen=True)
class ImageManifest:
    """A Docker schema 2 or OCI image manifest (also used for OCI artifacts)."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] | None = None


@dataclass(frozen=True)
class ManifestIndex:
    """A Docker manifest list or OCI image index: one manifest per platform (or artifact)."""

    media_type: str
    manifests: tuple[Descriptor, ...]


@dataclass(frozen=True)
class Schema1Manifest:
    """A legacy Docker schema 1 manifest.

    ``layers`` are the ``fsLayers[].blobSum`` digests in manifest order, which is newest layer
    first; that is what python-dxf's ``get_alias`` returns. :attr:`oldest_first` gives the image
    order. ``signed`` only records that a ``signatures`` block is present: nothing is verified.
    """

    media_type: str
    name: str | None
    tag: str | None
    layers: tuple[Digest, ...]
    signed: bool

    @property
    def oldest_first(self) -> tuple[Digest, ...]:
        """The layer digests base layer first."""
        return self.layers[::-1]


ParsedManifest: TypeAlias = ImageManifest | ManifestIndex | Schema1Manifest


def make_dxf_manifest(blobs: Sequence[tuple[Digest, int]]) -> str:
    """The manifest python-dxf 12.1.1 writes to alias ``blobs``, byte for byte.

    Schema 2 requires a config blob; like python-dxf we point it at the first blob instead of
    uploading one. Identical bytes mean identical manifest digests, so aliases written by either
    library compare equal and can be read by both.
    """
    if not blobs:
        raise DXFManifestError("an alias needs at least one blob")
    layers = []
    for digest, size in blobs:
        if not isinstance(digest, Digest):
            raise DXFManifestError(f"blob digest must be a Digest, not {type(digest).__name__}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise DXFManifestError(f"blob size must be a non-negative integer, not {size!r}")
        layers.append({"mediaType": OCTET_STREAM, "size": size, "digest": str(digest)})
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST_V2,
        "config": {"mediaType": DOCKER_CONFIG, "size": layers[0]["size"], "digest": layers[0]["digest"]},
        "layers": layers,
    }
    return json.dumps(manifest, sort_keys=True)


def parse_manifest(content: bytes | str, content_type: str | None = None) -> ParsedManifest:
    """Read a manifest of any supported kind.

    The kind comes from the body's ``mediaType``; failing that from ``content_type`` (the response's
    ``Content-Type``) when it is a ``application/vnd.*`` type, since registries often send plain
    ``application/json``; failing that from the shape: ``schemaVersion`` 1 is schema 1, a
    ``manifests`` array an OCI index, ``config`` plus ``layers`` an OCI manifest.

    Raises :class:`DXFUnsupportedSchemaType` for a media type we cannot read, and
    :class:`DXFManifestError` for anything that is not a well-formed manifest of its kind.
    """
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise DXFManifestError(f"manifest is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise DXFManifestError(f"manifest must be a JSON object, not {_json_type(data)}")
    media_type = _media_type(data, content_type)
    if media_type in IMAGE_MANIFEST_TYPES:
        _check_schema_version(data, 2, media_type)
        return _image_manifest(data, media_type)
    if media_type in INDEX_TYPES:
        _check_schema_version(data, 2, media_type)
        return ManifestIndex(media_type, _descriptors(data, "manifests", "manifest"))
    if media_type in SCHEMA1_TYPES:
        _check_schema_version(data, 1, media_type)
        return _schema1_manifest(data, media_type)
    raise DXFUnsupportedSchemaType(media_type)


def successors(content: bytes | str, content_type: str | None = None) -> tuple[Descriptor, ...]:
    """The children of a manifest, in the order a copy should push them before the manifest itself.

    An image manifest: its subject (when it has one), config and layers; an index: its manifests.
    Content that appears twice is listed once, at its first place: python-dxf's manifests name
    their first blob as the config too (with another media type, but the same digest). Schema 1
    manifests carry no sizes, so they have no descriptors to give: :class:`DXFUnsupportedSchemaType`.
    """
    parsed = parse_manifest(content, content_type)
    children: tuple[Descriptor, ...]
    if isinstance(parsed, ImageManifest):
        subject = (parsed.subject,) if parsed.subject is not None else ()
        children = (*subject, parsed.config, *parsed.layers)
    elif isinstance(parsed, ManifestIndex):
        children = parsed.manifests
    else:
        raise DXFUnsupportedSchemaType(parsed.media_type)
    first: dict[Digest, Descriptor] = {}
    for child in children:
        first.setdefault(child.digest, child)
    return tuple(first.values())


def platform_map(index: ManifestIndex) -> dict[str, Descriptor]:
    """Index entries keyed by :attr:`Platform.key`.

    Entries without a ``platform`` are left out: they are usually artifacts (signatures, SBOMs)
    that no platform can run, and inventing a key for them would make them look selectable. When
    two entries share a key (buildx writes each attestation manifest as ``unknown/unknown``) the
    last one is kept, as python-dxf 12.1.1 reports it; keys keep the order of first appearance.
    """
    entries: dict[str, Descriptor] = {}
    for descriptor in index.manifests:
        if descriptor.platform is not None:
            entries[descriptor.platform.key] = descriptor
    return entries


def select_platform(index: ManifestIndex, platform: str) -> Descriptor:
    """The index entry whose :func:`platform_map` key is ``platform`` (``os/arch[/variant]``),
    exactly, as python-dxf matches it; :class:`DXFPlatformDataNotFound` when there is none."""
    entries = platform_map(index)
    if platform not in entries:
        raise DXFPlatformDataNotFound(platform)
    return entries[platform]


def verify_content_digest(content: bytes, expected: Digest) -> None:
    """Raise :class:`DXFDigestMismatchError` unless ``content`` hashes to ``expected``."""
    got = Digest.of_bytes(content, expected.algorithm)
    if got != expected:
        raise DXFDigestMismatchError(str(got), str(expected))


# --- parsing helpers ------------------------------------------------------------------------------


def _media_type(data: dict[str, object], content_type: str | None) -> str:
    if "mediaType" in data:
        return _string(data, "mediaType", "manifest")
    if content_type:
        header_type = content_type.split(";", 1)[0].strip().lower()
        if header_type.startswith("application/vnd."):
            return header_type
    if data.get("schemaVersion") == 1:
        return DOCKER_MANIFEST_V1_SIGNED if "signatures" in data else DOCKER_MANIFEST_V1
    if "manifests" in data:
        return OCI_INDEX
    if "config" in data and "layers" in data:
        return OCI_MANIFEST
    raise DXFManifestError("cannot tell the manifest's kind: no mediaType, manifests, or config and layers")


def _check_schema_version(data: dict[str, object], expected: int, media_type: str) -> None:
    version = data.get("schemaVersion")
    if version != expected or isinstance(version, bool):
        got = version if isinstance(version, int) and not isinstance(version, bool) else _json_type(version)
        raise DXFManifestError(f"{media_type} manifest must have schemaVersion {expected}, not {got}")


def _image_manifest(data: dict[str, object], media_type: str) -> ImageManifest:
    subject = data.get("subject")
    return ImageManifest(
        media_type=media_type,
        config=_descriptor(data.get("config"), "config"),
        layers=_descriptors(data, "layers", "layer"),
        subject=None if subject is None else _descriptor(subject, "subject"),
        artifact_type=_optional_string(data, "artifactType", "manifest"),
        annotations=_annotations(data, "manifest"),
    )


def _schema1_manifest(data: dict[str, object], media_type: str) -> Schema1Manifest:
    fs_layers = data.get("fsLayers")
    if not isinstance(fs_layers, list):
        raise DXFManifestError(f"schema 1 fsLayers must be an array, not {_json_type(fs_layers)}")
    layers = []
    for i, layer in enumerate(fs_layers):
        where = f"fsLayers[{i}]"
        if not isinstance(layer, dict):
            raise DXFManifestError(f"{where} must be an object, not {_json_type(layer)}")
        layers.append(_digest(_string(layer, "blobSum", where), where))
    return Schema1Manifest(
        media_type=media_type,
        name=_optional_string(data, "name", "manifest"),
        tag=_optional_string(data, "tag", "manifest"),
        layers=tuple(layers),
        signed="signatures" in data,
    )


def _descriptors(data: dict[str, object], key: str, what: str) -> tuple[Descriptor, ...]:
    items = data.get(key)
    if not isinstance(items, list):
        raise DXFManifestError(f"manifest {key} must be an array, not {_json_type(items)}")
    return tuple(_descriptor(item, f"{what} {i}") for i, item in enumerate(items))


def _descriptor(item: object, where: str) -> Descriptor:
    if not isinstance(item, dict):
        raise DXFManifestError(f"{where} must be an object, not {_json_type(item)}")
    size = item.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise DXFManifestError(f"{where} size must be a non-negative integer, not {_json_type(size)}")
    platform = item.get("platform")
    return Descriptor(
        media_type=_string(item, "mediaType", where),
        digest=_digest(_string(item, "digest", where), where),
        size=size,
        platform=None if platform is None else _platform(platform, where),
        annotations=_annotations(item, where),
        artifact_type=_optional_string(item, "artifactType", where),
    )


def _platform(item: object, where: str) -> Platform:
    where = f"{where} platform"
    if not isinstance(item, dict):
        raise DXFManifestError(f"{where} must be an object, not {_json_type(item)}")
    return Platform(
        os=_string(item, "os", where),
        architecture=_string(item, "architecture", where),
        variant=_optional_string(item, "variant", where) or None,
    )


def _digest(text: str, where: str) -> Digest:
    try:
        return Digest.parse(text)
    except DXFError as e:
        raise DXFManifestError(f"{where} has a bad digest: {e}") from None


def _annotations(item: dict[str, object], where: str) -> dict[str, str] | None:
    annotations = item.get("annotations")
    if annotations is None:
        return None
    if not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values()):
        raise DXFManifestError(f"{where} annotations must map strings to strings")
    return dict(annotations)


def _string(item: dict[str, object], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise DXFManifestError(f"{where} {key} must be a string, not {_json_type(value)}")
    return value


def _optional_string(item: dict[str, object], key: str, where: str) -> str | None:
    return None if item.get(key) is None else _string(item, key, where)


def _json_type(value: object) -> str:
    """How a value looks in JSON terms, for error messages that never echo the value itself."""
    if value is None:
        return "missing or null"
    if isinstance(value, bool):
        return "a boolean"
    names = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)
