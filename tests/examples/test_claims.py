"""The claims example: each scenario's outcome, read back from the store, audit and ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from examples.claims import scenarios
from examples.claims.__main__ import main
from examples.claims.agent import Claim, load_policy, scripted_model
from examples.claims.ledger import ClaimsLedger, Payment
from examples.claims.processes import ClaimProcess
from examples.claims.review import ADJUSTER, SENIOR_ADJUSTER, review
from examples.claims.scenarios import (
    CRASHING,
    LARGE,
    RISKY,
    SMALL,
    Office,
    large_claim,
    risky_claim_expires,
    small_claim,
)
from hitl_core import (
    AuditKind,
    ManualClock,
    NotAuthorized,
    Reject,
    RequestStatus,
    RunStatus,
    open_store,
)
from hitl_loop import LoopState, Message, Paused
from tests.examples.running import run_example

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scripted model everywhere, child processes included, even with a key set."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    opened = Office.open(tmp_path / "office", clock=ManualClock(START), model=scripted_model())
    yield opened
    opened.store.close()


def tool_messages(office: Office, run_id: str) -> list[Message]:
    """What the model was told, from the stored snapshot (not from any process's memory)."""
    state = LoopState.load(run_id, office.store.load_run(run_id).state)
    return [m for m in state.messages if m.role == "tool"]


def test_small_low_risk_claim_is_paid_with_no_request(office: Office) -> None:
    result = small_claim(office, lambda _: None)

    assert result.problems == []
    assert office.store.list_requests(run_id=SMALL.run_id, status=None).items == []
    assert office.ledger.payments() == [Payment("C-1001", 1200.0, "pay_claim")]
    (execution,) = office.store.calls(SMALL.run_id).values()
    assert (execution.tool, execution.args) == (
        "pay_claim",
        {"claim_id": "C-1001", "amount": 1200.0},
    )
    assert execution.request_id is None
    assert [e.kind for e in office.store.audit(run_id=SMALL.run_id)] == [
        AuditKind.STARTED,
        AuditKind.EXECUTED,
    ]
    assert office.store.load_run(SMALL.run_id).status is RunStatus.COMPLETED


def test_large_claim_pauses_with_nothing_paid(office: Office) -> None:
    outcome = office.agent.start(LARGE.prompt, run_id=LARGE.run_id, context=LARGE.context)

    assert isinstance(outcome, Paused)
    (request,) = outcome.requests
    assert request.action.tool == "pay_claim"
    assert request.action.args == {"claim_id": "C-1002", "amount": 12500.0}
    assert request.reason == "amount 12500.0 > 5000"
    assert request.context == {"claim_id": "C-1002", "risk_score": 0.2}
    assert request.expires_at == START + timedelta(hours=24)
    assert request.allowed == ("approve", "edit", "reject")
    assert office.ledger.payments() == []
    assert office.store.calls(LARGE.run_id) == {}


def test_large_claim_approved_by_an_adjuster_is_paid_once(office: Office) -> None:
    result = large_claim(office, lambda _: None)

    assert result.problems == []
    (request_id,) = result.requests
    request = office.store.get(request_id)
    assert request.status is RequestStatus.RESUMED
    assert request.decision is not None
    assert (request.decision.kind, request.decision.by) == ("approve", "ana")
    assert office.ledger.payments() == [Payment("C-1002", 12500.0, "pay_claim")]
    (execution,) = office.store.calls(LARGE.run_id).values()
    assert execution.args == {"claim_id": "C-1002", "amount": 12500.0}
    assert execution.request_id == request_id
    kinds = [e.kind for e in office.store.audit(run_id=LARGE.run_id)]
    assert kinds == ["created", "decided", "started", "executed", "resumed"]
    assert [m.content for m in tool_messages(office, LARGE.run_id)] == [
        "Paid 12,500.00 on claim C-1002."
    ]


def test_risky_claim_expires_after_24h_and_escalates_to_a_senior(office: Office) -> None:
    result = risky_claim_expires(office, lambda _: None)

    assert result.problems == []
    first_id, escalation_id = result.requests
    policy = load_policy()
    assert isinstance(policy.on_expiry, Reject)
    feedback = policy.on_expiry.feedback
    assert feedback is not None
    assert "escalated to a senior adjuster" in feedback

    first = office.store.get(first_id)
    assert first.action.tool == "pay_claim"
    assert first.reason == "context.risk_score 0.82 >= 0.7"
    assert first.status is RequestStatus.RESUMED
    assert first.decision is not None
    assert (first.decision.kind, first.decision.by) == ("reject", "hitl:expiry")
    assert first.decision.feedback == feedback
    (expired,) = [e for e in office.store.audit(request_id=first_id) if e.kind == "expired"]
    assert (expired.actor, expired.at) == ("hitl:expiry", START + timedelta(hours=24))

    escalation = office.store.get(escalation_id)
    assert escalation.action.tool == "escalate_claim"
    assert escalation.action.args == {
        "claim_id": "C-1003",
        "amount": 2400.0,
        "reason": "no adjuster decision within 24h",
    }
    assert escalation.decision is not None
    assert (escalation.decision.kind, escalation.decision.by) == ("approve", "sam")
    assert escalation.created_at == START + timedelta(hours=24)
    assert escalation.expires_at == START + timedelta(hours=24 + 72)

    told = tool_messages(office, RISKY.run_id)
    assert told[0].is_error
    assert told[0].content is not None
    assert feedback in told[0].content
    assert told[1].content == "A senior adjuster released claim C-1003; paid 2,400.00."
    executions = office.store.calls(RISKY.run_id).values()
    assert [(e.tool, e.request_id) for e in executions] == [("escalate_claim", escalation_id)]
    assert office.ledger.payments() == [Payment("C-1003", 2400.0, "escalate_claim")]
    assert office.store.load_run(RISKY.run_id).status is RunStatus.COMPLETED


def test_nothing_expires_a_minute_before_the_deadline(office: Office) -> None:
    outcome = office.agent.start(RISKY.prompt, run_id=RISKY.run_id, context=RISKY.context)
    assert isinstance(outcome, Paused)
    clock = office.store.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(hours=23, minutes=59))

    done = office.worker().run_once()

    assert (done.expired, done.resumed) == (0, [])
    assert office.store.get(outcome.requests[0].id).status is RequestStatus.PENDING


