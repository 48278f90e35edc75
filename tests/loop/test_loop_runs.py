"""The loop beyond the five behaviours: mixed turns, partial decisions, questions, plans, expiry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import model_validator

from hitl_core import (
    Decision,
    DecisionNotAllowed,
    ManualClock,
    Policy,
    RequestStatus,
    RunExists,
    RunNotPaused,
    UnknownRun,
    arg,
    never,
    open_store,
)
from hitl_loop import ActionPlan, Completed, Paused, PlannedAction
from tests.loop.payments_app import build, ledger_entries
from tests.loop.test_five_behaviours import Harness, pay


def test_ungated_calls_in_the_paused_turn_run_once(tmp_path: Path) -> None:
    h = Harness(tmp_path, [[pay(50, "small"), pay(4200, "large")], "Both done."], "fresh process")
    paused = h.loop.start("Pay twice")
    assert isinstance(paused, Paused)
    assert [e["args"]["amount"] for e in h.executed()] == [50.0]
    h.store.decide(paused.requests[0].id, Decision.approve(by="ana"))
    outcome = h.resume(paused.run_id)
    assert isinstance(outcome, Completed)
    assert [e["args"]["amount"] for e in h.executed()] == [50.0, 4200.0]
    assert [c for c, _, _ in h.told(paused.run_id)] == ["small", "large"]


def test_partial_decisions_resume_what_was_decided(tmp_path: Path) -> None:
    h = Harness(tmp_path, [[pay(2000, "a"), pay(3000, "b")], "Done."], "same process")
    paused = h.loop.start("Pay twice")
    assert isinstance(paused, Paused)
    first, second = paused.requests
    h.store.decide(second.id, Decision.approve(by="ana"))
    still = h.loop.resume(paused.run_id)
    assert isinstance(still, Paused)
    assert [r.id for r in still.requests] == [first.id]
    assert [e["args"]["amount"] for e in h.executed()] == [3000.0]
    h.store.decide(first.id, Decision.reject("no", by="ana"))
    done = h.loop.resume(paused.run_id)
    assert isinstance(done, Completed)
    assert [e["args"]["amount"] for e in h.executed()] == [3000.0]
    assert [(c, err) for c, _, err in h.told(paused.run_id)] == [("a", True), ("b", False)]


def test_resuming_with_nothing_decided_changes_nothing(tmp_path: Path) -> None:
    h = Harness(tmp_path, [[pay(4200)], "Paid."], "same process")
    paused = h.loop.start("Pay")
    assert isinstance(paused, Paused)
    again = h.loop.resume(paused.run_id)
    assert isinstance(again, Paused)
    assert again.requests == paused.requests
    assert h.executed() == []


def test_resume_errors_say_what_is_wrong(tmp_path: Path) -> None:
    h = Harness(tmp_path, [[pay(50)], "Paid."], "same process")
    with pytest.raises(UnknownRun, match="run_missing"):
        h.loop.resume("run_missing")
    done = h.loop.start("Pay", run_id="run_1")
    assert isinstance(done, Completed)
    with pytest.raises(RunNotPaused, match="completed"):
        h.loop.resume("run_1")
    with pytest.raises(RunExists):
        h.loop.start("Pay", run_id="run_1")
    assert len(h.executed()) == 1


def test_ask_human_takes_a_respond_decision(tmp_path: Path) -> None:
    question = {"id": "q1", "name": "ask_human", "args": {"question": "Which invoice?"}}
    h = Harness(tmp_path, [[question], "Thanks."], "same process")
    paused = h.loop.start("Pay the invoice")
    assert isinstance(paused, Paused)
    [request] = paused.requests
    assert request.allowed == ("respond", "reject")
    assert request.reason == "the agent asks: Which invoice?"
    with pytest.raises(DecisionNotAllowed):
        h.store.decide(request.id, Decision.approve(by="ana"))
    h.store.decide(request.id, Decision.respond("Invoice 88", by="ana"))
    assert isinstance(h.loop.resume(paused.run_id), Completed)
    assert h.told(paused.run_id) == [("q1", "Invoice 88", False)]
    assert h.executed() == []


class Transfer(PlannedAction):
    @model_validator(mode="after")
    def transfers_over_100_need_a_human(self) -> Transfer:
        if self.tool == "send_payment" and float(self.args.get("amount", 0)) > 100:
            self.requires_approval = True
            self.approval_note = f"transfer of {self.args['amount']} is over 100"
        return self


class TransferPlan(ActionPlan):
    actions: list[Transfer]  # type: ignore[assignment]


def test_a_plan_runs_through_the_same_gate(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'plan.db'}")
    ledger = tmp_path / "ledger.jsonl"
    loop = build(store, ledger, [], policy=Policy({}, default=never()))
    plan = TransferPlan.model_validate(
        {
            "actions": [
                {"tool": "get_balance", "args": {}},
                {
                    "tool": "send_payment",
                    "args": {"amount": 50, "recipient": "Alice"},
                    "requires_approval": False,
                },
                {
                    "tool": "send_payment",
                    "args": {"amount": 500, "recipient": "Alice"},
                    "requires_approval": False,
                },
            ]
        }
    )
    paused = loop.start_plan(plan)
    assert isinstance(paused, Paused)
    [request] = paused.requests
    assert request.reason == "transfer of 500 is over 100"
    assert [e["tool"] for e in ledger_entries(ledger)] == ["get_balance", "send_payment"]
    store.decide(request.id, Decision.approve(by="ana"))
    done = build(store, ledger, []).resume(paused.run_id)
    assert isinstance(done, Completed)
    assert done.output.splitlines() == [
        "get_balance: balance: 10000",
        "send_payment: paid 50.0 to Alice",
        "send_payment: paid 500.0 to Alice",
    ]


def test_expired_requests_take_their_outcome_on_resume(tmp_path: Path) -> None:
    clock = ManualClock()
    store = open_store(f"sqlite:///{tmp_path / 'exp.db'}", clock=clock)
    ledger = tmp_path / "ledger.jsonl"
    script: list[Any] = [[pay(4200)], "Too late."]
    policy = Policy({"send_payment": arg("amount") > 1000}, expires_in=timedelta(hours=24))
    paused = build(store, ledger, script, policy=policy).start("Pay")
    assert isinstance(paused, Paused)
    assert paused.requests[0].expires_at == clock.now() + timedelta(hours=24)
    clock.advance(timedelta(hours=25))
    done = build(store, ledger, script, policy=policy).resume(paused.run_id)
    assert isinstance(done, Completed)
    assert ledger_entries(ledger) == []
    request = store.get(paused.requests[0].id)
    assert request.status is RequestStatus.RESUMED
    assert request.decision is not None
    assert (request.decision.kind, request.decision.by) == ("reject", "hitl:expiry")
