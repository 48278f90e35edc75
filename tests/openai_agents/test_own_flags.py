"""A tool's own approval setting survives the gate: function tools, agents as tools, handoffs.

A policy may add a gate, never remove one: a tool marked ``needs_approval`` (a bool, or a
predicate, sync or async) pauses whatever the policy says, and pauses only the calls its
predicate names when the policy asks nothing more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agents import Agent, FunctionTool, RunConfig, RunContextWrapper, function_tool, handoff

from hitl_core import ApprovalStore, AuditKind, Decision, Policy, always, arg, never
from hitl_core.ask import ASK_HUMAN_TOOL
from hitl_core.outcomes import rejection_text
from hitl_core.stores import CallStatus
from hitl_openai_agents import ApprovalRunner, CannotGate, Completed, Paused, ScriptedModel, call
from tests.openai_agents.payments_app import ledger_entries, payments_tools
from tests.openai_agents.tools_app import TOLD, archive_tool, build, record, told

REVIEWER = "ana@example.com"


def archive(name: str, call_id: str) -> dict[str, Any]:
    return {"kind": "call", "id": call_id, "name": "archive", "args": {"name": name}}


def paused(outcome: Any) -> Paused:
    assert isinstance(outcome, Paused), outcome
    return outcome


def completed(outcome: Any) -> Completed:
    assert isinstance(outcome, Completed), outcome
    return outcome


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_function_tool_marked_needs_approval_pauses_under_an_empty_policy(
    tmp_path: Path, sqlite_store: ApprovalStore, decision: str
) -> None:
    """``function_tool(needs_approval=True)``: a person is asked; approve runs it once."""
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[archive("apollo", "a1")], TOLD], "tools": {"function": True}}
    runner = build(sqlite_store, ledger, spec)
    outcome = paused(runner.start("Archive apollo"))
    [request] = outcome.requests
    assert request.reason == "the tool archive requires approval (its own needs_approval)"
    assert request.allowed == ("approve", "edit", "reject", "respond")
    assert ledger_entries(ledger) == []
    if decision == "approve":
        sqlite_store.decide(request.id, Decision.approve(by=REVIEWER))
    else:
        sqlite_store.decide(request.id, Decision.reject(by=REVIEWER))
    done = completed(runner.resume(outcome.run_id))
    shown = told(done.result.to_input_list())["a1"]
    if decision == "approve":
        assert ledger_entries(ledger) == [{"tool": "archive", "args": {"name": "apollo"}}]
        assert shown == "archived apollo"
        assert sqlite_store.calls(outcome.run_id)["a1"].status is CallStatus.EXECUTED
    else:
        assert ledger_entries(ledger) == []
        assert shown == rejection_text("archive", None)
    kinds = [e.kind for e in sqlite_store.audit(run_id=outcome.run_id)]
    assert kinds.count(AuditKind.CREATED) == 1
    assert kinds.count(AuditKind.EXECUTED) == (decision == "approve")


def test_a_policy_that_exempts_a_flagged_function_tool_does_not_remove_its_gate(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {
        "turns": [[archive("apollo", "a1")], TOLD],
        "tools": {"function": True},
        "policy": {"rules": {"archive": "never"}, "default": "never"},
    }
    outcome = paused(build(sqlite_store, ledger, spec).start("Archive"))
    assert len(outcome.requests) == 1
    assert ledger_entries(ledger) == []


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_callable_needs_approval_pauses_only_the_calls_it_flags(
    tmp_path: Path, sqlite_store: ApprovalStore, asynchronous: bool
) -> None:
    """The predicate sees each call's arguments; with an empty policy only its yes waits."""
    ledger = tmp_path / "ledger.jsonl"
    asked: list[dict[str, Any]] = []

    def production(_: RunContextWrapper[Any], params: dict[str, Any], __: str) -> bool:
        asked.append(params)
        return str(params["name"]).startswith("prod")

    async def production_async(
        ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str
    ) -> bool:
        return production(ctx, params, call_id)

    tool = archive_tool(ledger, production_async if asynchronous else production)
    turns = [[archive("staging", "a1"), archive("prod-db", "a2")], TOLD]
    runner = build(sqlite_store, ledger, {"turns": turns}, tools=[tool])
    outcome = paused(runner.start("Archive both"))
    assert [r.action.call_id for r in outcome.requests] == ["a2"]
    assert ledger_entries(ledger) == [{"tool": "archive", "args": {"name": "staging"}}]
    assert {"name": "prod-db"} in asked
    sqlite_store.decide(outcome.requests[0].id, Decision.approve(by=REVIEWER))
    completed(runner.resume(outcome.run_id))
    assert [e["args"]["name"] for e in ledger_entries(ledger)] == ["staging", "prod-db"]