def test_only_a_senior_adjuster_may_decide_an_escalation(office: Office) -> None:
    outcome = office.agent.start(RISKY.prompt, run_id=RISKY.run_id, context=RISKY.context)
    assert isinstance(outcome, Paused)
    clock = office.store.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(hours=24))
    office.worker().run_once()
    (escalation,) = office.store.list_requests(run_id=RISKY.run_id).items

    with pytest.raises(NotAuthorized):
        review(office.store, office.policy, ADJUSTER, escalation.id, approve=True)

    assert office.store.get(escalation.id).status is RequestStatus.PENDING
    assert [e.kind for e in office.store.audit(request_id=escalation.id)] == ["created"]
    assert office.ledger.payments() == []
    review(office.store, office.policy, SENIOR_ADJUSTER, escalation.id, approve=False)
    office.worker().run_once()
    assert office.ledger.payments() == []
    assert office.store.load_run(RISKY.run_id).status is RunStatus.COMPLETED


def test_a_process_killed_while_waiting_is_replaced_without_a_second_request(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'approvals.db'}"
    store, ledger = open_store(url), ClaimsLedger(tmp_path / "ledger.db")
    first = ClaimProcess(url, ledger.path, CRASHING)
    submitted = first.next_event()
    assert (submitted["status"], submitted["picked_up"]) == ("paused", False)
    (request_id,) = submitted["requests"]

    assert first.kill() == -9
    assert store.load_run(CRASHING.run_id).status is RunStatus.PAUSED
    assert store.get(request_id).status is RequestStatus.PENDING

    second = ClaimProcess(url, ledger.path, CRASHING)
    picked = second.next_event()
    assert (picked["picked_up"], picked["requests"]) == (True, [request_id])
    assert [r.id for r in store.list_requests(run_id=CRASHING.run_id, status=None).items] == [
        request_id
    ]
    assert ledger.payments() == []

    review(store, load_policy(), ADJUSTER, request_id, approve=True)
    assert second.next_event()["status"] == "completed"
    assert second.next_event()["output"] == "Claim C-1004 settled. Paid 8,800.00 on claim C-1004."
    assert second.wait() == 0

    assert ledger.payments() == [Payment("C-1004", 8800.0, "pay_claim")]
    (execution,) = store.calls(CRASHING.run_id).values()
    assert (execution.args, execution.request_id) == (
        {"claim_id": "C-1004", "amount": 8800.0},
        request_id,
    )
    kinds = [e.kind for e in store.audit(run_id=CRASHING.run_id)]
    assert kinds == ["created", "decided", "started", "executed", "resumed"]
    store.close()


def test_main_exits_non_zero_when_an_outcome_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    big = Claim(claim_id="C-1001", amount=9000.0, risk_score=0.1, description="not small at all")
    monkeypatch.setattr(scenarios, "SMALL", big)

    assert main(["--workdir", str(tmp_path)]) == 1

    out = capsys.readouterr().out
    assert "FAILED small claim paid automatically" in out
    assert "expected the run to complete, got paused" in out


def test_python_m_examples_claims_runs_offline(tmp_path: Path) -> None:
    done = run_example("examples.claims", "--workdir", str(tmp_path))

    assert done.returncode == 0, done.stdout + done.stderr
    for line in (
        "PAUSED pay_claim: amount 12500.0 > 5000",
        "ana (adjuster) approves",
        "24 hours pass with no decision",
        "reject by hitl:expiry",
        "ESCALATED escalate_claim(claim_id='C-1003', amount=2400.0",
        "ana (adjuster) tries to approve: refused",
        "sam (senior_adjuster) approves",
        "killed with SIGKILL (exit code -9)",
        "picked up run claim-C-1004 (picked_up=True)",
        "All outcomes as expected.",
    ):
        assert line in done.stdout
    office = ClaimsLedger(tmp_path / "office" / "ledger.db").payments()
    assert [(p.claim_id, p.tool) for p in office] == [
        ("C-1001", "pay_claim"),
        ("C-1002", "pay_claim"),
        ("C-1003", "escalate_claim"),
    ]
    assert ClaimsLedger(tmp_path / "crash" / "ledger.db").payments() == [
        Payment("C-1004", 8800.0, "pay_claim")
    ]
