"""A worker registry covering every installed adapter, built from their conformance drivers.

Every run plays the same scenario (a 4,200 payment that pauses, then "Done."), so the
adapters' runs are interchangeable for the worker. ``HITL_TEST_STORE_URL`` names the
store and ``HITL_TEST_JOURNAL`` the directory where the recording tools log executions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from hitl_conformance.adapters import installed_adapters
from hitl_conformance.driver import AdapterDriver, DriverConfig, load_factory
from hitl_conformance.harness import pay
from hitl_conformance.scenario import Scenario
from hitl_core import ApprovalStore
from hitl_core.worker import Registry, Resume

SCENARIO = Scenario.of(pay("c1", 4200), "Done.")


def driver_for(adapter: str) -> AdapterDriver:
    """The adapter's conformance driver on the shared store and journal."""
    config = DriverConfig(
        store_url=os.environ["HITL_TEST_STORE_URL"],
        journal=Path(os.environ["HITL_TEST_JOURNAL"]),
        scenario=SCENARIO,
    )
    return load_factory(adapter)(config)


def _resumer(adapter: str) -> Callable[[ApprovalStore], Resume]:
    """Builds the adapter's driver once per worker; the worker's store URL is the same."""

    def build(store: ApprovalStore) -> Resume:
        return driver_for(adapter).resume

    return build


REGISTRY: Registry = {adapter: _resumer(adapter) for adapter in installed_adapters()}
