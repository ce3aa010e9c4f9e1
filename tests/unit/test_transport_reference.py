"""skopeo-style transport references (``docker://...``, ``oci:...``) for ``dxf copy``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dxf.digest import Digest
from dxf.exceptions import DXFError, DXFInvalidReferenceError
from dxf.reference import TransportReference

DIGEST = "sha256:" + "ab" * 32

tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True)
paths = st.from_regex(r"/?[A-Za-z0-9._@/-]{1,30}", fullmatch=True).filter(lambda p: "@sha" not in p)


def test_docker_reference_by_alias_and_by_digest() -> None:
    ref = TransportReference.parse("docker://localhost:5000/fred/datalogger:v1")
    assert ref.registry is not None
    assert (ref.registry.host, ref.registry.path, ref.tag, ref.digest) == (
        "localhost:5000",
        "fred/datalogger",
        "v1",
        None,
    )
    ref = TransportReference.parse(f"docker://localhost:5000/fred/datalogger@{DIGEST}")
    assert (ref.tag, ref.digest, ref.reference) == (None, Digest.parse(DIGEST), DIGEST)


def test_oci_reference_by_alias_and_by_digest() -> None:
    ref = TransportReference.parse("oci:/srv/store/layout:v1")
    assert (ref.layout, ref.tag, ref.registry) == ("/srv/store/layout", "v1", None)
    ref = TransportReference.parse(f"oci:relative/dir@{DIGEST}")
    assert (ref.layout, ref.digest) == ("relative/dir", Digest.parse(DIGEST))


@pytest.mark.parametrize(
    "text",
    [
        "localhost:5000/fred/datalogger:v1",  # no transport
        "docker://localhost:5000/fred/datalogger",  # neither alias nor digest
        f"docker://localhost:5000/fred/datalogger:v1@{DIGEST}",  # both
        "docker://localhost:5000/Fred:v1",
        "oci:/srv/store",  # no alias
        "oci::v1",  # no path
        "oci:/srv/store:../x",
        "oci:/srv/store@sha256:short",
        "dir:/tmp/x",
    ],
)
def test_malformed_references_are_refused(text: str) -> None:
    with pytest.raises(DXFInvalidReferenceError):
        TransportReference.parse(text)


@given(paths, tags)
def test_oci_alias_round_trips(path: str, tag: str) -> None:
    ref = TransportReference.parse(f"oci:{path}:{tag}")
    assert (ref.layout, ref.tag) == (path, tag)
    assert TransportReference.parse(str(ref)) == ref


def test_an_at_sign_in_a_layout_path_is_not_a_digest() -> None:
    """Found by Hypothesis: ``oci:0@0:0`` was read as the digest ``0:0`` of the layout ``0``."""
    ref = TransportReference.parse("oci:0@0:0")
    assert (ref.layout, ref.tag, ref.digest) == ("0@0", "0", None)


@given(paths, st.binary(max_size=64))
def test_oci_digest_round_trips(path: str, content: bytes) -> None:
    digest = Digest.of_bytes(content)
    ref = TransportReference.parse(f"oci:{path}@{digest}")
    assert (ref.layout, ref.digest, ref.tag) == (path, digest, None)
    assert TransportReference.parse(str(ref)) == ref


@given(st.text(max_size=60))
def test_anything_either_parses_or_fails_with_a_dxf_error(text: str) -> None:
    try:
        ref = TransportReference.parse(text)
    except DXFError:
        return
    assert (ref.tag is None) != (ref.digest is None)
    assert (ref.registry is None) != (ref.layout is None)
