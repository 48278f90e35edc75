"""The payments agent on the OpenAI Agents SDK: an ``Agent`` run by `ApprovalRunner`.

The agent is built the usual way; the runner gates its tools with policy.toml (it calls
``ApprovalGate(policy).wrap(agent)``, which gives every function tool a policy-driven
``needs_approval``), keeps a paused run's ``RunState`` in the store and resumes it from
the store alone, so `start` and `resume` may run in different processes.
"""

from __future__ import annotations

from typing import Any

from agents import Agent, Model, RunConfig, function_tool

from examples.payments.common import (
    INSTRUCTIONS,
    POLICY,
    Ledger,
    Payment,
    Turn,
    payment_tool,
    real_model_wanted,
)
from hitl_core import ApprovalStore
from hitl_openai_agents import (
    ApprovalRunner,
    Completed,
    Outcome,
    ScriptedModel,
    call,
    tool_outputs,
)

__all__ = ["build_agent", "model_for", "resume", "start"]


def model_for(payment: Payment) -> Model | None:
    """The SDK's default OpenAI model (None) when OPENAI_API_KEY is set; else a script."""
    if real_model_wanted():
        return None
    return ScriptedModel([call("send_payment", payment.args), _quote_last_result])


def _quote_last_result(items: list[Any]) -> str:
    """The script's final answer: the last tool result, as the model read it."""
    return f"Done: {list(tool_outputs(items).values())[-1]}"


def build_agent(model: Model | None, *, store: ApprovalStore, ledger: Ledger) -> ApprovalRunner:
    """The agent: the model, the unchanged tool, the policy, the store."""
    agent = Agent(
        name="payments",
        instructions=INSTRUCTIONS,
        model=model,
        tools=[function_tool(payment_tool(ledger))],
    )
    return ApprovalRunner(
        agent, policy=POLICY, store=store, run_config=RunConfig(tracing_disabled=True)
    )


def start(model: Model | None, payment: Payment, *, store: ApprovalStore, ledger: Ledger) -> Turn:
    """Ask a new agent to make `payment`; it pays, or pauses with the pause saved."""
    outcome = build_agent(model, store=store, ledger=ledger).start(payment.prompt)
    return _turn(outcome)


def resume(model: Model | None, run_id: str, *, store: ApprovalStore, ledger: Ledger) -> Turn:
    """Continue a paused run in a new agent, with the decisions recorded in the store."""
    outcome = build_agent(model, store=store, ledger=ledger).resume(run_id)
    return _turn(outcome)


def _turn(outcome: Outcome) -> Turn:
    if isinstance(outcome, Completed):
        told = list(tool_outputs(outcome.result.to_input_list()).values())
        return Turn(outcome.run_id, answer=str(outcome.output), told=told)
    return Turn(outcome.run_id, pending=outcome.requests)
