"""One scenario run through one adapter, with everything the suite observes about it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

from pydantic import BaseModel

from hitl_conformance.driver import (
    AdapterDriver,
    DriverConfig,
    RunOutcome,
    load_factory,
    resume_in_fresh_process,
)
from hitl_conformance.journal import Journal
from hitl_conformance.scenario import Scenario, ScriptedCall
from hitl_core import ApprovalRequest, AuditEvent
from hitl_core.decisions import DecisionInput

__all__ = ["Harness", "Trace", "ask", "balance", "delete", "email", "pay"]


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
        self, factory: str, directory: Path, scenario: Scenario, store_url: str | None = None
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.factory = factory
        self.config = DriverConfig(
            store_url=store_url or f"sqlite:///{directory / 'hitl.db'}",
            journal=directory / "journal",
            scenario=scenario,
        )
        self.driver: AdapterDriver = load_factory(factory)(self.config)
        self.store = self.driver.store
        self.journal = Journal(self.config.journal)
        self.run_id = f"run-{uuid4().hex[:12]}"

    def start(self) -> RunOutcome:
        return self.driver.start(self.run_id)

    def resume(self, *, fresh: bool = False) -> RunOutcome:
        """Resume here, or in a new Python process that shares only the store."""
        if fresh:
            return resume_in_fresh_process(self.factory, self.config, self.run_id)
        return self.driver.resume(self.run_id)

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
