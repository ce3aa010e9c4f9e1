"""Coverage-guided fuzzing (atheris) of the parsers that read what a registry or a user hands us.

``python tests/fuzz/fuzz_parsers.py TARGET [libFuzzer options]``, e.g. ``-max_total_time=60``; ``make fuzz``
runs every target for ``FUZZ_SECONDS`` each. A target fails (libFuzzer saves the input as ``crash-*``)
when a parser raises anything but its documented error, or when what it parsed does not round-trip.
Not part of ``make test``: the properties in tests/unit are the fast, deterministic version of this.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from dxf.challenge import parse_challenges
    from dxf.credentials import auths_entry, entry_credentials, helper_name, load_config
    from dxf.digest import Digest
    from dxf.exceptions import (
        DXFCredentialError,
        DXFInvalidReferenceError,
        DXFManifestError,
        DXFSecurityError,
        DXFUnexpectedDigestMethodError,
        DXFUnsupportedSchemaType,
    )
    from dxf.manifest import parse_manifest
    from dxf.reference import Reference
    from dxf.registry import Registry
    from dxf.transport import retry_after_seconds

_CONFIG_DIR = Path(tempfile.mkdtemp(prefix="dxf-fuzz-"))


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def fuzz_challenge(data: bytes) -> None:
    for challenge in parse_challenges(_text(data)):
        assert challenge.scheme == challenge.scheme.lower()
        assert not (challenge.params and challenge.token68)


def fuzz_manifest(data: bytes) -> None:
    for content_type in (None, "application/vnd.oci.image.index.v1+json"):
        with contextlib.suppress(DXFManifestError, DXFUnsupportedSchemaType):
            parse_manifest(data, content_type)


def fuzz_reference(data: bytes) -> None:
    try:
        reference = Reference.parse(_text(data))
    except (DXFInvalidReferenceError, DXFUnexpectedDigestMethodError):
        return
    assert Reference.parse(str(reference)) == reference


def fuzz_digest(data: bytes) -> None:
    try:
        digest = Digest.parse(_text(data))
    except (DXFInvalidReferenceError, DXFUnexpectedDigestMethodError):
        return
    assert Digest.parse(str(digest)) == digest


def fuzz_link(data: bytes) -> None:
    current = "https://registry.example/v2/_catalog?n=100"
    with contextlib.suppress(DXFSecurityError):
        target = Registry.next_link(current, _text(data))
        assert target is None or target.startswith("https://registry.example/")


def fuzz_retry_after(data: bytes) -> None:
    delay = retry_after_seconds(_text(data), now=0.0)
    assert delay is None or delay >= 0


def fuzz_config(data: bytes) -> None:
    path = _CONFIG_DIR / "config.json"
    path.write_bytes(data)
    try:
        config = load_config(path)
    except DXFCredentialError:
        return
    helper_name(config, "localhost:5000")
    entry = auths_entry(config, "localhost:5000")
    if entry is not None:
        with contextlib.suppress(DXFCredentialError):
            entry_credentials(entry)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "challenge": fuzz_challenge,
    "manifest": fuzz_manifest,
    "reference": fuzz_reference,
    "digest": fuzz_digest,
    "link": fuzz_link,
    "retry-after": fuzz_retry_after,
    "config": fuzz_config,
}


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: {argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options]")
    atheris.Setup([argv[0], *argv[2:]], TARGETS[argv[1]])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
