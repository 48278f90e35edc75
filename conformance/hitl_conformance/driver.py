"""The one thing an adapter author writes: a driver that runs a scenario on their framework.

A factory ``driver(config: DriverConfig) -> AdapterDriver`` builds the framework's agent
with the suite's recording tools (`hitl_conformance.tools`) and a model that plays
`config.scenario` and reports what it was shown to `config.journal`. The suite does the
rest, including resuming in a fresh Python process (it calls the same factory there).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from hitl_conformance.capabilities import Capability
from hitl_conformance.scenario import Scenario
from hitl_core import ApprovalStore, Lease

__all__ = [
    "AdapterDriver",
    "DriverConfig",
    "DriverFactory",
    "RunOutcome",
    "StreamingDriver",
    "factory_ref",
    "load_factory",
    "resume_in_fresh_process",
]


class DriverConfig(BaseModel):
    """Everything a driver needs; JSON-serializable so a fresh process can rebuild it."""

    store_url: str
    journal: Path
    scenario: Scenario


class RunOutcome(BaseModel):
    """Where a run stands after `start` or `resume`, in the suite's neutral terms."""

    run_id: str
    status: Literal["paused", "completed"]
    pending: list[str] = []
    """Ids of the requests the run waits on, in call order (empty once completed)."""
    output: str | None = None
    """The model's final answer, once completed."""
    events: list[str] = []
    """For streamed runs: what the stream surfaced, in order: ``tool_result:<call id>`` for
    each settled call, then ``paused`` or ``completed``."""


@runtime_checkable
class AdapterDriver(Protocol):
    """An adapter's agent, built for one scenario, seen through four calls."""

    capabilities: ClassVar[frozenset[Capability]]
    """What the adapter claims to support; tests of anything else are skipped."""
    store: ApprovalStore
    """The store the adapter writes requests, runs and audit events to."""

    def start(self, run_id: str) -> RunOutcome:
        """Run the scenario's prompt under `run_id` until it completes or pauses."""
        ...

    def resume(self, run_id: str, *, lease: Lease | None = None) -> RunOutcome:
        """Reload `run_id` from the store, apply recorded decisions, continue.

        `lease` is a lease on the run a worker already holds: pass it to the runner.
        """
        ...

    def close(self) -> None:
        """Release the store and anything else the driver opened."""
        ...


@runtime_checkable
class StreamingDriver(AdapterDriver, Protocol):
    """A driver that also runs and resumes through its framework's streaming API."""

    def start_streamed(self, run_id: str) -> RunOutcome:
        """`start`, consuming the stream until it ends; `events` lists what it surfaced."""
        ...

    def resume_streamed(self, run_id: str) -> RunOutcome:
        """`resume`, consuming the stream until it ends."""
        ...


DriverFactory = Callable[[DriverConfig], AdapterDriver]


def factory_ref(factory: DriverFactory | str) -> str:
    """The ``module:attribute`` reference a fresh process imports the factory by."""
    if isinstance(factory, str):
        return factory if ":" in factory else f"{factory}.conformance:driver"
    return f"{factory.__module__}:{factory.__qualname__}"


def load_factory(ref: str) -> DriverFactory:
    """Import a factory from ``package`` (meaning ``package.conformance:driver``) or
    ``module:attribute``."""
    module_name, _, attribute = factory_ref(ref).partition(":")
    factory: DriverFactory = getattr(importlib.import_module(module_name), attribute)
    return factory


FRESH_PROCESS_TIMEOUT = 120.0
"""Seconds a fresh-process resume may take before the test fails instead of hanging."""


def resume_in_fresh_process(ref: str, config: DriverConfig, run_id: str) -> RunOutcome:
    """Resume `run_id` in a new Python interpreter that shares nothing but the store."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hitl_conformance.child", ref, run_id],
            input=config.model_dump_json(),
            capture_output=True,
            text=True,
            check=False,
            timeout=FRESH_PROCESS_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"The fresh-process resume of {run_id} took over {FRESH_PROCESS_TIMEOUT:.0f} s."
        ) from None
    if done.returncode != 0:
        raise AssertionError(f"The fresh-process resume failed:\n{done.stderr}")
    return RunOutcome.model_validate_json(done.stdout.strip().splitlines()[-1])
