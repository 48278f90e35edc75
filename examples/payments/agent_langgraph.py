"""The payments agent on LangGraph: ``create_agent`` gated by `HumanApprovalMiddleware`.

The agent is built the usual way; the middleware gates its tool calls with policy.toml.
The checkpointer keeps the graph's state and the store keeps the pending approvals, so
`start` and `resume` may run in different processes (the thread id is the run id).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import uuid4

from langchain.agents import create_agent
from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

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
from hitl_langgraph import (
    ApprovalRunner,
    Completed,
    HumanApprovalMiddleware,
    Outcome,
    ScriptedChatModel,
    call,
    open_checkpointer,
)

__all__ = ["build_agent", "model_for", "resume", "start"]


def model_for(payment: Payment) -> BaseChatModel:
    """OpenAI's gpt-4o-mini when OPENAI_API_KEY is set; else a script making the same call.

    ``init_chat_model`` needs ``pip install langchain-openai`` for OpenAI models.
    """
    if real_model_wanted():
        return init_chat_model("gpt-4o-mini", model_provider="openai", temperature=0)
    return ScriptedChatModel([call("send_payment", payment.args), _quote_last_result])


def _quote_last_result(messages: Sequence[BaseMessage]) -> str:
    """The script's final answer: the last tool result, as the model read it."""
    return f"Done: {messages[-1].content}"


def build_agent(
    model: BaseChatModel, saver: BaseCheckpointSaver[Any], *, store: ApprovalStore, ledger: Ledger
) -> ApprovalRunner:
    """The agent: the model, the unchanged tool, the policy's middleware, the store."""
    agent = create_agent(
        model,
        [payment_tool(ledger)],
        system_prompt=INSTRUCTIONS,
        middleware=[HumanApprovalMiddleware(POLICY, store)],
        checkpointer=saver,
    )
    return ApprovalRunner(agent, store=store)


def start(
    model: BaseChatModel,
    payment: Payment,
    *,
    store: ApprovalStore,
    ledger: Ledger,
    checkpoints: str,
) -> Turn:
    """Ask a new agent to make `payment`; it pays, or pauses with the pause saved."""
    with open_checkpointer(checkpoints) as saver:
        runner = build_agent(model, saver, store=store, ledger=ledger)
        prompt = {"messages": [HumanMessage(payment.prompt)]}
        outcome = runner.start(prompt, thread_id=f"run_{uuid4().hex}")
    return _turn(outcome)


def resume(
    model: BaseChatModel, run_id: str, *, store: ApprovalStore, ledger: Ledger, checkpoints: str
) -> Turn:
    """Continue a paused run in a new agent, with the decisions recorded in the store."""
    with open_checkpointer(checkpoints) as saver:
        outcome = build_agent(model, saver, store=store, ledger=ledger).resume(run_id)
    return _turn(outcome)


def _turn(outcome: Outcome) -> Turn:
    if isinstance(outcome, Completed):
        messages = outcome.values["messages"]
        told = [str(m.content) for m in messages if isinstance(m, ToolMessage)]
        return Turn(outcome.run_id, answer=outcome.output, told=told)
    return Turn(outcome.run_id, pending=outcome.requests)
