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
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from hitl_conformance.capabilities import Capability
from hitl_conformance.scenario import Scenario
from hitl_core import ApprovalStore, Lease

__all__ = [
    "AdapterDriver",
    "DriverConfig",
    "DriverFactory",
    "ResumeError",
    "RunOutcome",
    "StreamingDriver",
    "TamperingDriver",
    "collect",
    "factory_ref",
    "load_factory",
    "resume_in_fresh_process",
    "spawn_resume",
]


class DriverConfig(BaseModel):
    """Everything a driver needs; JSON-serializable so a fresh process can rebuild it."""

    store_url: str
    journal: Path
    scenario: Scenario
    lease_seconds: float = 60.0
    """How long the runner's passes hold the run between renewals (short in fault tests)."""


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


@runtime_checkable
class TamperingDriver(AdapterDriver, Protocol):
    """A driver that can change its framework's own stored snapshot, as an attacker with
    write access to it could (required with the `reviewed_only` capability)."""

    def rewrite_call(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str | None = None,
        args: dict[str, Any] | None = None,
    ) -> None:
        """Make the stored snapshot of `run_id` call `tool` with `args` (each None: keep)
        where call `call_id` was, keeping the call id, and leave the rest as it is."""
        ...


DriverFactory = Callable[[DriverConfig], AdapterDriver]


class ResumeError(BaseModel):
    """A fresh-process resume that raised a hitl-kit error (`RunBusy`, `LeaseLost`...)."""

    error: str
    """The error's class name."""
    message: str


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


def spawn_resume(
    ref: str, config: DriverConfig, run_id: str, *, go: Path | None = None
) -> subprocess.Popen[str]:
    """Start resuming `run_id` in a new Python interpreter that shares nothing but the store.

    With `go`, the child builds its driver, then waits for that file before resuming.
    """
    command = [sys.executable, "-m", "hitl_conformance.child", ref, run_id]
    if go is not None:
        command.append(str(go))
    child = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    child.stdin.write(config.model_dump_json())
    child.stdin.close()
    child.stdin = None  # written and closed: `communicate` must not touch it again
    return child


def collect(child: subprocess.Popen[str], run_id: str) -> RunOutcome | ResumeError:
    """Wait for a child started by `spawn_resume`: its outcome or the error it reported.

    Raises:
        AssertionError: the child crashed, was killed, or took too long.
    """
    try:
        out, err = child.communicate(timeout=FRESH_PROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise AssertionError(
            f"The fresh-process resume of {run_id} took over {FRESH_PROCESS_TIMEOUT:.0f} s."
        ) from None
    if child.returncode != 0:
        raise AssertionError(
            f"The fresh-process resume of {run_id} failed (exit {child.returncode}):\n{err}"
        )
    line = out.strip().splitlines()[-1]
    if '"error"' in line:
        return ResumeError.model_validate_json(line)
    return RunOutcome.model_validate_json(line)


def resume_in_fresh_process(ref: str, config: DriverConfig, run_id: str) -> RunOutcome:
    """Resume `run_id` in a new Python interpreter that shares nothing but the store.

    Raises:
        AssertionError: the child failed, or reported a hitl-kit error.
    """
    result = collect(spawn_resume(ref, config, run_id), run_id)
    if isinstance(result, ResumeError):
        raise AssertionError(f"The fresh-process resume raised {result.error}: {result.message}")
    return result
