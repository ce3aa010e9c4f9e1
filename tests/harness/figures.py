"""A pytest plugin that keeps what the last test run measured, for the README's reliability table.

Tests state their figures with pytest's own ``record_property`` fixture (``record_property(
"completed", "20/20")``); pytest attaches them to the test's report. This plugin collects every
test's outcome and recorded properties and, when the session ends, writes them as JSON to
``.figures/last-run.json`` under the project root when the whole suite ran (see
:func:`pytest_configure`). The
file is what ``scripts/reliability_table.py`` renders into README.md and checks after ``make test``:
a scenario in the table whose test did not run and pass is an error, so the table cannot name a test
that is gone or failing.

Only the ``call`` phase counts for the outcome, except that a failure or error in set-up or
tear-down marks the test failed: a fixture that broke means the scenario was not shown to work.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DEFAULT_FILE = Path(".figures") / "last-run.json"
PARTIAL_FILE = Path(".figures") / "partial-run.json"


class FigureRecorder:
    """Outcome, duration and recorded properties of every test of one session."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.started = time.time()
        self.tests: dict[str, dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.tests.setdefault(report.nodeid, {"outcome": "passed", "duration": 0.0, "properties": {}})
        entry["duration"] = round(entry["duration"] + report.duration, 3)
        if report.when == "call":
            entry["outcome"] = report.outcome
        elif report.failed:
            entry["outcome"] = "failed"
        elif report.skipped and report.when == "setup":
            entry["outcome"] = "skipped"
        for key, value in report.user_properties:
            entry["properties"][str(key)] = value if isinstance(value, int | float | str) else str(value)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.tests:
            return
        record = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}",
            "python": platform.python_version(),
            "tests": self.tests,
        }
        self.target.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.target.with_name(self.target.name + ".tmp")
        temporary.write_text(json.dumps(record, indent=1) + "\n")
        temporary.replace(self.target)


def whole_suite(config: pytest.Config) -> bool:
    """Whether this session runs every test: no paths, ``-k``, ``-m``, ``--lf`` or ``-x`` narrowing it."""
    option = config.option
    narrowed = (
        getattr(option, "keyword", "")
        or getattr(option, "markexpr", "")
        or getattr(option, "lf", False)
        or getattr(option, "maxfail", 0)
    )
    return not narrowed and all(Path(arg).resolve() == Path(config.rootpath) / "tests" for arg in config.args)


def pytest_configure(config: pytest.Config) -> None:
    """Record into ``.figures/last-run.json`` when the whole suite runs (what the README's table is
    made from), into ``.figures/partial-run.json`` when only part of it does, so running one file
    while working does not replace a full run's figures. ``DXF_FIGURES_FILE`` overrides both."""
    configured = os.environ.get("DXF_FIGURES_FILE")
    if configured:
        target = Path(configured)
    elif whole_suite(config):
        target = Path(config.rootpath) / DEFAULT_FILE
    else:
        target = Path(config.rootpath) / PARTIAL_FILE
    config.pluginmanager.register(FigureRecorder(target), "dxf-figures")


#: The type of pytest's ``record_property`` fixture, for the tests' signatures.
Record = Callable[[str, object], None]
