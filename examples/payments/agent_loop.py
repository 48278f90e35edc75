"""The payments agent as a plain tool loop (`hitl_loop.ToolLoop`), gated by policy.toml.

No framework: the loop asks the model, checks each call against the policy, saves a
paused run in the store, and resumes it from the store alone. `start` and `resume` each
build a new agent, so they may run in different processes.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from hitl_loop import (
    ChatModel,
    Completed,
    LoopOutcome,
    Message,
    OpenAIChatModel,
    ScriptedModel,
    ToolLoop,
    call,
)

__all__ = ["build_agent", "model_for", "resume", "start"]


def model_for(payment: Payment) -> ChatModel:
    """OpenAI's gpt-4o-mini when OPENAI_API_KEY is set; else a script making the same call."""
    if real_model_wanted():
        return OpenAIChatModel("gpt-4o-mini", temperature=0)
    return ScriptedModel([call("send_payment", payment.args), _quote_last_result])


def _quote_last_result(messages: Sequence[Message]) -> str:
    """The script's final answer: the last tool result, as the model read it."""
    return f"Done: {messages[-1].content}"


def build_agent(model: ChatModel, *, store: ApprovalStore, ledger: Ledger) -> ToolLoop:
    """The agent: the model, the unchanged tool, the policy and the store."""
    return ToolLoop(model, [payment_tool(ledger)], policy=POLICY, store=store, system=INSTRUCTIONS)


def start(model: ChatModel, payment: Payment, *, store: ApprovalStore, ledger: Ledger) -> Turn:
    """Ask a new agent to make `payment`; it pays, or pauses with the pause saved."""
    outcome = build_agent(model, store=store, ledger=ledger).start(payment.prompt)
    return _turn(outcome)


def resume(model: ChatModel, run_id: str, *, store: ApprovalStore, ledger: Ledger) -> Turn:
    """Continue a paused run in a new agent, with the decisions recorded in the store."""
    outcome = build_agent(model, store=store, ledger=ledger).resume(run_id)
    return _turn(outcome)


def _turn(outcome: LoopOutcome) -> Turn:
    if isinstance(outcome, Completed):
        told = [m.content or "" for m in outcome.messages if m.role == "tool"]
        return Turn(outcome.run_id, answer=outcome.output, told=told)
    return Turn(outcome.run_id, pending=outcome.requests)
