"""`AdapterConformanceTests`: subclass it, name your driver factory, run pytest."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from hitl_conformance.capabilities import Capability
from hitl_conformance.driver import DriverConfig, factory_ref, load_factory
from hitl_conformance.harness import Harness
from hitl_conformance.markers import MARKER
from hitl_conformance.scenario import Scenario
from hitl_conformance.suite.compose import ComposeTests
from hitl_conformance.suite.decide import DecideTests
from hitl_conformance.suite.fixtures import NewRun
from hitl_conformance.suite.gate import GateTests
from hitl_conformance.suite.ledger import LedgerTests
from hitl_conformance.suite.resume import ResumeTests

__all__ = ["AdapterConformanceTests", "standard_tests"]


class AdapterConformanceTests(GateTests, DecideTests, ResumeTests, ComposeTests, LedgerTests):
    """The standard suite. Subclass it and set `factory`::

        class TestMyAdapter(AdapterConformanceTests):
            factory = "my_adapter.conformance:driver"

    Tests for capabilities the driver does not declare are skipped with the reason. A
    standard test may not be overridden or deleted unless marked
    ``@pytest.mark.xfail(reason=...)``; the report shows every such deviation.
    """

    factory: ClassVar[str] = ""
    """``package`` (meaning ``package.conformance:driver``) or ``module:attribute``."""

    @pytest.fixture
    def capabilities(self, tmp_path: Path) -> frozenset[Capability]:
        """What the driver declares (read from a throwaway driver)."""
        if not self.factory:
            pytest.fail(f"{type(self).__name__} must set `factory` to its driver factory.")
        probe = load_factory(self.factory)(
            DriverConfig(
                store_url=f"sqlite:///{tmp_path / 'probe.db'}",
                journal=tmp_path / "probe-journal",
                scenario=Scenario.of("Nothing to do."),
            )
        )
        try:
            return frozenset(probe.capabilities)
        finally:
            probe.close()

    @pytest.fixture(autouse=True)
    def _skip_undeclared(self, request: pytest.FixtureRequest) -> None:
        marker = request.node.get_closest_marker(MARKER)
        if marker is None:
            return
        declared: frozenset[Capability] = request.getfixturevalue("capabilities")
        missing = sorted(c.value for c in marker.args if c not in declared)
        if missing:
            pytest.skip(f"the adapter does not declare: {', '.join(missing)}")

    @pytest.fixture
    def store_url(self) -> str | None:
        """The store to run against; None means a fresh SQLite file per run.

        Override it to run the suite on another store (e.g. an empty PostgreSQL schema).
        """
        return None

    @pytest.fixture
    def new_run(self, tmp_path: Path, store_url: str | None) -> Iterator[NewRun]:
        """Run a scenario on the adapter: each call gets its own journal (and store)."""
        made: list[Harness] = []

        def build(scenario: Scenario, *, lease_seconds: float = 60.0) -> Harness:
            harness = Harness(
                factory_ref(self.factory),
                tmp_path / f"run{len(made)}",
                scenario,
                store_url,
                lease_seconds=lease_seconds,
            )
            made.append(harness)
            return harness

        yield build
        for harness in made:
            harness.close()

    def test_no_overrides_DO_NOT_OVERRIDE(self) -> None:
        """Every standard test is present and unchanged, or marked xfail with a reason.

        If this fails, remove the override, or mark it ``@pytest.mark.xfail(reason=...)``.
        """
        problems = []
        for name, standard in standard_tests().items():
            mine = getattr(type(self), name, None)
            if mine is None:
                problems.append(f"{name} was deleted")
            elif mine is not standard and not _xfail_reason(mine):
                problems.append(f"{name} is overridden without @pytest.mark.xfail(reason=...)")
        assert not problems, "; ".join(problems)


def standard_tests() -> dict[str, object]:
    """The suite's own test functions, by name."""
    return {
        name: member
        for name, member in inspect.getmembers(AdapterConformanceTests, inspect.isfunction)
        if name.startswith("test_") and name != "test_no_overrides_DO_NOT_OVERRIDE"
    }


def _xfail_reason(function: object) -> str | None:
    for mark in getattr(function, "pytestmark", []):
        if mark.name == "xfail" and mark.kwargs.get("reason"):
            return str(mark.kwargs["reason"])
    return None
