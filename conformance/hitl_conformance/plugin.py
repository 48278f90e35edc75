"""The pytest plugin: registers the capability marker and prints the conformance report.

Loaded automatically (a ``pytest11`` entry point) wherever hitl-kit is installed; it does
nothing unless a subclass of `AdapterConformanceTests` runs. ``--hitl-report PATH``
writes the reports as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from hitl_conformance.markers import MARKER
from hitl_conformance.report import AdapterReport, TestResult

_REPORTS = pytest.StashKey[dict[str, AdapterReport]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hitl-conformance")
    group.addoption(
        "--hitl-report", metavar="PATH", default=None, help="write the conformance reports as JSON"
    )
    group.addoption(
        "--hitl-no-summary", action="store_true", help="do not print the conformance summary"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(*capabilities): the hitl-kit capabilities a conformance test checks"
    )
    config.stash[_REPORTS] = {}


def _suite_of(item: pytest.Item) -> type | None:
    from hitl_conformance.suite.base import AdapterConformanceTests

    cls = getattr(item, "cls", None)
    return cls if isinstance(cls, type) and issubclass(cls, AdapterConformanceTests) else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    suite = _suite_of(item)
    if suite is None:
        return
    counted = report.when == "call" or not report.passed
    if not counted:
        return
    result = _result(item, report)
    reports = item.config.stash[_REPORTS]
    adapter = reports.setdefault(
        suite.__qualname__,
        AdapterReport(suite=suite.__qualname__, factory=str(getattr(suite, "factory", ""))),
    )
    adapter.results = [r for r in adapter.results if r.name != result.name] + [result]


def _result(item: pytest.Item, report: pytest.TestReport) -> TestResult:
    marker = item.get_closest_marker(MARKER)
    capabilities = list(marker.args) if marker else []
    name = getattr(item, "originalname", item.name)
    if hasattr(report, "wasxfail"):
        return TestResult(
            name=name, capabilities=capabilities, outcome="xfailed", reason=report.wasxfail or None
        )
    if report.skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else None
        reason = reason.removeprefix("Skipped: ") if reason else None
        return TestResult(name=name, capabilities=capabilities, outcome="skipped", reason=reason)
    return TestResult(
        name=name, capabilities=capabilities, outcome="passed" if report.passed else "failed"
    )


def reports(config: pytest.Config) -> dict[str, AdapterReport]:
    """The reports collected so far in this session, by suite."""
    return config.stash.get(_REPORTS, {})


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    collected = reports(config)
    if not collected:
        return
    if not config.getoption("--hitl-no-summary"):
        terminalreporter.section("hitl-kit conformance")
        for report in collected.values():
            for line in report.render():
                terminalreporter.write_line(line)
    path = config.getoption("--hitl-report")
    if path:
        Path(path).write_text(json.dumps([r.to_dict() for r in collected.values()], indent=2))
