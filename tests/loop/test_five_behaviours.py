"""The five behaviours of an approval gate on the plain loop, resumed here or in a new process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hitl_core import ApprovalStore, AuditKind, Decision, RequestStatus, RunStatus, open_store
from hitl_loop import Completed, LoopOutcome, LoopState, Paused
from tests.loop.payments_app import build, ledger_entries

ROOT = Path(__file__).parents[2]


def pay(amount: float, call_id: str = "call_pay") -> dict[str, Any]:
    return {
        "id": call_id,
        "name": "send_payment",
        "args": {"amount": amount, "recipient": "Acme Corp"},
    }


class Harness:
    """One run of the payments agent on a SQLite file, resumable in-process or in a child."""

    def __init__(self, tmp_path: Path, script: list[Any], where: str) -> None:
        self.url = f"sqlite:///{tmp_path / 'hitl.db'}"
        self.ledger = tmp_path / "ledger.jsonl"
        self.script = script
        self.where = where
        self.store: ApprovalStore = open_store(self.url)
        self.loop = build(self.store, self.ledger, script)

    def resume(self, run_id: str) -> LoopOutcome:
        if self.where == "same process":
            return self.loop.resume(run_id)
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.loop.payments_app",
                self.url,
                str(self.ledger),
                json.dumps(self.script),
                run_id,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        data = json.loads(child.stdout)
        return (
            Paused.model_validate(data)
            if data["status"] == "paused"
            else Completed.model_validate(data)
        )

    def executed(self) -> list[dict[str, Any]]:
        return ledger_entries(self.ledger)

    def told(self, run_id: str) -> list[tuple[str | None, str | None, bool]]:
        """What the model was told after each call: (call id, content, is_error)."""
        state = LoopState.model_validate_json(self.store.load_run(run_id).state)
        return [(m.tool_call_id, m.content, m.is_error) for m in state.messages if m.role == "tool"]


WHERE = ["same process", "fresh process"]


def test_a_small_call_executes_without_a_pause(tmp_path: Path) -> None:
    h = Harness(tmp_path, [[pay(50)], "Paid."], "same process")
    outcome = h.loop.start("Pay Acme 50")
    assert isinstance(outcome, Completed)
    assert outcome.output == "Paid."
    assert h.executed() == [
        {"tool": "send_payment", "args": {"amount": 50.0, "recipient": "Acme Corp"}}
    ]
    assert h.store.list_requests(status=None).items == []
    assert [e.kind for e in h.store.audit()] == [AuditKind.STARTED, AuditKind.EXECUTED]


def test_a_large_call_pauses_and_runs_nothing(tmp_path: Path) -> None:
    h = Harness(tmp_path, [[pay(4200)], "Paid."], "same process")
    outcome = h.loop.start("Pay Acme 4200")
    assert isinstance(outcome, Paused)
    [request] = outcome.requests
    assert request.reason == "amount 4200 > 1000"
    assert request.action.args == {"amount": 4200, "recipient": "Acme Corp"}
    assert request.status is RequestStatus.PENDING
    assert h.executed() == []
    assert h.store.load_run(outcome.run_id).status is RunStatus.PAUSED
    assert [e.kind for e in h.store.audit()] == [AuditKind.CREATED]


@pytest.mark.parametrize("where", WHERE)
def test_approve_executes_exactly_the_proposed_arguments(tmp_path: Path, where: str) -> None:
    h = Harness(tmp_path, [[pay(4200)], "Paid."], where)
    paused = h.loop.start("Pay Acme 4200")
    assert isinstance(paused, Paused)
    h.store.decide(paused.requests[0].id, Decision.approve(by="ana"))
    outcome = h.resume(paused.run_id)
    assert isinstance(outcome, Completed)
    assert h.executed() == [
        {"tool": "send_payment", "args": {"amount": 4200.0, "recipient": "Acme Corp"}}
    ]
    assert h.told(paused.run_id) == [("call_pay", "paid 4200.0 to Acme Corp", False)]
    assert h.store.get(paused.requests[0].id).status is RequestStatus.RESUMED
    assert [e.kind for e in h.store.audit()] == [
        AuditKind.CREATED,
        AuditKind.DECIDED,
        AuditKind.STARTED,
        AuditKind.EXECUTED,
        AuditKind.RESUMED,
    ]


@pytest.mark.parametrize("where", WHERE)
def test_edit_executes_the_corrected_arguments_and_tells_the_model(
    tmp_path: Path, where: str
) -> None:
    h = Harness(tmp_path, [[pay(4200)], "Paid."], where)
    paused = h.loop.start("Pay Acme 4200")
    assert isinstance(paused, Paused)
    h.store.decide(
        paused.requests[0].id,
        Decision.edit({"amount": 4000, "recipient": "Acme Corp"}, by="ana", feedback="cap at 4000"),
    )
    outcome = h.resume(paused.run_id)
    assert isinstance(outcome, Completed)
    assert h.executed() == [
        {"tool": "send_payment", "args": {"amount": 4000.0, "recipient": "Acme Corp"}}
    ]
    [(_, content, is_error)] = h.told(paused.run_id)
    assert content == (
        "Note: a human reviewer edited this call before it ran. Executed instead: send_payment "
        'with arguments {"amount": 4000, "recipient": "Acme Corp"}.\n'
        "Reviewer feedback: cap at 4000\n\nTool response:\npaid 4000.0 to Acme Corp"
    )
    assert not is_error
    executed = [e for e in h.store.audit() if e.kind is AuditKind.EXECUTED]
    assert [e.args for e in executed] == [{"amount": 4000, "recipient": "Acme Corp"}]


@pytest.mark.parametrize("where", WHERE)
def test_reject_executes_nothing_and_the_model_gets_the_feedback(
    tmp_path: Path, where: str
) -> None:
    h = Harness(tmp_path, [[pay(4200)], "Understood, not paid."], where)
    paused = h.loop.start("Pay Acme 4200")
    assert isinstance(paused, Paused)
    h.store.decide(paused.requests[0].id, Decision.reject("over budget", by="ana"))
    outcome = h.resume(paused.run_id)
    assert isinstance(outcome, Completed)
    assert outcome.output == "Understood, not paid."
    assert h.executed() == []
    assert h.told(paused.run_id) == [
        (
            "call_pay",
            "A human reviewer rejected the call to `send_payment`; it was not executed. "
            "Reviewer feedback: over budget",
            True,
        )
    ]
    assert AuditKind.EXECUTED not in [e.kind for e in h.store.audit()]
