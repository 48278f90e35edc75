"""The fixtures every standard test uses: a way to run a scenario on the adapter under test."""

from __future__ import annotations

from typing import Protocol

from hitl_conformance.harness import Harness
from hitl_conformance.scenario import Scenario

__all__ = ["NewRun"]


class NewRun(Protocol):
    """Build a fresh harness (own store, own journal) that runs this scenario."""

    def __call__(self, scenario: Scenario, *, lease_seconds: float = 60.0) -> Harness: ...
