"""The README's reliability table names tests that exist, and its check fails when one did not pass."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, cast

import pytest

from harness.figures import whole_suite

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table() -> ModuleType:
    path = ROOT / "scripts" / "reliability_table.py"
    spec = importlib.util.spec_from_file_location("reliability_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def _listed(table: ModuleType) -> list[str]:
    return [listed for scenario in table.SCENARIOS for listed in scenario.tests]


def test_every_listed_test_exists(table: ModuleType) -> None:
    missing = []
    for listed in _listed(table):
        path, _, function = listed.partition("::")
        if not (ROOT / path).is_file() or function not in _functions(ROOT / path):
            missing.append(listed)
    assert missing == []


def test_the_readme_shows_every_scenario_and_test(table: ModuleType) -> None:
    readme = (ROOT / "README.md").read_text()
    start, end = readme.find(table.START), readme.find(table.END)
    assert 0 <= start < end
    shown = readme[start:end]
    for scenario in table.SCENARIOS:
        assert f"| {scenario.name} |" in shown
        for listed in scenario.tests:
            assert f"`{listed.removeprefix('tests/')}`" in shown


def _run(outcomes: dict[str, str]) -> dict[str, Any]:
    entries = {node: {"outcome": result, "properties": {}} for node, result in outcomes.items()}
    return {"started": "s", "finished": "f", "machine": "m", "python": "p", "tests": entries}


def test_check_names_tests_missing_failed_or_skipped(table: ModuleType) -> None:
    listed = _listed(table)
    everything = {nodeid: "passed" for nodeid in listed}
    assert table.problems(_run(everything)) == []

    first, second, third = listed[0], listed[1], listed[2]
    del everything[first]
    everything[second] = "failed"
    everything[third] = "skipped"
    found = table.problems(_run(everything))
    assert len(found) == 3
    assert found[0].startswith(f"{first}: not in the last run")
    assert any(line.startswith(f"{second}: failed") for line in found)
    assert any(line.startswith(f"{third}: skipped") for line in found)


def test_parametrized_cases_count_and_a_failing_case_is_named(table: ModuleType) -> None:
    listed = _listed(table)
    everything = {nodeid: "passed" for nodeid in listed[1:]}
    everything[f"{listed[0]}[a]"] = "passed"
    everything[f"{listed[0]}[b]"] = "failed"
    everything[f"{listed[0]}x[c]"] = "passed"  # another test whose name starts the same way
    assert table.problems(_run(everything)) == [f"{listed[0]}[b]: failed ({table.SCENARIOS[0].name})"]
    row = table.render(_run(everything)).splitlines()[5]
    assert "1/2 passed" in row


def test_recorded_figures_are_shown(table: ModuleType) -> None:
    listed = _listed(table)
    run = _run({nodeid: "passed" for nodeid in listed})
    run["tests"][listed[0]]["properties"] = {"completed": "20/20", "restarts": 3}
    rendered = table.render(run)
    assert "passed; completed 20/20, restarts 3 |" in rendered
    replaced = table.replace_between_markers(f"before\n{table.START}\nold\n{table.END}\nafter\n", rendered)
    assert replaced == f"before\n{rendered}\nafter\n"


class _Config:
    """What :func:`harness.figures.whole_suite` reads of a pytest config."""

    def __init__(self, args: list[str], **options: object) -> None:
        self.args = args
        self.rootpath = ROOT
        self.option = SimpleNamespace(**{"keyword": "", "markexpr": "", "lf": False, "maxfail": 0, **options})


def test_only_a_whole_run_replaces_the_figures_the_table_is_made_from() -> None:
    tests = str(ROOT / "tests")
    assert whole_suite(cast(pytest.Config, _Config([tests])))
    assert whole_suite(cast(pytest.Config, _Config([])))
    assert not whole_suite(cast(pytest.Config, _Config([f"{tests}/unit/test_digest.py"])))
    assert not whole_suite(cast(pytest.Config, _Config([tests], markexpr="not slow")))
    assert not whole_suite(cast(pytest.Config, _Config([tests], keyword="reliability")))
    assert not whole_suite(cast(pytest.Config, _Config([tests], maxfail=1)))
