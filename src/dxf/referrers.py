"""Referrers: the manifests whose ``subject`` names another manifest, and the fallback index that lists
them on registries without the referrers API.

Distribution spec v1.1, "Listing Referrers" and "Referrers Tag Schema": a registry that processed a
manifest's ``subject`` says so with an ``OCI-Subject`` header on the PUT and lists referrers at
``GET /v2/<name>/referrers/<digest>``. Elsewhere the client keeps an image index tagged
``<alg>-<hex>`` (the subject's digest, ``:`` replaced by ``-``) whose entries are the referrers. This
module holds the pure parts of that: the tag name, the entry a referrer gets, and index edits. The
requests are :class:`dxf.remote.RemoteRepository`'s.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from .digest import Digest
from .manifest import OCI_INDEX, Descriptor, ImageManifest, ManifestIndex, parse_manifest


def fallback_tag(subject: Digest) -> str:
    """The referrers tag schema's tag for ``subject``: ``<alg>-<hex>``."""
    return f"{subject.algorithm}-{subject.hex}"


def referrer_entry(desc: Descriptor, manifest: ImageManifest) -> Descriptor:
    """The index entry for the referrer ``manifest`` (stored as ``desc``): its ``artifactType`` (the
    config's media type when it has none) and its annotations, as the spec asks."""
    return Descriptor(
        desc.media_type,
        desc.digest,
        desc.size,
        annotations=manifest.annotations or None,
        artifact_type=manifest.artifact_type or manifest.config.media_type,
    )


def index_entries(content: bytes | None) -> list[Descriptor]:
    """The entries of a fallback index (none when there is no index yet)."""
    if content is None:
        return []
    parsed = parse_manifest(content, OCI_INDEX)
    return list(parsed.manifests) if isinstance(parsed, ManifestIndex) else []


def with_entry(entries: Iterable[Descriptor], entry: Descriptor) -> list[Descriptor]:
    """``entries`` with ``entry`` in it (replacing one of the same digest), order kept."""
    kept = [e for e in entries if e.digest != entry.digest]
    return [*kept, entry]


def without_digest(entries: Iterable[Descriptor], digest: Digest) -> list[Descriptor]:
    return [e for e in entries if e.digest != digest]


def index_bytes(entries: Iterable[Descriptor]) -> bytes:
    """An OCI image index listing ``entries``."""
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [entry.to_json() for entry in entries],
    }
    return json.dumps(index, sort_keys=True).encode("utf-8")


def of_type(entries: Iterable[Descriptor], artifact_type: str | None) -> list[Descriptor]:
    """The entries of ``artifact_type`` (all of them when it is None)."""
    return [e for e in entries if artifact_type is None or e.artifact_type == artifact_type]