def test_an_agent_tools_own_needs_approval_pauses_the_delegation(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """``Agent.as_tool(needs_approval=True)``: the sub-agent runs only once someone approves."""
    ledger = tmp_path / "ledger.jsonl"

    @function_tool
    def close_books(period: str) -> str:
        """Close the books."""
        record(ledger, "close_books", {"period": period})
        return f"closed {period}"

    sub = Agent(
        name="treasury",
        model=ScriptedModel([[call("close_books", {"period": "Q3"}, id="t1")], "Closed."]),
        tools=[close_books],
    )
    delegate = sub.as_tool("treasury", "The treasury desk.", needs_approval=True)
    root = Agent(
        name="cfo",
        model=ScriptedModel([[call("treasury", {"input": "Close Q3"}, id="d1")], "Done."]),
        tools=[delegate],
    )
    runner = ApprovalRunner(
        root, policy=Policy(), store=sqlite_store, run_config=RunConfig(tracing_disabled=True)
    )
    outcome = paused(runner.start("Close the quarter"))
    [request] = outcome.requests
    assert (request.action.tool, request.action.call_id) == ("treasury", "d1")
    assert request.reason == "the tool treasury requires approval (its own needs_approval)"
    assert ledger_entries(ledger) == []
    sqlite_store.decide(request.id, Decision.approve(by=REVIEWER))
    done = completed(runner.resume(outcome.run_id))
    assert done.output == "Done."
    assert ledger_entries(ledger) == [{"tool": "close_books", "args": {"period": "Q3"}}]
    assert sqlite_store.calls(outcome.run_id)["d1"].output == "Closed."


def test_a_policy_gating_a_handoff_is_refused_because_the_sdk_cannot_pause_one(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """The SDK hands off as soon as the model asks: rather than drop the gate, refuse it."""
    desk = Agent(name="desk", tools=payments_tools(tmp_path / "ledger.jsonl"))
    for policy in (Policy({"transfer_to_desk": always()}), Policy.require_all()):
        root = Agent(name="triage", handoffs=[desk])
        with pytest.raises(CannotGate, match="transfer_to_desk") as caught:
            ApprovalRunner(root, policy=policy, store=sqlite_store)
        assert caught.value.tool == "transfer_to_desk"
        assert root.tools == []  # nothing was gated
    exempt = Policy({"transfer_to_desk": never()}, default="always")
    ApprovalRunner(Agent(name="triage", handoffs=[desk]), policy=exempt, store=sqlite_store)


def test_the_agents_behind_handoff_objects_are_gated_too(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """``handoff(desk)``: the desk's own tools pause under the policy once it takes over."""
    ledger = tmp_path / "ledger.jsonl"
    pay = call("send_payment", {"amount": 4200, "recipient": "Acme"}, id="p1")
    # The desk reads the whole conversation: turn 0 of its script is the triage's handoff.
    desk = Agent(
        name="desk",
        model=ScriptedModel(["(the triage's turn)", [pay], "Paid."]),
        tools=payments_tools(ledger),
    )
    root = Agent(
        name="triage",
        model=ScriptedModel([[call("transfer_to_desk", {}, id="h1")]]),
        handoffs=[handoff(desk)],
    )
    policy = Policy({"send_payment": arg("amount") > 1000})
    runner = ApprovalRunner(
        root, policy=policy, store=sqlite_store, run_config=RunConfig(tracing_disabled=True)
    )
    gated = [t for t in desk.tools if isinstance(t, FunctionTool)]
    assert ASK_HUMAN_TOOL in [t.name for t in gated]
    outcome = paused(runner.start("Pay Acme"))
    assert [r.action.call_id for r in outcome.requests] == ["p1"]
    assert ledger_entries(ledger) == []
    sqlite_store.decide(outcome.requests[0].id, Decision.approve(by=REVIEWER))
    assert completed(runner.resume(outcome.run_id)).output == "Paid."
    assert ledger_entries(ledger) == [
        {"tool": "send_payment", "args": {"amount": 4200.0, "recipient": "Acme"}}
    ]
