"""The mark beside a resumable part file: read back, applied, never trusted over the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dxf import partmark


@pytest.fixture
def part(tmp_path: Path) -> Path:
    path = tmp_path / ".blob.sha256-0123456789abcdef.dxf-part"
    path.write_bytes(b"x" * 100)
    return path


def _trim(part: Path) -> int:
    fd = os.open(part, os.O_RDWR)
    try:
        return partmark.trim(str(part), fd)
    finally:
        os.close(fd)


def test_the_mark_has_a_name_as_long_as_the_part_file(part: Path) -> None:
    mark = partmark.mark_path(str(part))
    assert len(mark) == len(str(part)) and mark.endswith(partmark.MARK_SUFFIX)


def test_a_recorded_prefix_cuts_the_part_file_back_and_the_mark_goes(part: Path) -> None:
    mark = partmark.Mark(str(part))
    mark.record(1234)
    mark.record(40)  # rewritten in place: the latest number counts, whatever its width
    assert partmark.read(str(part)) == 40
    assert _trim(part) == 40 and part.stat().st_size == 40
    assert not os.path.exists(partmark.mark_path(str(part)))


@pytest.mark.parametrize("text", [b"", b"12", b"0000000000000000000x\n", b"-0000000000000000001\n"])
def test_a_mark_that_does_not_parse_is_ignored(part: Path, text: bytes) -> None:
    Path(partmark.mark_path(str(part))).write_bytes(text)
    assert partmark.read(str(part)) is None
    assert _trim(part) == 100
    assert not os.path.exists(partmark.mark_path(str(part)))


def test_a_mark_claiming_more_than_the_file_holds_is_ignored(part: Path) -> None:
    partmark.Mark(str(part)).record(1000)
    assert _trim(part) == 100 and part.stat().st_size == 100


def test_discard_removes_the_mark(part: Path) -> None:
    mark = partmark.Mark(str(part))
    mark.record(10)
    mark.discard()
    mark.record(20)  # after discard: nothing is written or created
    assert partmark.read(str(part)) is None
