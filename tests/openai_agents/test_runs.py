"""Moves 2-4 on the real Runner: what each decision does, partial resumes, sub-agents, streams."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from agents import RunItemStreamEvent

from hitl_core import (
    ApprovalRequest,
    ApprovalStore,
    AuditKind,
    Decision,
    EditArgumentsInvalid,
    RequestStatus,
    RunExists,
    RunNotPaused,
    RunStatus,
    StoreUnavailable,
    UnknownRun,
)
from hitl_core.outcomes import RunTool, rejection_text, tool_result
from hitl_core.stores import Lease, RunRecord
from hitl_core.stores.sqlite import SqliteStore
from hitl_openai_agents import (
    AgentsEvent,
    ApprovalRunner,
    Completed,
    Paused,
    SyncCallInEventLoop,
    TurnLimitReached,
)
from tests.openai_agents.payments_app import build, ledger_entries

REVIEWER = "ana@example.com"


def pay(amount: float, call_id: str, recipient: str = "Acme") -> dict[str, Any]:
    return {
        "id": call_id,
        "name": "send_payment",
        "args": {"amount": amount, "recipient": recipient},
    }


BALANCE = {"id": "b1", "name": "get_balance", "args": {}}


def told(items: list[Any]) -> str:
    """A final answer that quotes every tool result the model was shown, in order."""
    return " | ".join(i["output"] for i in items if i.get("type") == "function_call_output")


def paused(outcome: Any) -> Paused:
    assert isinstance(outcome, Paused), outcome
    return outcome


def completed(outcome: Any) -> Completed:
    assert isinstance(outcome, Completed), outcome
    return outcome


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return tmp_path / "ledger.jsonl"


def runner_for(store: ApprovalStore, ledger: Path, *turns: Any, **script: Any) -> ApprovalRunner:
    return build(store, ledger, {"turns": list(turns), **script})


def test_approve_runs_the_reviewed_call_once(sqlite_store: ApprovalStore, ledger: Path) -> None:
    runner = runner_for(sqlite_store, ledger, [pay(4200, "c1")], told)
    [request] = paused(runner.start("Pay")).requests
    sqlite_store.decide(request.id, Decision.approve(by=REVIEWER))
    done = completed(runner.resume(request.run_id))
    assert done.output == "paid 4200.00 to Acme"
    assert [e["args"]["amount"] for e in ledger_entries(ledger)] == [4200.0]
    assert sqlite_store.get(request.id).status is RequestStatus.RESUMED
    kinds = [e.kind for e in sqlite_store.audit(request_id=request.id)]
    assert kinds == [
        AuditKind.CREATED,
        AuditKind.DECIDED,
        AuditKind.STARTED,
        AuditKind.EXECUTED,
        AuditKind.RESUMED,
    ]
    assert sqlite_store.load_run(request.run_id).status is RunStatus.COMPLETED
    with pytest.raises(RunNotPaused):
        runner.resume(request.run_id)


def test_edit_runs_the_corrected_arguments_and_says_so(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    """A true edit: the SDK approves the call, the gated tool runs the reviewer's arguments."""
    runner = runner_for(sqlite_store, ledger, [pay(4200, "c1")], told)
    [request] = paused(runner.start("Pay")).requests
    edited = {"amount": 4000, "recipient": "Acme"}
    sqlite_store.decide(request.id, Decision.edit(edited, by=REVIEWER, feedback="cap it"))
    done = completed(runner.resume(request.run_id))
    assert ledger_entries(ledger) == [
        {"tool": "send_payment", "args": {**edited, "amount": 4000.0}}
    ]
    notice = tool_result(RunTool(edited, True, "cap it", "send_payment"), "paid 4000.00 to Acme")
    assert done.output == notice
    [execution] = sqlite_store.calls(request.run_id).values()
    assert (execution.args, execution.request_id) == (edited, request.id)


