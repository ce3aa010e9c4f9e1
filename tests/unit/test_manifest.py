"""Tests for manifest writing and parsing, on hand-written sample manifests."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxf.digest import Digest
from dxf.exceptions import (
    DXFDigestMismatchError,
    DXFInvalidReferenceError,
    DXFManifestError,
    DXFPlatformDataNotFound,
    DXFUnsupportedSchemaType,
)
from dxf.manifest import (
    ACCEPT_MANIFESTS,
    DOCKER_CONFIG,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST_V1,
    DOCKER_MANIFEST_V1_SIGNED,
    DOCKER_MANIFEST_V2,
    OCI_INDEX,
    OCI_MANIFEST,
    OCTET_STREAM,
    Descriptor,
    ImageManifest,
    ManifestIndex,
    Platform,
    Schema1Manifest,
    make_dxf_manifest,
    parse_manifest,
    platform_map,
    select_platform,
    verify_content_digest,
)

HELLO_HEX = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
WORLD_HEX = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"
HELLO = Digest("sha256", HELLO_HEX)
WORLD = Digest("sha256", WORLD_HEX)
D1 = Digest.of_bytes(b"1")
D2 = Digest.of_bytes(b"2")
D3 = Digest.of_bytes(b"3")
D4 = Digest.of_bytes(b"4")


def test_media_type_constants() -> None:
    assert DOCKER_MANIFEST_V2 == "application/vnd.docker.distribution.manifest.v2+json"
    assert DOCKER_MANIFEST_LIST == "application/vnd.docker.distribution.manifest.list.v2+json"
    assert DOCKER_MANIFEST_V1 == "application/vnd.docker.distribution.manifest.v1+json"
    assert DOCKER_MANIFEST_V1_SIGNED == "application/vnd.docker.distribution.manifest.v1+prettyjws"
    assert OCI_MANIFEST == "application/vnd.oci.image.manifest.v1+json"
    assert OCI_INDEX == "application/vnd.oci.image.index.v1+json"
    assert DOCKER_CONFIG == "application/vnd.docker.container.image.v1+json"
    assert OCTET_STREAM == "application/octet-stream"
    accepted = ACCEPT_MANIFESTS.split(", ")
    assert sorted(accepted) == sorted(
        [
            DOCKER_MANIFEST_V2,
            DOCKER_MANIFEST_LIST,
            DOCKER_MANIFEST_V1,
            DOCKER_MANIFEST_V1_SIGNED,
            OCI_MANIFEST,
            OCI_INDEX,
        ]
    )


# --- make_dxf_manifest ----------------------------------------------------------------------------


def test_make_dxf_manifest_matches_python_dxf_bytes() -> None:
    expected = (
        '{"config": {"digest": "sha256:' + HELLO_HEX + '", '
        '"mediaType": "application/vnd.docker.container.image.v1+json", "size": 5}, '
        '"layers": [{"digest": "sha256:' + HELLO_HEX + '", "mediaType": "application/octet-stream", '
        '"size": 5}, {"digest": "sha256:' + WORLD_HEX + '", "mediaType": "application/octet-stream", '
        '"size": 123456789012}], '
        '"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "schemaVersion": 2}'
    )
    assert make_dxf_manifest([(HELLO, 5), (WORLD, 123456789012)]) == expected


def test_make_dxf_manifest_single_blob() -> None:
    expected = (
        '{"config": {"digest": "sha256:' + HELLO_HEX + '", '
        '"mediaType": "application/vnd.docker.container.image.v1+json", "size": 0}, '
        '"layers": [{"digest": "sha256:' + HELLO_HEX + '", "mediaType": "application/octet-stream", '
        '"size": 0}], '
        '"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "schemaVersion": 2}'
    )
    assert make_dxf_manifest([(HELLO, 0)]) == expected


def test_make_dxf_manifest_needs_blobs() -> None:
    with pytest.raises(DXFManifestError, match="at least one blob"):
        make_dxf_manifest([])


@pytest.mark.parametrize("size", [-1, True, 1.5, "5", None])
def test_make_dxf_manifest_rejects_bad_sizes(size: Any) -> None:
    with pytest.raises(DXFManifestError, match="size"):
        make_dxf_manifest([(HELLO, size)])


def test_make_dxf_manifest_rejects_string_digest() -> None:
    with pytest.raises(DXFManifestError, match="Digest"):
        make_dxf_manifest([(str(HELLO), 5)])  # type: ignore[list-item]


@given(
    st.lists(
        st.tuples(st.binary(max_size=16).map(Digest.of_bytes), st.integers(min_value=0, max_value=2**63)),
        min_size=1,
        max_size=8,
    )
)
def test_make_dxf_manifest_round_trip(blobs: list[tuple[Digest, int]]) -> None:
    text = make_dxf_manifest(blobs)
    for content in (text, text.encode()):
        manifest = parse_manifest(content)
        assert isinstance(manifest, ImageManifest)
        assert manifest.media_type == DOCKER_MANIFEST_V2
        assert manifest.config == Descriptor(DOCKER_CONFIG, blobs[0][0], blobs[0][1])
        assert manifest.layers == tuple(Descriptor(OCTET_STREAM, d, s) for d, s in blobs)
        assert manifest.subject is None
        assert manifest.artifact_type is None
        assert manifest.annotations is None


# --- sample manifests -----------------------------------------------------------------------------


def _desc(media_type: str, digest: Digest, size: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": str(digest), "size": size, **extra}


DOCKER_V2 = {
    "schemaVersion": 2,
    "mediaType": DOCKER_MANIFEST_V2,
    "config": _desc(DOCKER_CONFIG, D1, 1469),
    "layers": [
        _desc("application/vnd.docker.image.rootfs.diff.tar.gzip", D2, 2811969),
        _desc("application/vnd.docker.image.rootfs.diff.tar.gzip", D3, 100),
    ],
}

DOCKER_LIST = {
    "schemaVersion": 2,
    "mediaType": DOCKER_MANIFEST_LIST,
    "manifests": [
        _desc(DOCKER_MANIFEST_V2, D1, 528, platform={"architecture": "amd64", "os": "linux"}),
        _desc(DOCKER_MANIFEST_V2, D2, 528, platform={"architecture": "arm", "os": "linux", "variant": "v7"}),
        _desc(
            DOCKER_MANIFEST_V2,
            D3,
            528,
            platform={"architecture": "arm64", "os": "linux", "variant": "v8", "features": ["x"]},
        ),
    ],
}

OCI_IMAGE = {
    "schemaVersion": 2,
    "mediaType": OCI_MANIFEST,
    "artifactType": "application/vnd.example+type",
    "config": _desc("application/vnd.oci.empty.v1+json", D1, 2, data="e30="),
    "layers": [_desc("application/vnd.oci.image.layer.v1.tar+gzip", D2, 32654, annotations={"a": "b"})],
    "subject": _desc(OCI_MANIFEST, D3, 7682),
    "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
}

# No mediaType field (it is optional in OCI); one entry is an artifact without a platform.
OCI_IDX_NO_MEDIA_TYPE = {
    "schemaVersion": 2,
    "manifests": [
        _desc(OCI_MANIFEST, D1, 7143, platform={"architecture": "ppc64le", "os": "linux"}),
        _desc(OCI_MANIFEST, D2, 123, annotations={"vnd.docker.reference.type": "attestation-manifest"}),
        _desc(OCI_MANIFEST, D3, 7682, platform={"architecture": "amd64", "os": "linux"}),
    ],
}

SCHEMA1 = {
    "schemaVersion": 1,
    "name": "library/hello",
    "tag": "latest",
    "architecture": "amd64",
    "fsLayers": [{"blobSum": str(D3)}, {"blobSum": str(D2)}, {"blobSum": str(D1)}],
    "history": [{"v1Compatibility": "{}"}, {"v1Compatibility": "{}"}, {"v1Compatibility": "{}"}],
}

SCHEMA1_SIGNED = {
    **SCHEMA1,
    "signatures": [
        {
            "header": {
                "jwk": {"crv": "P-256", "kid": "FAKE", "kty": "EC", "x": "AAAA", "y": "BBBB"},
                "alg": "ES256",
            },
            "signature": "not-a-real-signature",
            "protected": "eyJmb3JtYXRMZW5ndGgiOjEsImZvcm1hdFRhaWwiOiJmUSJ9",
        }
    ],
}


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=3).encode()


def test_parse_docker_v2() -> None:
    manifest = parse_manifest(_dump(DOCKER_V2), DOCKER_MANIFEST_V2)
    assert manifest == ImageManifest(
        DOCKER_MANIFEST_V2,
        Descriptor(DOCKER_CONFIG, D1, 1469),
        (
            Descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", D2, 2811969),
            Descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", D3, 100),
        ),
    )


def test_parse_docker_list_with_variant() -> None:
    index = parse_manifest(_dump(DOCKER_LIST))
    assert isinstance(index, ManifestIndex)
    assert index.media_type == DOCKER_MANIFEST_LIST
    assert [d.platform for d in index.manifests] == [
        Platform("linux", "amd64"),
        Platform("linux", "arm", "v7"),
        Platform("linux", "arm64", "v8"),
    ]
    assert list(platform_map(index)) == ["linux/amd64", "linux/arm/v7", "linux/arm64/v8"]
    assert select_platform(index, "linux/arm/v7").digest == D2
    assert select_platform(index, "linux/amd64").digest == D1
    with pytest.raises(DXFPlatformDataNotFound):  # keys match exactly, as in python-dxf
        select_platform(index, "linux/arm64")
    with pytest.raises(DXFPlatformDataNotFound) as info:
        select_platform(index, "linux/arm/v6")
    assert info.value.platform == "linux/arm/v6"
    with pytest.raises(DXFPlatformDataNotFound):
        select_platform(index, "windows/amd64")
    with pytest.raises(DXFPlatformDataNotFound):
        select_platform(index, "linux")


def test_parse_oci_manifest() -> None:
    manifest = parse_manifest(_dump(OCI_IMAGE))
    assert manifest == ImageManifest(
        OCI_MANIFEST,
        Descriptor("application/vnd.oci.empty.v1+json", D1, 2),
        (Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", D2, 32654, annotations={"a": "b"}),),
        subject=Descriptor(OCI_MANIFEST, D3, 7682),
        artifact_type="application/vnd.example+type",
        annotations={"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    )


def test_parse_oci_index_without_media_type_and_platforms() -> None:
    index = parse_manifest(_dump(OCI_IDX_NO_MEDIA_TYPE), "application/json; charset=utf-8")
    assert isinstance(index, ManifestIndex)
    assert index.media_type == OCI_INDEX
    assert len(index.manifests) == 3
    assert index.manifests[1].platform is None
    assert index.manifests[1].annotations == {"vnd.docker.reference.type": "attestation-manifest"}
    assert platform_map(index) == {"linux/ppc64le": index.manifests[0], "linux/amd64": index.manifests[2]}
    assert select_platform(index, "linux/amd64").digest == D3


def test_platform_map_keeps_last_duplicate_as_python_dxf() -> None:
    """buildx writes one ``unknown/unknown`` attestation entry per image; python-dxf reports the last."""
    amd64, unknown = {"architecture": "amd64", "os": "linux"}, {"architecture": "unknown", "os": "unknown"}
    data = {
        "schemaVersion": 2,
        "manifests": [
            _desc(OCI_MANIFEST, D1, 1, platform=amd64),
            _desc(OCI_MANIFEST, D2, 1, platform=unknown),
            _desc(OCI_MANIFEST, D3, 1, platform=amd64),
            _desc(OCI_MANIFEST, D4, 1, platform=unknown),
            _desc(OCI_MANIFEST, D1, 1),  # no platform: left out
        ],
    }
    index = parse_manifest(json.dumps(data))
    assert isinstance(index, ManifestIndex)
    assert {k: d.digest for k, d in platform_map(index).items()} == {"linux/amd64": D3, "unknown/unknown": D4}
    assert list(platform_map(index)) == ["linux/amd64", "unknown/unknown"]
    assert select_platform(index, "linux/amd64").digest == D3


_PLATFORMS = st.sampled_from([("linux", "amd64"), ("linux", "arm64"), ("unknown", "unknown")])


@given(st.lists(st.tuples(st.sampled_from([D1, D2, D3, D4]), st.none() | _PLATFORMS), max_size=8))
def test_platform_map_is_the_last_entry_per_key(entries: list[tuple[Digest, tuple[str, str] | None]]) -> None:
    manifests = [
        _desc(
            OCI_MANIFEST, digest, 1, **({} if p is None else {"platform": {"os": p[0], "architecture": p[1]}})
        )
        for digest, p in entries
    ]
    index = parse_manifest(json.dumps({"schemaVersion": 2, "manifests": manifests}))
    assert isinstance(index, ManifestIndex)
    expected: dict[str, Digest] = {}
    for digest, p in entries:
        if p is not None:
            expected[f"{p[0]}/{p[1]}"] = digest
    assert {k: d.digest for k, d in platform_map(index).items()} == expected


def test_empty_variant_is_no_variant() -> None:
    platform = {"architecture": "amd64", "os": "linux", "variant": ""}
    data = {"schemaVersion": 2, "manifests": [_desc(OCI_MANIFEST, D1, 1, platform=platform)]}
    index = parse_manifest(json.dumps(data))
    assert isinstance(index, ManifestIndex)
    assert list(platform_map(index)) == ["linux/amd64"]


def test_parse_oci_manifest_without_media_type() -> None:
    data = {k: v for k, v in OCI_IMAGE.items() if k != "mediaType"}
    manifest = parse_manifest(json.dumps(data))
    assert isinstance(manifest, ImageManifest)
    assert manifest.media_type == OCI_MANIFEST


def test_content_type_used_when_body_has_no_media_type() -> None:
    data = {k: v for k, v in DOCKER_V2.items() if k != "mediaType"}
    manifest = parse_manifest(json.dumps(data), DOCKER_MANIFEST_V2 + "; charset=utf-8")
    assert manifest.media_type == DOCKER_MANIFEST_V2
    # generic types are ignored in favour of the shape
    for generic in ("application/json", "text/plain", OCTET_STREAM, "", None):
        assert parse_manifest(json.dumps(data), generic).media_type == OCI_MANIFEST


def test_body_media_type_beats_content_type() -> None:
    assert parse_manifest(_dump(DOCKER_V2), OCI_MANIFEST).media_type == DOCKER_MANIFEST_V2


def test_parse_schema1_unsigned() -> None:
    manifest = parse_manifest(_dump(SCHEMA1), "application/json")
    assert manifest == Schema1Manifest(DOCKER_MANIFEST_V1, "library/hello", "latest", (D3, D2, D1), False)
    assert isinstance(manifest, Schema1Manifest)
    assert manifest.oldest_first == (D1, D2, D3)


def test_parse_schema1_signed() -> None:
    manifest = parse_manifest(_dump(SCHEMA1_SIGNED), DOCKER_MANIFEST_V1_SIGNED)
    assert manifest == Schema1Manifest(
        DOCKER_MANIFEST_V1_SIGNED, "library/hello", "latest", (D3, D2, D1), True
    )
    inferred = parse_manifest(_dump(SCHEMA1_SIGNED))
    assert isinstance(inferred, Schema1Manifest)
    assert (inferred.media_type, inferred.signed) == (DOCKER_MANIFEST_V1_SIGNED, True)


def test_parse_schema1_without_name_and_tag() -> None:
    manifest = parse_manifest(json.dumps({"schemaVersion": 1, "fsLayers": []}))
    assert manifest == Schema1Manifest(DOCKER_MANIFEST_V1, None, None, (), False)


@pytest.mark.parametrize(
    "media_type",
    ["application/vnd.docker.plugin.v1+json", "application/vnd.example.unknown"],
)
def test_unsupported_media_type(media_type: str) -> None:
    with pytest.raises(DXFUnsupportedSchemaType) as info:
        parse_manifest(json.dumps({**DOCKER_V2, "mediaType": media_type}))
    assert info.value.args == (media_type,)


def test_unsupported_content_type() -> None:
    with pytest.raises(DXFUnsupportedSchemaType):
        parse_manifest(json.dumps({"schemaVersion": 2}), "application/vnd.example.thing+json")


def _with(base: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(base))
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not valid JSON"),
        (b"not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b"[]", "JSON object"),
        (b'"manifest"', "JSON object"),
        (b"{}", "cannot tell"),
        (b'{"schemaVersion": 2, "layers": []}', "cannot tell"),
        (json.dumps({**DOCKER_V2, "mediaType": 5}).encode(), "mediaType must be a string"),
        (json.dumps(_with(DOCKER_V2, ("schemaVersion",), 1)).encode(), "schemaVersion 2"),
        (json.dumps(_with(DOCKER_V2, ("schemaVersion",), True)).encode(), "schemaVersion 2"),
        (json.dumps(_with(DOCKER_V2, ("schemaVersion",), _DELETE)).encode(), "schemaVersion 2"),
        (json.dumps(_with(DOCKER_V2, ("config",), _DELETE)).encode(), "config must be an object"),
        (json.dumps(_with(DOCKER_V2, ("layers",), {})).encode(), "layers must be an array"),
        (
            json.dumps(_with(DOCKER_V2, ("layers", 1, "digest"), "sha256:xyz")).encode(),
            "layer 1 has a bad digest",
        ),
        (json.dumps(_with(DOCKER_V2, ("layers", 0, "digest"), "md5:abc")).encode(), "bad digest"),
        (json.dumps(_with(DOCKER_V2, ("layers", 0, "digest"), _DELETE)).encode(), "digest must be a string"),
        (json.dumps(_with(DOCKER_V2, ("layers", 0, "size"), -1)).encode(), "size must be"),
        (json.dumps(_with(DOCKER_V2, ("layers", 0, "size"), "1")).encode(), "size must be"),
        (json.dumps(_with(DOCKER_V2, ("layers", 0, "size"), 1.0)).encode(), "size must be"),
        (json.dumps(_with(DOCKER_V2, ("layers", 0, "mediaType"), None)).encode(), "mediaType must be"),
        (json.dumps(_with(DOCKER_V2, ("layers", 0), "x")).encode(), "layer 0 must be an object"),
        (json.dumps(_with(DOCKER_V2, ("annotations",), {"a": 1})).encode(), "annotations"),
        (json.dumps(_with(DOCKER_V2, ("annotations",), [])).encode(), "annotations"),
        (json.dumps(_with(OCI_IMAGE, ("subject",), [])).encode(), "subject must be an object"),
        (json.dumps(_with(OCI_IMAGE, ("artifactType",), 3)).encode(), "artifactType must be a string"),
        (json.dumps(_with(DOCKER_LIST, ("manifests",), None)).encode(), "manifests must be an array"),
        (json.dumps(_with(DOCKER_LIST, ("manifests", 0, "platform"), "linux")).encode(), "platform must be"),
        (json.dumps(_with(DOCKER_LIST, ("manifests", 0, "platform", "os"), _DELETE)).encode(), "os must be"),
        (
            json.dumps(_with(DOCKER_LIST, ("manifests", 1, "platform", "variant"), 7)).encode(),
            "variant must be",
        ),
        (json.dumps(_with(SCHEMA1, ("fsLayers",), _DELETE)).encode(), "fsLayers must be an array"),
        (json.dumps(_with(SCHEMA1, ("fsLayers", 0), [])).encode(), r"fsLayers\[0\] must be an object"),
        (json.dumps(_with(SCHEMA1, ("fsLayers", 2, "blobSum"), "sha256:1")).encode(), "bad digest"),
        (json.dumps(_with(SCHEMA1, ("name",), 1)).encode(), "name must be a string"),
    ],
)
def test_malformed_manifests(content: bytes, message: str) -> None:
    with pytest.raises(DXFManifestError, match=message):
        parse_manifest(content)


def test_malformed_manifest_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        parse_manifest("{")


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_parse_manifest_raises_only_dxf_errors(content: bytes) -> None:
    with contextlib.suppress(DXFManifestError, DXFUnsupportedSchemaType):
        parse_manifest(content)


_KEYS = [
    "schemaVersion",
    "mediaType",
    "config",
    "layers",
    "manifests",
    "digest",
    "size",
    "platform",
    "os",
    "architecture",
    "variant",
    "annotations",
    "subject",
    "artifactType",
    "fsLayers",
    "blobSum",
    "signatures",
    "name",
    "tag",
]
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-2, max_value=3)
    | st.floats(allow_nan=False)
    | st.sampled_from([str(D1), "sha256:x", DOCKER_MANIFEST_V2, OCI_INDEX, DOCKER_MANIFEST_V1, "linux", ""])
)
json_values = st.recursive(
    _LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), children, max_size=6)
    ),
    max_leaves=25,
)


@given(st.dictionaries(st.sampled_from(_KEYS), json_values, max_size=8), st.sampled_from([None, OCI_INDEX]))
def test_parse_manifest_on_manifest_like_json_raises_only_dxf_errors(
    data: dict[str, Any], content_type: str | None
) -> None:
    with contextlib.suppress(DXFManifestError, DXFUnsupportedSchemaType):
        parse_manifest(json.dumps(data), content_type)


# --- platforms and digests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
        ("windows/amd64", Platform("windows", "amd64")),
    ],
)
def test_platform_parse_and_key(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected
    assert expected.key == text


@pytest.mark.parametrize("text", ["", "linux", "linux/", "/amd64", "a/b/c/d", "linux//v8"])
def test_platform_parse_rejects(text: str) -> None:
    with pytest.raises(DXFInvalidReferenceError, match="os/architecture"):
        Platform.parse(text)


def test_verify_content_digest() -> None:
    verify_content_digest(b"hello", HELLO)
    verify_content_digest(b"x", Digest.of_bytes(b"x", "sha512"))
    with pytest.raises(DXFDigestMismatchError) as info:
        verify_content_digest(b"world", HELLO)
    assert (info.value.got, info.value.expected) == (str(WORLD), str(HELLO))
