"""One scenario run through one adapter, with everything the suite observes about it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

from pydantic import BaseModel

from hitl_conformance.driver import (
    AdapterDriver,
    DriverConfig,
    ResumeError,
    RunOutcome,
    collect,
    load_factory,
    resume_in_fresh_process,
    spawn_resume,
)
from hitl_conformance.journal import Journal
from hitl_conformance.scenario import Scenario, ScriptedCall
from hitl_conformance.tamper import rewrite_request
from hitl_core import ApprovalRequest, AuditEvent, Policy
from hitl_core.decisions import DecisionInput

__all__ = [
    "Harness",
    "Trace",
    "ask",
    "balance",
    "delete",
    "email",
    "export",
    "pay",
    "transfer",
    "unknown",
]

READY_TIMEOUT = 120.0
"""Seconds children may take to import their framework before a simultaneous resume."""


def pay(call_id: str, amount: float, recipient: str = "Acme Corp") -> ScriptedCall:
    return ScriptedCall(
        id=call_id, tool="send_payment", args={"amount": amount, "recipient": recipient}
    )


def delete(call_id: str, count: int, table: str = "orders") -> ScriptedCall:
    return ScriptedCall(id=call_id, tool="delete_rows", args={"table": table, "count": count})


def email(call_id: str, to: str, subject: str = "Invoice") -> ScriptedCall:
    return ScriptedCall(id=call_id, tool="send_email", args={"to": to, "subject": subject})


def balance(call_id: str) -> ScriptedCall:
    return ScriptedCall(id=call_id, tool="get_balance", args={})


def ask(call_id: str, question: str) -> ScriptedCall:
    return ScriptedCall(id=call_id, tool="ask_human", args={"question": question})


def transfer(call_id: str, amount: float, account: str = "savings") -> ScriptedCall:
    """A call to the tool whose author requires approval (`AUTHOR_GATED`)."""
    return ScriptedCall(
        id=call_id, tool="transfer_funds", args={"amount": amount, "account": account}
    )


def export(call_id: str, name: str = "q3") -> ScriptedCall:
    """A call to the tool that fails after its side effect."""
    return ScriptedCall(id=call_id, tool="export_report", args={"name": name})


def unknown(call_id: str) -> ScriptedCall:
    """A call to a tool no adapter offers."""
    return ScriptedCall(id=call_id, tool="launch_rockets", args={"count": 3})


class Trace(BaseModel):
    """Everything observable about a run, normalized so adapters can be compared."""

    executed: list[tuple[str, dict[str, Any]]]
    told: dict[str, str]
    requests: list[tuple[str, str, dict[str, Any], str]]
    """(call id, tool, arguments, status) of every request, in creation order."""
    audit: list[
        tuple[str, str, str | None, dict[str, Any] | None, dict[str, Any] | None, str | None]
    ]
    """(event, tool, decision, arguments, edited arguments, feedback), in order."""
    status: str


class Harness:
    """Builds the driver for a scenario and watches the run from outside."""

    def __init__(
        self,
        factory: str,
        directory: Path,
        scenario: Scenario,
        store_url: str | None = None,
        *,
        lease_seconds: float = 60.0,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.factory = factory
        self.config = DriverConfig(
            store_url=store_url or f"sqlite:///{directory / 'hitl.db'}",
            journal=directory / "journal",
            scenario=scenario,
            lease_seconds=lease_seconds,
        )
        self.driver: AdapterDriver = load_factory(factory)(self.config)
        self.store = self.driver.store
        self.journal = Journal(self.config.journal)
        self.run_id = f"run-{uuid4().hex[:12]}"

    def start(self) -> RunOutcome:
        return self.driver.start(self.run_id)

    def resume(self, *, fresh: bool = False, policy: Policy | None = None) -> RunOutcome:
        """Resume here, or in a new Python process that shares only the store (and, with
        `policy`, runs under that policy instead of the scenario's)."""
        if fresh:
            return resume_in_fresh_process(self.factory, self._config(policy), self.run_id)
        return self.driver.resume(self.run_id)

    def _config(self, policy: Policy | None) -> DriverConfig:
        if policy is None:
            return self.config
        scenario = self.config.scenario.model_copy(update={"policy": policy.to_data()})
        return self.config.model_copy(update={"scenario": scenario})

    def spawn(self, *, go: Path | None = None) -> subprocess.Popen[str]:
        """Start a resume in a new process and return at once (`finish` it later).

        With `go`, the child builds its driver, then waits for that file before resuming
        (`ready` tells when it is built).
        """
        return spawn_resume(self.factory, self.config, self.run_id, go=go)

    def ready(self, go: Path, count: int = 1) -> bool:
        """Whether `count` children spawned with `go` have built their drivers."""
        return len(list(go.parent.glob(f"{go.name}.ready.*"))) >= count

    def finish(self, child: subprocess.Popen[str]) -> RunOutcome | ResumeError:
        """Wait for a resume started by `spawn`: its outcome, or the error it raised."""
        return collect(child, self.run_id)

    def resume_together(self, count: int) -> list[RunOutcome | ResumeError]:
        """`count` new processes resume the run at the same instant (each built first)."""
        go = self.directory / f"go-{uuid4().hex[:8]}"
        children = [
            spawn_resume(self.factory, self.config, self.run_id, go=go) for _ in range(count)
        ]
        deadline = time.monotonic() + READY_TIMEOUT
        while len(list(self.directory.glob(f"{go.name}.ready.*"))) < count:
            if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                break
            time.sleep(0.01)
        go.touch()
        return [collect(child, self.run_id) for child in children]

    def resume_killed(self) -> int:
        """Resume in a new process that is expected to die; its exit code (-9 for SIGKILL)."""
        child = self.spawn()
        try:
            child.communicate(timeout=READY_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise AssertionError("the resume that should have crashed hung instead") from None
        return child.returncode

    def rewrite_request(self, request: ApprovalRequest, **action: Any) -> None:
        """Change a stored request's action behind the store's back (see `tamper`)."""
        rewrite_request(self.config.store_url, request, **action)

    def request(self, request_id: str) -> ApprovalRequest:
        return self.store.get(request_id)

    def pending(self) -> list[ApprovalRequest]:
        return self.store.list_requests(run_id=self.run_id).items

    def requests(self) -> list[ApprovalRequest]:
        return self.store.list_requests(run_id=self.run_id, status=None).items

    def decide(self, request_id: str, decision: DecisionInput) -> ApprovalRequest:
        return self.store.decide(request_id, decision)

    def request_for(self, call_id: str) -> ApprovalRequest:
        matches = [r for r in self.requests() if r.action.call_id == call_id]
        assert len(matches) == 1, f"expected one request for call {call_id}, found {len(matches)}"
        return matches[0]

    def executed(self) -> list[tuple[str, dict[str, Any]]]:
        return [(e.tool, e.args) for e in self.journal.executions()]

    def told(self) -> dict[str, str]:
        return self.journal.told()

    def audit(self) -> list[AuditEvent]:
        return self.store.audit(run_id=self.run_id)

    def trace(self) -> Trace:
        return Trace(
            executed=self.executed(),
            told=self.told(),
            requests=[
                (r.action.call_id, r.action.tool, dict(r.action.args), r.status.value)
                for r in self.requests()
            ],
            audit=[
                (e.kind.value, e.tool, e.decision, e.args, e.edited_args, e.feedback)
                for e in self.audit()
            ],
            status=self.store.load_run(self.run_id).status.value,
        )

    def close(self) -> None:
        self.driver.close()
