"""Bad input: a stored state the runner cannot trust gets a clear error, and stays as stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from agents import Agent

from hitl_core import (
    ApprovalRequest,
    ApprovalStore,
    AuditKind,
    CallRefused,
    Decision,
    InvalidRunState,
    ProposedAction,
    RequestStatus,
    RunRecord,
    RunStatus,
)
from hitl_openai_agents import (
    AgentGraphMismatch,
    ApprovalRunner,
    CallNotPending,
    Paused,
    RunStateUnreadable,
    ScriptedModel,
)
from tests.openai_agents.payments_app import POLICY, build, ledger_entries, payments_tools

REVIEWER = "ana@example.com"
SCRIPT = {
    "turns": [
        [{"id": "c1", "name": "send_payment", "args": {"amount": 4200, "recipient": "Acme"}}],
        "Paid.",
    ]
}


class PausedRun:
    """A run paused on call c1 (send_payment 4200), approved, with its stored record."""

    def __init__(self, store: ApprovalStore, ledger: Path) -> None:
        self.store = store
        self.ledger = ledger
        self.runner = build(store, ledger, SCRIPT)
        outcome = self.runner.start("Pay Acme 4200")
        assert isinstance(outcome, Paused)
        self.run_id = outcome.run_id
        [self.request] = outcome.requests

    def approve(self) -> None:
        self.store.decide(self.request.id, Decision.approve(by=REVIEWER))

    def rewrite_state(self, change: Callable[[str], str]) -> RunRecord:
        """Replace the stored state (as a bad actor or a bad disk would); the new record."""
        record = self.store.load_run(self.run_id)
        self.store.save_run(
            record.model_copy(update={"state": change(record.state)}),
            expected_version=record.version,
        )
        return self.store.load_run(self.run_id)

    def assert_untouched(self, stored: RunRecord, status: RequestStatus) -> None:
        """Nothing ran, the stored run is exactly as it was, the request is where it was."""
        assert self.store.load_run(self.run_id) == stored
        assert self.store.get(self.request.id).status is status
        assert ledger_entries(self.ledger) == []

    def assert_refused(self, stored: RunRecord, problem: str) -> None:
        """Nothing ran; the run is failed with its state kept; a refused event says why."""
        failed = self.store.load_run(self.run_id)
        assert (failed.status, failed.state) == (RunStatus.FAILED, stored.state)
        assert failed.error is not None
        assert problem in failed.error
        assert self.store.get(self.request.id).status is RequestStatus.DECIDED
        assert ledger_entries(self.ledger) == []
        assert self.store.calls(self.run_id) == {}
        kinds = [e.kind for e in self.store.audit(run_id=self.run_id)]
        assert kinds[-2:] == [AuditKind.REFUSED, AuditKind.FAILED]


@pytest.fixture
def run(sqlite_store: ApprovalStore, tmp_path: Path) -> PausedRun:
    return PausedRun(sqlite_store, tmp_path / "ledger.jsonl")


def test_a_state_saved_by_another_agent_graph_is_refused(run: PausedRun) -> None:
    run.approve()
    stored = run.store.load_run(run.run_id)
    other = Agent(name="other", model=ScriptedModel(["Hi."]), tools=payments_tools(run.ledger))
    runner = ApprovalRunner(other, policy=POLICY, store=run.store)
    with pytest.raises(AgentGraphMismatch, match="different agent graph") as raised:
        runner.resume(run.run_id)
    assert raised.value.missing == ["agent 'payments'"]
    run.assert_untouched(stored, RequestStatus.DECIDED)


def test_a_graph_without_the_pending_tool_is_refused(run: PausedRun) -> None:
    run.approve()
    stored = run.store.load_run(run.run_id)
    [_, get_balance] = payments_tools(run.ledger)
    same_name = Agent(name="payments", model=ScriptedModel(["Hi."]), tools=[get_balance])
    runner = ApprovalRunner(same_name, policy=POLICY, store=run.store)
    with pytest.raises(AgentGraphMismatch) as raised:
        runner.resume(run.run_id)
    assert raised.value.missing == ["tool 'send_payment' on agent 'payments'"]
    run.assert_untouched(stored, RequestStatus.DECIDED)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda s: s[: len(s) // 2], "may have been truncated"),
        (lambda s: "", "may have been truncated"),
        (lambda s: "[1, 2]", "not a JSON object"),
        (lambda s: '{"hello": "world"}', "the Agents SDK refused it"),
    ],
    ids=["truncated", "empty", "not-an-object", "not-a-run-state"],
)
def test_a_corrupt_or_truncated_state_is_refused(
    run: PausedRun, change: Callable[[str], str], problem: str
) -> None:
    run.approve()
    stored = run.rewrite_state(change)
    with pytest.raises(RunStateUnreadable, match=problem) as raised:
        run.runner.resume(run.run_id)
    assert isinstance(raised.value, InvalidRunState)
    assert raised.value.run_id == run.run_id
    run.assert_untouched(stored, RequestStatus.DECIDED)


def test_a_state_whose_pending_arguments_were_changed_is_refused(run: PausedRun) -> None:
    """Approved 4,200 to Acme; the stored call now says 42: nothing runs."""
    run.approve()
    stored = run.rewrite_state(lambda s: s.replace("4200", "42"))
    with pytest.raises(CallRefused, match="arguments") as raised:
        run.runner.resume(run.run_id)
    assert raised.value.call_id == "c1"
    run.assert_refused(stored, "arguments")


def test_a_state_waiting_on_a_call_nobody_reviewed_is_refused(run: PausedRun) -> None:
    """The approved call c1 is renamed c9 in the state: c1's approval applies to nothing."""
    run.approve()
    stored = run.rewrite_state(lambda s: s.replace('"c1"', '"c9"'))
    with pytest.raises(CallNotPending, match="not waiting on call 'c1'"):
        run.runner.resume(run.run_id)
    run.assert_untouched(stored, RequestStatus.DECIDED)


