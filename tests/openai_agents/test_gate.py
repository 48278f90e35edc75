"""Move 1 on the Agents SDK: the core policy decides, whatever the SDK's argument coercion does."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from agents import Agent, FunctionTool, RunConfig, RunContextWrapper, Runner, function_tool
from openai.types.responses import ResponseFunctionToolCall

from hitl_core import ApprovalStore, Policy, always, arg, ctx
from hitl_core.ask import ASK_HUMAN_TOOL
from hitl_openai_agents import (
    ApprovalGate,
    ApprovalRunner,
    Completed,
    Paused,
    ScriptedModel,
    call,
)
from tests.openai_agents.payments_app import build, ledger_entries, payments_tools


def pay(amount: float, call_id: str = "c1") -> dict[str, Any]:
    return {"id": call_id, "name": "send_payment", "args": {"amount": amount, "recipient": "Acme"}}


def script(*turns: Any) -> dict[str, Any]:
    return {"turns": list(turns)}


def test_an_integer_below_a_float_threshold_runs_without_a_pause(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """`amount: float` called with the integer 50: the policy exempts it, so it just runs."""
    ledger = tmp_path / "ledger.jsonl"
    runner = build(sqlite_store, ledger, script([pay(50)], "Paid."))
    outcome = runner.start("Pay Acme 50")
    assert isinstance(outcome, Completed)
    assert outcome.output == "Paid."
    assert ledger_entries(ledger) == [
        {"tool": "send_payment", "args": {"amount": 50.0, "recipient": "Acme"}}
    ]
    assert sqlite_store.list_requests(status=None).items == []
    [execution] = sqlite_store.calls(outcome.run_id).values()
    assert execution.args == {"amount": 50, "recipient": "Acme"}
    assert execution.request_id is None


def test_the_raw_sdk_asks_about_the_same_coerced_call() -> None:
    """Why the adapter has its own invoker: with the decorator's, the SDK skips the predicate.

    If this starts failing, the SDK now consults callable ``needs_approval`` predicates on
    coerced arguments, and the adapter's workaround is no longer needed (but still harmless).
    """
    asked: list[dict[str, Any]] = []

    async def over_1000(_: RunContextWrapper[Any], params: dict[str, Any], __: str) -> bool:
        asked.append(params)
        return bool(params["amount"] > 1000)

    def send_payment(amount: float, recipient: str) -> str:
        """Send money."""
        return "paid"

    raw = function_tool(send_payment, needs_approval=over_1000)
    model = ScriptedModel([[call("send_payment", {"amount": 50, "recipient": "Acme"}, id="c1")]])
    agent = Agent(name="raw", model=model, tools=[raw])
    result = asyncio.run(Runner.run(agent, "Pay", run_config=RunConfig(tracing_disabled=True)))
    assert [i.call_id for i in result.interruptions] == ["c1"]
    assert asked == []


def test_a_call_over_the_threshold_pauses_with_the_reason(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    outcome = build(sqlite_store, ledger, script([pay(4200)], "Paid.")).start("Pay")
    assert isinstance(outcome, Paused)
    [request] = outcome.requests
    assert request.action.args == {"amount": 4200, "recipient": "Acme"}
    assert request.reason == "amount 4200 > 1000"
    assert request.adapter == "hitl_openai_agents"
    assert request.action.args_schema is not None
    assert request.action.args_schema["properties"]["amount"]["type"] == "number"
    assert ledger_entries(ledger) == []


def test_the_policy_reads_the_runs_context(tmp_path: Path, sqlite_store: ApprovalStore) -> None:
    """Predicates see the SDK run context given at start, in the root agent and sub-agents."""
    policy = Policy({"send_payment": ctx("tier") == "trial"})
    ledger = tmp_path / "ledger.jsonl"
    runner = build(sqlite_store, ledger, script([pay(10)], "Paid."), policy)
    trial = runner.start("Pay", context={"tier": "trial"})
    assert isinstance(trial, Paused)
    assert trial.requests[0].context == {"tier": "trial"}
    paid = runner.start("Pay", context={"tier": "gold"})
    assert isinstance(paid, Completed)


def test_an_agent_tool_call_goes_through_the_gate_too(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """Delegating to a sub-agent is itself a call the policy can gate."""
    data = {
        "turns": [[{"id": "a1", "name": "treasury", "args": {"input": "Pay Acme 10"}}], "Done."],
        "agents": {"treasury": [[pay(10, "t1")], "Treasury done."]},
    }
    runner = build(sqlite_store, tmp_path / "ledger.jsonl", data, Policy({"treasury": always()}))
    outcome = runner.start("Delegate")
    assert isinstance(outcome, Paused)
    assert [r.action.tool for r in outcome.requests] == ["treasury"]
    assert ledger_entries(tmp_path / "ledger.jsonl") == []


def test_wrap_gates_the_whole_graph_in_place_once(tmp_path: Path) -> None:
    """Sub-agents behind ``as_tool`` and handoff targets are gated; wrapping twice is a no-op."""
    ledger = tmp_path / "ledger.jsonl"
    sub = Agent(name="sub", tools=payments_tools(ledger))
    desk = Agent(name="desk", tools=payments_tools(ledger))
    root = Agent(name="root", tools=[sub.as_tool("sub", "A sub-agent.")], handoffs=[desk])
    gate = ApprovalGate(Policy({"send_payment": arg("amount") > 1000}))
    assert gate.wrap(root) is root
    for agent in (root, sub, desk):
        tools = [t for t in agent.tools if isinstance(t, FunctionTool)]
        assert len(tools) == len(agent.tools)
        assert [t.name for t in tools].count(ASK_HUMAN_TOOL) == 1
        assert all(callable(t.needs_approval) or t.name == ASK_HUMAN_TOOL for t in tools)
    before = list(sub.tools)
    gate.wrap(root)
    assert sub.tools == before


def test_a_second_gate_replaces_the_first(tmp_path: Path) -> None:
    """Re-gating with another policy wraps the original tools, not the first gate's copies."""
    agent = Agent(name="payer", tools=payments_tools(tmp_path / "ledger.jsonl"))
    ApprovalGate(Policy.require_all()).wrap(agent)
    second = ApprovalGate(Policy.allow_all(), ask_human=False).wrap(agent)
    gated = {t.name: t for t in second.tools if isinstance(t, FunctionTool)}
    assert ASK_HUMAN_TOOL in gated  # the first gate's ask_human stays, now gated by the second
    needs = gated["send_payment"].needs_approval
    assert callable(needs)

    async def ask() -> bool:
        assert callable(needs)
        return await needs(RunContextWrapper(context=None), {"amount": 5000}, "c1")

    assert asyncio.run(ask()) is False


