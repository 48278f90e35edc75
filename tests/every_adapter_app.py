"""A worker registry covering every installed adapter, built from their conformance drivers.

Every run plays the same scenario (a 4,200 payment that pauses, then "Done."), so the
adapters' runs are interchangeable for the worker. ``HITL_TEST_STORE_URL`` names the
store and ``HITL_TEST_JOURNAL`` the directory where the recording tools log executions.

`REGISTRY` journals every run to that one directory. `PER_RUN_REGISTRY` gives each run a
journal of its own, ``HITL_TEST_JOURNAL/<run id>``, so the fault tests can count each
run's executions (every run's payment has the same arguments); its drivers hold their
passes' leases for ``HITL_TEST_LEASE`` seconds, and while ``HITL_TEST_ACTIVITY`` names a
directory, the file named by the worker's pid there holds the run it is resuming.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from hitl_conformance.adapters import installed_adapters
from hitl_conformance.driver import AdapterDriver, DriverConfig, load_factory
from hitl_conformance.harness import pay
from hitl_conformance.scenario import Scenario
from hitl_core import ApprovalStore, Lease
from hitl_core.worker import Registry, Resume

__all__ = ["PER_RUN_REGISTRY", "REGISTRY", "SCENARIO", "driver_for", "run_driver", "run_journal"]

SCENARIO = Scenario.of(pay("c1", 4200), "Done.")


def driver_for(adapter: str) -> AdapterDriver:
    """The adapter's conformance driver on the shared store and journal."""
    config = DriverConfig(
        store_url=os.environ["HITL_TEST_STORE_URL"],
        journal=Path(os.environ["HITL_TEST_JOURNAL"]),
        scenario=SCENARIO,
    )
    return load_factory(adapter)(config)


def run_journal(run_id: str) -> Path:
    """The journal directory of one run, under ``HITL_TEST_JOURNAL``."""
    return Path(os.environ["HITL_TEST_JOURNAL"]) / run_id


def run_driver(adapter: str, run_id: str) -> AdapterDriver:
    """The adapter's driver on the shared store, journaling to `run_id`'s own journal."""
    config = DriverConfig(
        store_url=os.environ["HITL_TEST_STORE_URL"],
        journal=run_journal(run_id),
        scenario=SCENARIO,
        lease_seconds=float(os.environ.get("HITL_TEST_LEASE", "60")),
    )
    return load_factory(adapter)(config)


def _resumer(adapter: str) -> Callable[[ApprovalStore], Resume]:
    """Builds the adapter's driver once per worker; the worker's store URL is the same."""

    def build(store: ApprovalStore) -> Resume:
        return driver_for(adapter).resume

    return build


def _per_run_resumer(adapter: str) -> Callable[[ApprovalStore], Resume]:
    """Builds a driver for each run it resumes (its journal is the run's), then closes it."""

    def build(store: ApprovalStore) -> Resume:
        def resume(run_id: str, /, *, lease: Lease | None = None) -> object:
            activity = os.environ.get("HITL_TEST_ACTIVITY")
            marker = Path(activity) / str(os.getpid()) if activity else None
            if marker is not None:
                marker.with_suffix(".tmp").write_text(run_id)
                marker.with_suffix(".tmp").replace(marker)
            driver = run_driver(adapter, run_id)
            try:
                return driver.resume(run_id, lease=lease)
            finally:
                driver.close()
                if marker is not None:
                    marker.unlink(missing_ok=True)

        return resume

    return build


REGISTRY: Registry = {adapter: _resumer(adapter) for adapter in installed_adapters()}
PER_RUN_REGISTRY: Registry = {
    adapter: _per_run_resumer(adapter) for adapter in installed_adapters()
}
