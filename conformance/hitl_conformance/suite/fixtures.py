"""The fixtures every standard test uses: a way to run a scenario on the adapter under test."""

from __future__ import annotations

from collections.abc import Callable

from hitl_conformance.harness import Harness
from hitl_conformance.scenario import Scenario

__all__ = ["NewRun"]

NewRun = Callable[[Scenario], Harness]
"""Build a fresh harness (own store, own journal) that runs this scenario."""
