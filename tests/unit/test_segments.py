"""How a blob is cut into segments for several connections (pure arithmetic)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from dxf.segments import (
    MAX_SEGMENT,
    MIN_SEGMENT,
    MIN_SEGMENTED_BYTES,
    Segment,
    plan,
    unreported,
    worth_segmenting,
)

GiB = 1024**3


@given(
    start=st.integers(min_value=0, max_value=4 * GiB),
    length=st.integers(min_value=1, max_value=64 * GiB),
    connections=st.integers(min_value=1, max_value=64),
)
def test_segments_cover_the_rest_of_the_blob_in_order_without_overlap(
    start: int, length: int, connections: int
) -> None:
    size = start + length
    segments = plan(start, size, connections)
    assert segments[0].start == start and segments[-1].end == size
    assert all(a.end == b.start for a, b in itertools.pairwise(segments))
    assert all(s.received == 0 and s.end > s.start for s in segments)
    assert all(MIN_SEGMENT <= s.end - s.start <= MAX_SEGMENT for s in segments[:-1])


def test_every_connection_gets_several_segments_of_a_large_blob() -> None:
    assert len(plan(0, 256 * 1024 * 1024, 4)) == 16


def test_small_remainders_and_one_connection_are_not_segmented() -> None:
    assert not worth_segmenting(MIN_SEGMENTED_BYTES - 1, 4)
    assert not worth_segmenting(10 * MIN_SEGMENTED_BYTES, 1)
    assert worth_segmenting(MIN_SEGMENTED_BYTES, 2)


@given(
    received=st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=6),
    position=st.integers(min_value=0, max_value=60),
    length=st.integers(min_value=0, max_value=30),
)
def test_unreported_keeps_exactly_the_bytes_no_segment_received(
    received: list[int], position: int, length: int
) -> None:
    """Segments of 10 bytes each (``received`` of each so far), against a byte-by-byte mask."""
    segments = [Segment(10 * i, 10 * i + 10, r) for i, r in enumerate(received)]
    blob = bytes(range(256))[:80]
    chunk = blob[position : position + length]
    covered = {b for s in segments for b in range(s.start, s.position)}
    expected = bytes(blob[i] for i in range(position, position + len(chunk)) if i not in covered)
    assert unreported(segments, position, chunk) == expected
