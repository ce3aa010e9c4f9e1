"""10,000 tags in one repository and 1,000 repositories: listed completely, in order, as they come.

Two servers, because neither alone pages everything:

* a real distribution registry (plain HTTP, ``catalog.maxentries`` 100) given its tags and
  repositories by writing its storage link files (:mod:`harness.crowd`): its catalog really pages
  (``Link`` headers, 10 pages for 1,000 names); its tags/list ignores ``n`` and answers all 10,000
  tags at once, in its own (directory) order, which the output must keep;
* a loopback pager (:mod:`harness.pager`) that pages tags and the catalog with ``Link`` headers
  as other registries do, for 10,000 names in pages of 100 and for a ``batch_size`` (``n``).

The command prints each page as it arrives (a reader sees the first names before the registry has
sent the last page) and its memory does not grow with the number of names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from test_cli import DXF_SCRIPT, child_env, ok

import dxf
from harness.crowd import write_repositories, write_tags
from harness.figures import Record
from harness.hooks import Exchanges
from harness.pager import Pager, name_at
from harness.registry import RegistryProcess, harness_env, start_registry

pytestmark = pytest.mark.usefixtures("clean_dxf_environment")

TAGS = 10_000
REPOS = 1_000
CATALOG_PAGE = 100
TAGGED = "crowd/r0000"
PEAK_SCRIPT = Path(__file__).resolve().parent.parent / "harness" / "peak.py"


@dataclass(frozen=True)
class Crowd:
    registry: RegistryProcess
    tags: list[str]
    repos: list[str]


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crowd]:
    """A registry of its own (so the catalog holds exactly what we put there): ``TAGGED`` with
    10,000 tags on one manifest, and 999 more repositories holding its blob."""
    registry = start_registry("plain", tmp_path_factory.mktemp("crowd"), catalog_maxentries=CATALOG_PAGE)
    try:
        tags = [f"v{index:05d}" for index in range(TAGS)]
        repos = [f"crowd/r{index:04d}" for index in range(REPOS)]
        with dxf.DXF(registry.host, TAGGED, insecure=True) as client:
            blob = client.push_blob(data=b"crowd", digest=dxf.hash_bytes(b"crowd"))
            manifest = client.set_alias(tags[0], blob)
        write_tags(registry, TAGGED, tags[1:], dxf.hash_bytes(manifest.encode()))
        write_repositories(registry, repos[1:], blob)
        yield Crowd(registry, tags, repos)
    finally:
        registry.close()


def _registry_tags(registry: RegistryProcess) -> list[str]:
    """The tags as the registry itself answers ``GET tags/list`` (one page: it ignores ``n``)."""
    answer = requests.get(f"{registry.url}/v2/{TAGGED}/tags/list", timeout=60)
    assert answer.status_code == 200 and "Link" not in answer.headers
    tags: list[str] = answer.json()["tags"]
    return tags


def test_list_aliases_prints_10000_tags_of_a_real_registry_in_its_order(
    crowd: Crowd, record_property: Record
) -> None:
    expected = _registry_tags(crowd.registry)
    assert sorted(expected) == crowd.tags  # the registry lists every tag written into its storage
    listed = ok(["list-aliases", TAGGED], harness_env(crowd.registry)).lines
    assert listed == expected
    assert len(set(listed)) == TAGS
    with dxf.DXF(crowd.registry.host, TAGGED, insecure=True) as client:
        assert list(client.list_aliases(iterate=True)) == expected
        assert client.get_alias(crowd.tags[-1]) == client.get_alias(crowd.tags[0])  # real tags
    record_property("tags_listed", f"{len(listed)}/{TAGS}")


def test_list_repos_pages_through_1000_repositories_of_a_real_registry(
    crowd: Crowd, exchanges: Exchanges, record_property: Record
) -> None:
    listed = ok(["list-repos"], harness_env(crowd.registry)).lines
    assert listed == crowd.repos  # distribution's catalog order is sorted; nothing twice or missing
    catalog_pages = [e for e in exchanges.to(crowd.registry.host) if "/_catalog" in e.url]
    assert len(catalog_pages) >= REPOS // CATALOG_PAGE  # it really paged (last=..., Link)
    assert all(e.status == 200 for e in catalog_pages)
    with dxf.DXFBase(crowd.registry.host, insecure=True) as base:
        assert list(base.list_repos(iterate=True)) == crowd.repos
        pages = list(base.repo_pages(batch_size=30))
    assert [len(page) for page in pages[:-1]] == [30] * (REPOS // 30)
    assert [name for page in pages for name in page] == crowd.repos
    with dxf.DXF(crowd.registry.host, crowd.repos[-1], insecure=True) as client:
        assert client.blob_size(dxf.hash_bytes(b"crowd")) == 5  # a real repository holding the blob
    record_property("repos_listed", f"{len(listed)}/{REPOS}")
    record_property("catalog_pages", len(catalog_pages))


# -- a registry that pages its tags -------------------------------------------------------------------
@pytest.mark.parametrize("command", ["list-aliases", "list-repos"])
def test_the_command_follows_100_link_pages_of_100_names(
    command: str, exchanges: Exchanges, record_property: Record
) -> None:
    argv = [command, "team/data"] if command == "list-aliases" else [command]
    with Pager(TAGS, 100) as pager:
        listed = ok(argv, {"DXF_HOST": pager.host, "DXF_INSECURE": "1"}).lines
        requested = list(pager.requests)
    assert listed == [name_at(index) for index in range(TAGS)]
    assert len(requested) == len(set(requested)) == TAGS // 100  # each page once, all of them
    assert [e.method for e in exchanges.to(pager.host)] == ["GET"] * (TAGS // 100)  # nothing else
    record_property("names_listed", f"{len(listed)}/{TAGS}")
    record_property("pages", pager.pages_served)


@pytest.mark.parametrize("batch_size", [250, 9_999, 10_000])
def test_batch_size_is_sent_as_n_and_every_page_is_followed(batch_size: int) -> None:
    with Pager(TAGS, 100) as pager, dxf.DXF(pager.host, "team/data", insecure=True) as client:
        pages = list(client.alias_pages(batch_size=batch_size))
        names = list(client.list_aliases(batch_size=batch_size, iterate=True))
        repos = dxf.DXFBase(pager.host, insecure=True).list_repos(batch_size=batch_size)
        requested = list(pager.requests)
    expected = [name_at(index) for index in range(TAGS)]
    assert [name for page in pages for name in page] == names == repos == expected
    assert all(len(page) == batch_size for page in pages[:-1])
    assert len(pages) == -(-TAGS // batch_size)
    assert all(f"n={batch_size}" in path for path in requested)


# -- streaming ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["list-aliases", "list-repos"])
def test_the_first_page_is_printed_before_the_next_one_is_served(command: str) -> None:
    """The pager holds its second page until the test has read the first name from the command's
    standard output (a pipe, which Python buffers 8 KiB at a time: a command that only wrote
    would show nothing before the end, since 100 names are about 1.2 KiB; the pager gives up
    waiting after 10 s and the test fails)."""
    release = threading.Event()
    argv = [command, "team/data"] if command == "list-aliases" else [command]
    with Pager(300, 100, hold_after=1, release=release, hold_timeout=10.0) as pager:
        env = {**child_env(None), "DXF_HOST": pager.host, "DXF_INSECURE": "1"}
        env.pop("PYTHONUNBUFFERED", None)  # as a user runs it: standard output is block-buffered
        with subprocess.Popen(
            [str(DXF_SCRIPT), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
        ) as child:
            assert child.stdout is not None and child.stderr is not None
            first = child.stdout.readline()
            pages_when_first_seen = pager.pages_served
            release.set()
            rest = child.stdout.read()
            err = child.stderr.read()
            code = child.wait(timeout=60)
    assert code == 0, err
    assert first == f"{name_at(0)}\n"
    assert pages_when_first_seen <= 2  # the second page (held) had not been answered
    assert pager.released_in_time is True
    assert [first.strip(), *rest.splitlines()] == [name_at(index) for index in range(300)]


# -- memory ------------------------------------------------------------------------------------------
def _listing_peak(host: str, command: str, tmp_path: Path) -> tuple[int, int, int]:
    """(lines printed, traced peak bytes, peak RSS KiB) of the command in a child process."""
    peak_file = tmp_path / f"peak-{command}-{os.getpid()}.json"
    env = {**child_env(None), "DXF_HOST": host, "DXF_INSECURE": "1", "DXF_TEST_PEAK_FILE": str(peak_file)}
    argv = [command, "team/data"] if command == "list-aliases" else [command]
    with subprocess.Popen(
        [sys.executable, str(PEAK_SCRIPT), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        lines = sum(1 for _line in child.stdout)  # counted as they come, never held
        err = child.stderr.read().decode()
        assert child.wait(timeout=120) == 0, err
    figures = json.loads(peak_file.read_text())
    return lines, int(figures["traced_peak"]), int(figures["maxrss_kib"])


@pytest.mark.parametrize("command", ["list-aliases", "list-repos"])
def test_listing_memory_does_not_grow_with_the_number_of_names(
    command: str, tmp_path: Path, record_property: Record
) -> None:
    """1,000 and 10,000 names in pages of 100, the command in a child process.

    Its peak resident set stays within 1 MiB (measured: 0.3 MiB apart), and the peak of what
    Python objects hold within 96 KiB, a fifth of what the 9,000 names more would take held in a
    list. What does grow there is bounded or per page: the standard library's ``urlsplit`` cache
    filling its 128 entries with page URLs, and :class:`~dxf.registry.PageTrail` at about 80
    bytes a page (bench/listing.py shows the flat line up to 100,000 names)."""
    figures = {}
    for count in (1_000, 10_000):
        with Pager(count, 100) as pager:
            lines, traced, rss = _listing_peak(pager.host, command, tmp_path)
        assert lines == count
        figures[count] = traced, rss
    (small_traced, small_rss), (large_traced, large_rss) = figures[1_000], figures[10_000]
    held = sys.getsizeof([None] * 9_000) + sum(sys.getsizeof(name_at(i)) for i in range(1_000, 10_000))
    assert large_traced - small_traced < min(96 * 1024, held // 5), (figures, held)
    assert abs(large_rss - small_rss) < 1024, figures
    record_property("traced_peak_kib_1000", round(small_traced / 1024, 1))
    record_property("traced_peak_kib_10000", round(large_traced / 1024, 1))
    record_property("peak_rss_mib_1000", round(small_rss / 1024, 1))
    record_property("peak_rss_mib_10000", round(large_rss / 1024, 1))
