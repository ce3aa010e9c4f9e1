"""The trail of pages a listing has read (:class:`dxf.registry.PageTrail`): it finds a page read
before, and holds the same few bytes per page however long the server makes its ``Link`` URLs."""

from __future__ import annotations

import tracemalloc

from dxf.registry import PageTrail

PAGES = 200
LONG = 60_000  # about what one header line may carry


def _url(page: int, pad: int) -> str:
    return f"http://h/v2/r/tags/list?last=name-{page:06d}&pad={'x' * pad}"


def _retained(pad: int) -> tuple[PageTrail, int]:
    """A trail of ``PAGES`` URLs with ``pad`` bytes of padding each, and the bytes it retains."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        trail = PageTrail()
        for page in range(PAGES):
            trail.add(_url(page, pad))
        return trail, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_a_page_read_before_is_found_and_a_new_one_is_not() -> None:
    trail, _ = _retained(0)
    assert len(trail) == PAGES
    assert _url(7, 0) in trail and _url(PAGES - 1, 0) in trail
    assert _url(PAGES, 0) not in trail and _url(7, 1) not in trail
    assert 7 not in trail


def test_the_trail_holds_the_same_per_page_whatever_the_url_length() -> None:
    short_trail, short = _retained(0)
    long_trail, long = _retained(LONG)
    assert _url(3, LONG) in long_trail and _url(3, 0) not in long_trail
    assert len(short_trail) == len(long_trail) == PAGES
    assert long < PAGES * 200, long  # a URL's 60 kB would be 12 MB here
    assert abs(long - short) < 4096, (short, long)
