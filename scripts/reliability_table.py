"""The README's reliability table: which failure dxf survives, the test that shows it, last run's figures.

The scenarios and their tests are listed here (:data:`SCENARIOS`); the figures come from the last
test run, which ``tests/harness/figures.py`` writes to ``.figures/last-run.json`` (each test's
outcome and what it recorded with ``record_property``).

    python scripts/reliability_table.py            # print the table from the last run
    python scripts/reliability_table.py --check    # exit 1 unless every listed test ran and passed
    python scripts/reliability_table.py --write README.md   # put the table between the markers

``make test`` runs ``--check`` after the suite, so a test the table names that was renamed, removed,
skipped or failing fails the build: the table cannot claim what the suite no longer shows.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAST_RUN = ROOT / ".figures" / "last-run.json"
START = "<!-- reliability table: made by scripts/reliability_table.py; edit the script, not the table -->"
END = "<!-- end of reliability table -->"

_INTEGRATION = "tests/integration/"


@dataclass(frozen=True)
class Scenario:
    """One row: what goes wrong, what must hold, and the tests (``file::function``) that show it."""

    name: str
    holds: str
    tests: tuple[str, ...]


def _tests(module: str, *functions: str) -> tuple[str, ...]:
    return tuple(f"{_INTEGRATION}{module}.py::{function}" for function in functions)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "Connection cut during a push",
        "20 pushes of 64 MiB, each cut once (FIN or RST) at a random offset: all complete with the "
        "right bytes, at most one new upload session each",
        _tests("test_reliability", "test_push_resumes_after_cuts_at_random_offsets"),
    ),
    Scenario(
        "Connection cut during a pull",
        "20 pulls of 64 MiB to a file and 20 through the iterator, each cut once: same bytes, "
        "continued with `Range` (never restarted from zero)",
        _tests("test_reliability", "test_pull_resumes_after_cuts_at_random_offsets"),
    ),
    Scenario(
        "Connection cut during a multi-connection pull",
        "the broken segment alone is fetched again from its next byte; an interrupted pull from "
        "S3-backed storage resumes where it stopped",
        _tests("test_segmented", "test_a_broken_segment_is_retried_alone_from_its_own_next_byte")
        + _tests("test_ordered", "test_a_cut_segment_is_retried_alone")
        + _tests("test_s3_registry", "test_an_interrupted_pull_resumes_from_s3"),
    ),
    Scenario(
        "Killed mid multi-connection pull",
        "`kill -9` of `pull-blob -o F --resume --connections 4`: the next `--resume` continues from "
        "the gap-free prefix the process had marked, fetching only what lies past it; SIGTERM stops a "
        "multi-connection pull to standard output at once",
        _tests(
            "test_segmented_kill",
            "test_a_killed_multi_connection_download_resumes_from_its_gap_free_prefix",
            "test_sigterm_stops_a_multi_connection_pull_to_stdout_promptly",
        ),
    ),
    Scenario(
        "Registry restart mid-upload",
        "the registry is killed and restarted during a chunked push and between two chunks of a "
        "stdin push: both complete, the second in the same session",
        _tests(
            "test_reliability",
            "test_chunked_push_survives_a_registry_restart",
            "test_stream_push_resumes_in_place_across_a_registry_restart",
        ),
    ),
    Scenario(
        "Refused chunk, no chunked uploads",
        "a PATCH answered 503 is continued in the same session from the registry's `Range`; a "
        "registry refusing PATCH gets one monolithic PUT",
        _tests(
            "test_reliability",
            "test_chunked_push_resumes_in_place_after_a_refused_patch",
            "test_a_registry_refusing_patch_gets_one_put",
        ),
    ),
    Scenario(
        "429/503 storms",
        "bursts are waited out (`Retry-After` honoured); one longer than the retry budget fails "
        "with its status; 32 parallel pushes against a host that refuses above 4 in flight slow "
        "down together",
        _tests(
            "test_reliability",
            "test_bursts_of_429_and_503_are_waited_out",
            "test_a_burst_longer_than_the_retry_budget_fails_with_its_status",
        )
        + _tests("test_host_budget", "test_parallel_pushes_to_a_throttling_host_slow_down_together"),
    ),
    Scenario(
        "Token expiry mid-transfer",
        "a push outliving its 3-second token gets a new one and completes; threads sharing an ageing "
        "token renew it once",
        _tests("test_reliability", "test_token_expiring_during_a_long_upload")
        + _tests("test_token_refresh", "test_threads_sharing_an_aged_token_renew_it_once"),
    ),
    Scenario(
        "Expired storage URL",
        "a segment refused with 403 by S3 (an expired presigned URL) asks the registry for a fresh "
        "redirect and the pull completes",
        _tests("test_s3_registry", "test_a_segment_refused_by_storage_asks_the_registry_for_a_fresh_url"),
    ),
    Scenario(
        "Wrong bytes",
        "corrupted bytes fail the digest check and leave no file; a descriptor size that lies and "
        "a body that never ends are stopped at the size",
        _tests(
            "test_reliability",
            "test_pull_blob_iteration_rejects_wrong_bytes",
            "test_pull_blob_to_file_rejects_wrong_bytes_and_leaves_no_file",
            "test_cli_pull_blob_rejects_wrong_bytes_and_leaves_no_file",
        )
        + _tests(
            "test_download_safety",
            "test_a_descriptor_size_that_lies_is_an_error",
            "test_a_server_streaming_forever_is_stopped_at_the_expected_size",
        ),
    ),
    Scenario(
        "Ctrl-C, SIGTERM, SIGHUP",
        "parallel transfers stop within a chunk and complete nothing; a signalled download leaves "
        "no temporary file, or its resumable part with `--resume`",
        _tests(
            "test_cancellation",
            "test_ctrl_c_stops_pull_blobs",
            "test_ctrl_c_stops_push_blobs_and_completes_nothing",
        )
        + _tests(
            "test_cli_contract",
            "test_signal_mid_download_leaves_no_temporary_file",
            "test_sigterm_keeps_the_resumable_part",
        ),
    ),
    Scenario(
        "Two runs on one target",
        "two resumed downloads into one file cannot interleave; a second process is refused while "
        "the first holds the part file",
        _tests(
            "test_download_safety",
            "test_two_threads_resuming_into_one_target_cannot_corrupt_it",
            "test_a_second_process_fails_while_the_part_file_is_locked",
        ),
    ),
    Scenario(
        "File changing during a push",
        "overwritten, truncated or appended mid-upload: the upload is abandoned, nothing stored",
        _tests("test_push_changing_file", "test_file_changed_during_upload_fails_and_stores_nothing"),
    ),
    Scenario(
        "Bad input",
        "every command with wrong arguments or environment: one line, exit status, no traceback; "
        "a 1 GiB manifest on stdin refused in bounded memory",
        (
            "tests/unit/test_cli_args.py::test_usage_errors",
            *_tests(
                "test_cli_contract",
                "test_no_internal_errors",
                "test_host_with_credentials_is_refused_before_any_request",
                "test_stdin_manifest_memory_is_bounded",
            ),
        ),
    ),
    Scenario(
        "Hostile server: loops",
        "pagination `Link`s back to a page already read, blob redirects to themselves, in a circle or "
        "without end, a token realm redirecting in a loop: each stops with one clear error",
        _tests(
            "test_hostile_registry",
            "test_catalog_link_back_to_a_seen_page_stops",
            "test_tags_link_back_with_batch_size_stops",
            "test_command_reports_a_pagination_loop_in_one_line",
        )
        + _tests(
            "test_hostile_redirects",
            "test_a_blob_redirect_loop_stops_at_the_hop_limit",
            "test_the_command_reports_a_redirect_loop_in_one_line",
            "test_a_token_realm_that_redirects_in_a_loop_stops",
        ),
    ),
    Scenario(
        "Hostile server: floods",
        "a 100 MiB manifest or tag page, a 10 MiB token answer, endless error bodies (JSON or not, "
        "retried, from the token server): refused past their caps in bounded memory, one line",
        _tests(
            "test_hostile_registry",
            "test_oversized_manifest_or_page_is_refused_in_bounded_memory",
            "test_oversized_token_answer_is_refused",
            "test_a_10_mib_token_answer_is_refused_in_one_line",
        )
        + _tests(
            "test_hostile_error_bodies",
            "test_an_endless_error_body_is_read_within_its_cap",
            "test_an_endless_401_body_is_read_within_its_cap",
            "test_retried_error_answers_are_each_read_within_the_cap",
            "test_the_command_reports_an_endless_error_body_in_one_line",
            "test_an_endless_token_server_error_is_read_within_its_cap",
        ),
    ),
    Scenario(
        "Hostile server: lying ranges",
        "a `206` for another range or total, an unparseable `Content-Range`, a `200` to a ranged "
        "request, a false `416`: nothing wrong is written, a `--resume` part keeps what it held",
        _tests(
            "test_hostile_ranges",
            "test_resume_refuses_a_206_that_starts_elsewhere",
            "test_resume_refuses_a_206_whose_total_is_not_the_blob_size",
            "test_a_200_answered_to_a_resume_is_not_appended",
            "test_a_416_claiming_the_part_already_holds_everything_is_not_believed",
            "test_an_unparseable_content_range_is_refused",
            "test_a_segment_answered_with_another_range_is_not_written",
            "test_a_download_over_connections_whose_every_range_lies_fails_cleanly",
        ),
    ),
    Scenario(
        "Hostile server: other lies",
        "a body shorter than its `Content-Length`, a `Docker-Content-Digest` that is not the "
        "manifest's, an upload `Location` on another host, token answers without a token, a plain-http "
        "realm: refused with one clear line, credentials kept home",
        _tests(
            "test_hostile_lies",
            "test_a_body_shorter_than_its_content_length_keeps_a_good_part",
            "test_a_manifest_shorter_than_its_content_length_is_an_error",
            "test_a_docker_content_digest_that_is_not_the_manifests_is_refused",
            "test_an_upload_location_on_another_host_is_refused",
        )
        + _tests(
            "test_hostile_registry",
            "test_a_token_answer_without_a_token_is_one_clear_error",
            "test_a_plain_http_realm_on_an_https_registry_is_refused",
        ),
    ),
    Scenario(
        "Load",
        "one client shared by 8 threads pushes and pulls 2,000 small and 20 large blobs against a "
        "registry whose tokens live 5 s: no error, tokens renewed, file descriptors, sockets and "
        "threads back to their count after `close()`, RSS flat from the first thousand to the last",
        _tests("test_load", "test_one_client_eight_threads_small_and_large_blobs_short_tokens_no_leaks"),
    ),
    Scenario(
        "Listing at scale",
        "10,000 tags and 1,000 repositories (the catalog in pages of 100) of a real registry listed "
        "complete; 100 `Link` pages followed, each printed before the next is asked for, in memory "
        "that does not grow with the count",
        _tests(
            "test_listing_at_scale",
            "test_list_aliases_prints_10000_tags_of_a_real_registry_in_its_order",
            "test_list_repos_pages_through_1000_repositories_of_a_real_registry",
            "test_the_command_follows_100_link_pages_of_100_names",
            "test_the_first_page_is_printed_before_the_next_one_is_served",
            "test_listing_memory_does_not_grow_with_the_number_of_names",
        ),
    ),
    Scenario(
        "Wrong certificates",
        "expired, other host name, self-signed: one line saying which and how to fix it",
        _tests("test_certificates", "test_refused_certificate_is_one_clear_line"),
    ),
)


def _matches(listed: str, nodeid: str) -> bool:
    """``file::function`` covers the test itself and each of its parametrized cases."""
    return nodeid == listed or (nodeid.startswith(listed + "[") and nodeid.endswith("]"))


def _results(run: dict[str, Any], listed: str) -> list[tuple[str, dict[str, Any]]]:
    return [(nodeid, entry) for nodeid, entry in sorted(run["tests"].items()) if _matches(listed, nodeid)]


def problems(run: dict[str, Any]) -> list[str]:
    """Each listed test that did not run, or ran and did not pass."""
    found = []
    for scenario in SCENARIOS:
        for listed in scenario.tests:
            results = _results(run, listed)
            if not results:
                found.append(f"{listed}: not in the last run ({scenario.name})")
            found += [
                f"{nodeid}: {entry['outcome']} ({scenario.name})"
                for nodeid, entry in results
                if entry["outcome"] != "passed"
            ]
    return found


def _case(nodeid: str) -> str:
    match = re.search(r"\[(.*)\]$", nodeid)
    return f"{match.group(1)}: " if match else ""


def _label(key: str) -> str:
    """``peak_rss_mib`` reads as ``peak rss mib``."""
    return key.replace("_", " ")


def _each(properties: dict[str, Any]) -> str:
    return ", ".join(f"{_label(key)} {value}" for key, value in properties.items())


def _summary(key: str, values: list[Any]) -> str:
    """One figure over several cases: the value they share, a range of numbers, or a few values."""
    if all(isinstance(v, int | float) for v in values):
        low, high = min(values), max(values)
        return f"{_label(key)} {low}" if low == high else f"{_label(key)} {low}-{high}"
    distinct = list(dict.fromkeys(str(v) for v in values))
    shown = " / ".join(distinct) if len(distinct) <= 3 else f"varied ({len(distinct)} values)"
    return f"{_label(key)} {shown}"


def _figures(results: list[tuple[str, dict[str, Any]]]) -> str:
    """``1/1 passed`` (``3/3 passed`` for parametrized cases) and what the cases recorded: each case's
    figures when there are at most three cases, else each figure summed up over the cases."""
    recorded = [(nodeid, entry["properties"]) for nodeid, entry in results if entry["properties"]]
    if len(recorded) <= 3:
        described = [_case(n) + _each(props) for n, props in recorded]
    else:
        keys = list(dict.fromkeys(key for _nodeid, props in recorded for key in props))
        values = {key: [props[key] for _nodeid, props in recorded if key in props] for key in keys}
        described = [", ".join(_summary(key, values[key]) for key in keys)]
    passed = sum(entry["outcome"] == "passed" for _nodeid, entry in results)
    if not results:
        status = "not run"
    elif len(results) == 1:
        status = str(results[0][1]["outcome"])
    else:
        status = f"{passed}/{len(results)} passed"
    return "; ".join([status, *described])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(run: dict[str, Any]) -> str:
    """The table as Markdown, with a line saying which run its figures come from."""
    lines = [
        START,
        f"Last run: {run['started']} to {run['finished']} UTC, {run['machine']}, Python {run['python']}.",
        "",
        "| scenario | what must hold | test | last run |",
        "| --- | --- | --- | --- |",
    ]
    for scenario in SCENARIOS:
        for index, listed in enumerate(scenario.tests):
            name, holds = (scenario.name, scenario.holds) if index == 0 else ("", "")
            test = listed.removeprefix("tests/")
            figures = _figures(_results(run, listed))
            lines.append(f"| {_cell(name)} | {_cell(holds)} | `{test}` | {_cell(figures)} |")
    lines.append(END)
    return "\n".join(lines)


def replace_between_markers(document: str, table: str) -> str:
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start:
        raise ValueError("the README has no reliability table markers")
    return document[:start] + table + document[end + len(END) :]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=LAST_RUN, help="the figures file (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="fail unless every listed test ran and passed")
    parser.add_argument("--write", type=Path, metavar="README", help="replace the table in this file")
    args = parser.parse_args(argv)
    try:
        run = json.loads(args.run.read_text())
    except (OSError, ValueError) as error:
        print(f"reliability_table: cannot read the last run's figures: {error}", file=sys.stderr)
        return 1
    found = problems(run)
    if found and (args.check or args.write):
        print("reliability_table: the table names tests that did not pass in the last run:", file=sys.stderr)
        for line in found:
            print(f"  {line}", file=sys.stderr)
        return 1
    if args.check:
        count = sum(len(scenario.tests) for scenario in SCENARIOS)
        print(f"reliability table: all {count} listed tests ran and passed")
        return 0
    table = render(run)
    if args.write:
        args.write.write_text(replace_between_markers(args.write.read_text(), table))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