def test_ask_human_pauses_and_the_answer_is_the_result(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    question = {"id": "q1", "name": ASK_HUMAN_TOOL, "args": {"question": "Which invoice?"}}
    runner = build(sqlite_store, tmp_path / "ledger.jsonl", script([question], _quote))
    paused = runner.start("Pay the invoice")
    assert isinstance(paused, Paused)
    [request] = paused.requests
    assert request.reason == "the agent asks: Which invoice?"
    assert set(request.allowed) == {"respond", "reject"}
    sqlite_store.decide(request.id, {"type": "respond", "answer": "Invoice 88", "by": "ana"})
    done = runner.resume(paused.run_id)
    assert isinstance(done, Completed)
    assert done.output == "Told: Invoice 88"


def _quote(items: list[Any]) -> str:
    outputs = [i["output"] for i in items if i.get("type") == "function_call_output"]
    return f"Told: {outputs[-1]}"


def test_a_gated_agent_runs_outside_a_runner_with_sdk_approvals(tmp_path: Path) -> None:
    """``Runner.run`` on a gated agent still gates; approving in the SDK runs the call."""
    ledger = tmp_path / "ledger.jsonl"
    model = ScriptedModel([[call("send_payment", {"amount": 4200, "recipient": "A"})], "Ok."])
    agent = ApprovalGate(Policy({"send_payment": arg("amount") > 1000})).wrap(
        Agent(name="plain", model=model, tools=payments_tools(ledger))
    )
    config = RunConfig(tracing_disabled=True)
    paused = asyncio.run(Runner.run(agent, "Pay", run_config=config))
    [item] = paused.interruptions
    state = paused.to_state()
    state.approve(item)
    done = asyncio.run(Runner.run(agent, state, run_config=config))
    assert done.final_output == "Ok."
    assert [json.dumps(e["args"]) for e in ledger_entries(ledger)] == [
        json.dumps({"amount": 4200.0, "recipient": "A"})
    ]


def test_a_call_with_unreadable_arguments_goes_back_to_the_model(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """The SDK asks about calls it cannot parse; nothing can run, so no human is asked."""
    garbled = ResponseFunctionToolCall(
        id="fc_x1", call_id="x1", type="function_call", name="send_payment", arguments="[1, 2]"
    )
    ledger = tmp_path / "ledger.jsonl"
    model = ScriptedModel([[garbled], _quote])
    agent = Agent(name="payments", model=model, tools=payments_tools(ledger))
    runner = ApprovalRunner(
        agent,
        policy=Policy({"send_payment": arg("amount") > 1000}),
        store=sqlite_store,
        run_config=RunConfig(tracing_disabled=True),
    )
    outcome = runner.start("Pay")
    assert isinstance(outcome, Completed)
    assert outcome.output.startswith("Told: An error occurred while running the tool")
    assert sqlite_store.list_requests(status=None).items == []
    assert sqlite_store.calls(outcome.run_id) == {}
    assert ledger_entries(ledger) == []
