"""Statuses are interpreted in one place, :mod:`dxf.statuses` (issue #9): its table, and a check that
no other library module compares a status code with a number."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import requests

from dxf import statuses
from dxf.statuses import Outcome

SRC = Path(__file__).resolve().parents[2] / "src" / "dxf"
#: The command line maps errors to exit codes and hints (by design it reads statuses for that only).
NOT_LIBRARY = {"cli_errors.py", "cli_args.py", "cli_env.py", "main.py", "progress.py"}


def _answer(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


def _status_literal_comparisons(path: Path) -> list[str]:
    """``x.status_code == 404``, ``... in (201, 202)``, ``response.ok``: status reads in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr == "ok":
            found.append(f"{path.name}:{node.lineno}: .ok")
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        reads_status = any(isinstance(s, ast.Attribute) and s.attr == "status_code" for s in sides)
        literal = any(
            isinstance(n, ast.Constant) and isinstance(n.value, int) for s in sides for n in ast.walk(s)
        )
        if reads_status and literal:
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_library_module_but_statuses_reads_a_status() -> None:
    modules = [p for p in sorted(SRC.glob("*.py")) if p.name not in NOT_LIBRARY | {"statuses.py"}]
    assert len(modules) > 10
    assert [hit for path in modules for hit in _status_literal_comparisons(path)] == []


@pytest.mark.parametrize(
    ("answers", "status", "outcome"),
    [
        (statuses.BLOB_PRESENCE, 200, Outcome.PRESENT),
        (statuses.BLOB_PRESENCE, 404, Outcome.ABSENT),
        (statuses.BLOB_PRESENCE, 204, Outcome.ERROR),
        (statuses.BLOB_GET, 200, Outcome.DONE),
        (statuses.BLOB_GET, 416, Outcome.ERROR),
        (statuses.BLOB_GET_FROM, 206, Outcome.PARTIAL),
        (statuses.BLOB_GET_FROM, 416, Outcome.NOTHING_LEFT),
        (statuses.MOUNT, 201, Outcome.MOUNTED),
        (statuses.MOUNT, 202, Outcome.OPENED),
        (statuses.TAG_DELETE, 202, Outcome.DONE),
        (statuses.TAG_DELETE, 400, Outcome.UNSUPPORTED),
        (statuses.TAG_DELETE, 405, Outcome.UNSUPPORTED),
        (statuses.TAG_DELETE, 404, Outcome.ERROR),
        (statuses.UPLOAD_PATCH, 202, Outcome.DONE),
        (statuses.UPLOAD_PATCH, 416, Outcome.RANGE_REFUSED),
        (statuses.UPLOAD_PATCH, 501, Outcome.PATCH_UNSUPPORTED),
        (statuses.UPLOAD_PATCH, 500, Outcome.ERROR),
        (statuses.UPLOAD_STATUS, 204, Outcome.DONE),
        (statuses.UPLOAD_STATUS, 404, Outcome.SESSION_GONE),
        (statuses.UPLOAD_STATUS, 401, Outcome.ERROR),
        (statuses.UPLOAD_STATUS, 503, Outcome.ERROR),
        (statuses.UPLOAD_CANCEL, 404, Outcome.DONE),
        (statuses.AUTH_PROBE, 302, Outcome.DONE),
        (statuses.AUTH_PROBE, 401, Outcome.CHALLENGED),
        (statuses.AUTH_PROBE, 403, Outcome.ERROR),
        (statuses.TOKEN_POST, 405, Outcome.NO_OAUTH),
    ],
)
def test_each_endpoint_names_what_its_answers_mean(
    answers: statuses.Answers, status: int, outcome: Outcome
) -> None:
    assert answers.of(_answer(status)) is outcome
    assert answers.accepts(_answer(status)) is (outcome is not Outcome.ERROR)


def test_every_endpoint_cites_its_source() -> None:
    table = [v for v in vars(statuses).values() if isinstance(v, statuses.Answers)]
    assert len(table) > 15
    assert all(a.request and a.spec for a in table)


@pytest.mark.parametrize(
    ("status", "method", "after"),
    [
        (303, "PUT", "GET"),
        (302, "POST", "GET"),
        (301, "POST", "GET"),
        (302, "HEAD", "HEAD"),
        (307, "POST", "POST"),
    ],
)
def test_redirects_that_become_get(status: int, method: str, after: str) -> None:
    assert statuses.method_after_redirect(status, method) == after
