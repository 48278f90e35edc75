"""The conformance report: per capability, passed / failed / skipped, and a level."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

from hitl_conformance.capabilities import MAY, MUST, Capability

__all__ = ["AdapterReport", "CapabilityResult", "Level", "TestResult"]

Level = Literal["FULL", "BASE", "NONE"]
Outcome = Literal["passed", "failed", "skipped", "xfailed"]


class TestResult(BaseModel):
    """One standard test's result."""

    __test__ = False  # not a pytest test class

    name: str
    capabilities: list[Capability]
    """The capability the test checks, then the ones it also needs."""
    outcome: Outcome
    reason: str | None = None


class CapabilityResult(BaseModel):
    capability: Capability
    required: bool
    """A MUST capability (needed for BASE)."""
    status: Literal["passed", "failed", "skipped"]
    passed: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    """Failed or xfailed tests (an xfail is a declared deviation, not a pass)."""
    skipped: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


class AdapterReport(BaseModel):
    """Every standard test run for one adapter, and what they add up to."""

    suite: str
    """The test class that ran the suite."""
    factory: str
    results: list[TestResult] = Field(default_factory=list)

    def capabilities(self) -> list[CapabilityResult]:
        rows = []
        for capability in sorted(
            Capability, key=lambda c: (c not in MUST, list(Capability).index(c))
        ):
            # A test counts for the capability it checks (its first); the rest it only needs.
            tests = [r for r in self.results if r.capabilities[:1] == [capability]]
            row = CapabilityResult(
                capability=capability, required=capability in MUST, status="skipped"
            )
            for r in tests:
                bucket = {"passed": row.passed, "skipped": row.skipped}.get(r.outcome, row.failed)
                bucket.append(r.name)
                if r.reason and r.reason not in row.reasons:
                    row.reasons.append(r.reason)
            # A skip names a capability the adapter did not declare; it only counts against
            # a capability none of whose tests ran.
            if row.failed:
                row.status = "failed"
            elif row.passed:
                row.status = "passed"
            rows.append(row)
        return rows

    def unmarked_failures(self) -> list[str]:
        """Failures of tests that check no capability (the anti-tamper check)."""
        return [r.name for r in self.results if not r.capabilities and r.outcome != "passed"]

    def level(self) -> Level:
        rows = {row.capability: row.status for row in self.capabilities()}
        if self.unmarked_failures() or any(rows[c] != "passed" for c in MUST):
            return "NONE"
        if all(rows[c] == "passed" for c in MAY):
            return "FULL"
        return "BASE"

    def render(self) -> list[str]:
        """The report as plain text lines (no dependencies beyond pytest)."""
        lines = [f"hitl conformance: {self.suite} ({self.factory})"]
        lines.append(f"  {'capability':<16}{'kind':<6}{'result':<9}passed/failed/skipped  notes")
        for row in self.capabilities():
            counts = f"{len(row.passed)}/{len(row.failed)}/{len(row.skipped)}"
            notes = "; ".join(row.failed + row.reasons)
            kind = "MUST" if row.required else "MAY"
            lines.append(f"  {row.capability.value:<16}{kind:<6}{row.status:<9}{counts:<23}{notes}")
        for name in self.unmarked_failures():
            lines.append(f"  FAILED {name}")
        lines.append(f"  conformance level: {self.level()}")
        return lines

    def to_dict(self) -> dict[str, object]:
        return {
            "suite": self.suite,
            "factory": self.factory,
            "level": self.level(),
            "capabilities": [row.model_dump(mode="json") for row in self.capabilities()],
            "tests": [r.model_dump(mode="json") for r in self.results],
        }


def merge(reports: Iterable[AdapterReport]) -> dict[str, AdapterReport]:
    return {r.suite: r for r in reports}