def test_respond_answers_without_running_the_tool(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    runner = runner_for(sqlite_store, ledger, [pay(4200, "c1")], told)
    [request] = paused(runner.start("Pay")).requests
    sqlite_store.decide(request.id, Decision.respond("Paid by hand on Monday.", by=REVIEWER))
    assert completed(runner.resume(request.run_id)).output == "Paid by hand on Monday."
    assert ledger_entries(ledger) == []
    assert sqlite_store.calls(request.run_id) == {}


def test_reject_runs_nothing_and_the_model_reads_the_core_text(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    runner = runner_for(sqlite_store, ledger, [pay(4200, "c1")], told)
    [request] = paused(runner.start("Pay")).requests
    sqlite_store.decide(request.id, Decision.reject("over budget", by=REVIEWER))
    done = completed(runner.resume(request.run_id))
    assert done.output == rejection_text("send_payment", "over budget")
    assert ledger_entries(ledger) == []


def test_parallel_calls_are_decided_and_resumed_separately(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    turn = [BALANCE, pay(50, "small"), pay(2000, "p1"), pay(3000, "p2")]
    runner = runner_for(sqlite_store, ledger, turn, told)
    first = paused(runner.start("Pay both"))
    assert [r.action.call_id for r in first.requests] == ["p1", "p2"]
    assert [e["tool"] for e in ledger_entries(ledger)] == ["get_balance", "send_payment"]
    p1, p2 = first.requests
    sqlite_store.decide(p2.id, Decision.approve(by=REVIEWER))
    again = paused(runner.resume(first.run_id))
    assert [r.id for r in again.requests] == [p1.id]
    assert [e["args"].get("amount") for e in ledger_entries(ledger)] == [None, 50.0, 3000.0]
    assert sqlite_store.get(p2.id).status is RequestStatus.RESUMED
    sqlite_store.decide(p1.id, Decision.reject(None, by=REVIEWER))
    done = completed(runner.resume(first.run_id))
    # The SDK hands results back in the order they settled: p2 ran a resume before p1's.
    assert done.output.split(" | ") == [
        "balance: 10000.00",
        "paid 50.00 to Acme",
        "paid 3000.00 to Acme",
        rejection_text("send_payment", None),
    ]
    assert len(ledger_entries(ledger)) == 3


def test_resuming_before_anyone_decides_changes_nothing(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    runner = runner_for(sqlite_store, ledger, [pay(4200, "c1")], "Paid.")
    first = paused(runner.start("Pay"))
    before = sqlite_store.load_run(first.run_id)
    again = paused(runner.resume(first.run_id))
    assert [r.id for r in again.requests] == [r.id for r in first.requests]
    assert sqlite_store.load_run(first.run_id) == before


def test_a_sub_agents_gated_call_pauses_the_root_run(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    """Agent-as-tool: the sub-agent's request is filed under the root run id."""
    delegate = {"id": "a1", "name": "treasury", "args": {"input": "Pay Acme 4200"}}
    runner = runner_for(
        sqlite_store,
        ledger,
        [delegate],
        told,
        agents={"treasury": [[pay(4200, "t1")], "Treasury paid."]},
    )
    outcome = paused(runner.start("Delegate the payment"))
    [request] = outcome.requests
    assert (request.run_id, request.action.call_id) == (outcome.run_id, "t1")
    sqlite_store.decide(request.id, Decision.approve(by=REVIEWER))
    done = completed(runner.resume(outcome.run_id))
    assert done.output == "Treasury paid."
    assert [e["args"]["amount"] for e in ledger_entries(ledger)] == [4200.0]
    executed = sqlite_store.calls(outcome.run_id)
    assert set(executed) == {"t1", "a1"}
    assert executed["a1"].output == "Treasury paid."


def test_a_streamed_run_surfaces_its_pause_once_drained(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    runner = runner_for(sqlite_store, ledger, [BALANCE, pay(4200, "c1")], "Done.")

    async def drain(events: Any) -> list[AgentsEvent]:
        return [e async for e in events]

    *sdk_events, last = asyncio.run(drain(runner.astream("Pay")))
    outcome = paused(last)
    assert _settled(sdk_events) == ["b1"]
    [request] = outcome.requests
    sqlite_store.decide(request.id, Decision.approve(by=REVIEWER))
    *sdk_events, last = asyncio.run(drain(runner.astream_resume(outcome.run_id)))
    assert completed(last).output == "Done."
    assert _settled(sdk_events) == ["c1"]


def _settled(events: list[AgentsEvent]) -> list[str]:
    """The call ids of the tool results a stream surfaced, in order."""
    outputs: list[Any] = [
        e.item.raw_item
        for e in events
        if isinstance(e, RunItemStreamEvent) and e.name == "tool_output"
    ]
    return [str(o["call_id"]) for o in outputs]


class CrashOnSave(SqliteStore):
    """A SQLite store whose next `save_run` fails: the disk goes away after tools ran and
    before the save (a transient failure: the run stays resumable)."""

    crash = False

    def save_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
        lease: Lease | None = None,
        release: bool = False,
    ) -> RunRecord:
        if self.crash:
            self.crash = False
            raise StoreUnavailable("the disk went away")
        return super().save_run(
            run,
            requests,
            resumed=resumed,
            expected_version=expected_version,
            lease=lease,
            release=release,
        )


def test_a_resume_that_crashed_after_running_does_not_run_again(
    tmp_path: Path, ledger: Path
) -> None:
    store = CrashOnSave(f"sqlite:///{tmp_path / 'crash.db'}")
    runner = runner_for(store, ledger, [BALANCE, pay(4200, "c1")], told)
    [request] = paused(runner.start("Pay")).requests
    store.decide(request.id, Decision.approve(by=REVIEWER))
    store.crash = True
    with pytest.raises(StoreUnavailable):
        runner.resume(request.run_id)
    assert store.get(request.id).status is RequestStatus.DECIDED
    done = completed(runner.resume(request.run_id))
    assert [e["tool"] for e in ledger_entries(ledger)] == ["get_balance", "send_payment"]
    assert done.output == "balance: 10000.00 | paid 4200.00 to Acme"
    store.close()


def test_run_ids_are_not_reused(sqlite_store: ApprovalStore, ledger: Path) -> None:
    runner = runner_for(sqlite_store, ledger, "Hello.")
    completed(runner.start("Hi", run_id="run-1"))
    with pytest.raises(RunExists):
        runner.start("Hi", run_id="run-1")
    with pytest.raises(UnknownRun):
        runner.resume("run-unknown")


def test_a_model_that_never_answers_fails_the_run(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    turns = [[{**BALANCE, "id": f"b{i}"}] for i in range(5)]
    runner = build(sqlite_store, ledger, {"turns": turns}, max_turns=2)
    with pytest.raises(TurnLimitReached):
        runner.start("Loop", run_id="run-loop")
    assert sqlite_store.load_run("run-loop").status is RunStatus.FAILED


def test_blocking_calls_refuse_to_run_inside_an_event_loop(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    runner = runner_for(sqlite_store, ledger, "Hello.")

    async def misuse() -> None:
        runner.start("Hi")

    with pytest.raises(SyncCallInEventLoop, match="await astart"):
        asyncio.run(misuse())
    assert completed(asyncio.run(runner.astart("Hi"))).output == "Hello."


def test_decide_by_call_id_records_on_the_calls_request(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    runner = runner_for(sqlite_store, ledger, [pay(4200, "c1")], told)
    outcome = paused(runner.start("Pay"))
    decided = runner.decide(outcome.run_id, "c1", Decision.approve(by=REVIEWER))
    assert decided.id == outcome.requests[0].id
    assert decided.status is RequestStatus.DECIDED
    assert completed(runner.resume(outcome.run_id)).output == "paid 4200.00 to Acme"


def test_a_decision_inside_a_sub_agent_holds_until_its_turn_is_decided(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    """Partial decisions inside a sub-agent: the SDK runs the sub-agent's turn once all of
    its calls are decided, and the earlier decision (an edit here) still applies then."""
    delegate = {"id": "a1", "name": "treasury", "args": {"input": "Pay both"}}
    runner = runner_for(
        sqlite_store,
        ledger,
        [delegate],
        told,
        agents={"treasury": [[pay(2000, "t1"), pay(3000, "t2")], "Treasury paid both."]},
    )
    t1, t2 = paused(runner.start("Delegate")).requests
    edited = {"amount": 2500, "recipient": "Acme"}
    sqlite_store.decide(t2.id, Decision.edit(edited, by=REVIEWER))
    again = paused(runner.resume(t1.run_id))
    assert [r.id for r in again.requests] == [t1.id]
    assert ledger_entries(ledger) == []
    sqlite_store.decide(t1.id, Decision.approve(by=REVIEWER))
    assert completed(runner.resume(t1.run_id)).output == "Treasury paid both."
    assert [e["args"]["amount"] for e in ledger_entries(ledger)] == [2000.0, 2500.0]
    executed = sqlite_store.calls(t1.run_id)
    assert (executed["t2"].args, executed["t2"].request_id) == (edited, t2.id)
    assert set(executed) == {"t1", "t2", "a1"}


def test_an_edit_the_tools_schema_refuses_is_not_recorded(
    sqlite_store: ApprovalStore, ledger: Path
) -> None:
    """Requests carry the SDK tool's JSON Schema, so the store refuses unrunnable edits."""
    runner = runner_for(sqlite_store, ledger, [pay(4200, "c1")], told)
    [request] = paused(runner.start("Pay")).requests
    with pytest.raises(EditArgumentsInvalid, match="amount"):
        sqlite_store.decide(
            request.id, Decision.edit({"amount": "lots", "recipient": "Acme"}, by=REVIEWER)
        )
    assert sqlite_store.get(request.id).status is RequestStatus.PENDING