def test_a_decision_for_a_call_the_state_does_not_wait_on_is_refused(run: PausedRun) -> None:
    stored = run.store.load_run(run.run_id)
    with pytest.raises(CallNotPending, match="not waiting on call 'c9'") as raised:
        run.runner.decide(run.run_id, "c9", Decision.approve(by=REVIEWER))
    assert raised.value.pending == ["c1"]
    run.assert_untouched(stored, RequestStatus.PENDING)


def test_a_recorded_decision_for_a_call_outside_the_state_stops_the_resume(
    run: PausedRun,
) -> None:
    """A decided request the stored state knows nothing of (a rolled-back state, say)."""
    ghost = ApprovalRequest.create(
        run_id=run.run_id,
        adapter="hitl_openai_agents",
        action=ProposedAction(tool="send_payment", args={"amount": 9}, call_id="ghost"),
        reason="injected",
    )
    run.store.put(ghost)
    run.store.decide(ghost.id, Decision.approve(by=REVIEWER))
    run.approve()
    stored = run.store.load_run(run.run_id)
    with pytest.raises(CallNotPending, match="not waiting on call 'ghost'"):
        run.runner.resume(run.run_id)
    run.assert_untouched(stored, RequestStatus.DECIDED)


def test_a_run_paused_by_another_adapter_is_refused(run: PausedRun) -> None:
    record = run.store.load_run(run.run_id)
    foreign = record.model_copy(update={"run_id": "run-loop", "adapter": "hitl_loop"})
    run.store.save_run(foreign, expected_version=0)
    stored = run.store.load_run("run-loop")
    with pytest.raises(InvalidRunState, match="paused by hitl_loop"):
        run.runner.resume("run-loop")
    assert run.store.load_run("run-loop") == stored
    assert stored.status is RunStatus.PAUSED
