"""The demo's payments case on LangGraph: a ``create_agent`` agent gated by the middleware.

Same policy, same decisions and same outcomes as the plain loop: the agent's tool is a
plain function, the gate is `HumanApprovalMiddleware`, and each paused run resumes in a
freshly built agent from the store and the checkpointer alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

from hitl_cli.demo import POLICY, Case, Row, review
from hitl_core import ApprovalStore

__all__ = ["ADAPTER_NAME", "run_case"]

ADAPTER_NAME = "LangGraph"
"""The name the demo table shows for this adapter."""


@contextmanager
def _checkpointer(store: ApprovalStore) -> Iterator[Any]:
    """Checkpoints beside a SQLite store (they outlive the agent), else in memory."""
    from hitl_langgraph import open_checkpointer

    url = "memory://"
    if store.url.startswith("sqlite:///"):
        path = Path(store.url.removeprefix("sqlite:///"))
        url = f"sqlite:///{path.with_name(path.stem + '-checkpoints' + path.suffix)}"
    with open_checkpointer(url) as saver:
        yield saver


def run_case(store: ApprovalStore, case: Case, ledger: list[dict[str, Any]]) -> Row:
    """Run one demo case on a LangGraph agent; the row the demo table prints."""
    from langchain.agents import create_agent
    from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

    from hitl_langgraph import (
        ApprovalRunner,
        Completed,
        HumanApprovalMiddleware,
        Paused,
        ScriptedChatModel,
        call,
    )

    def send_payment(amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        ledger.append({"amount": amount, "recipient": recipient})
        return f"PAID {amount:,.2f} to {recipient}"

    def final(messages: Sequence[BaseMessage]) -> str:
        return f"Done. {messages[-1].content}"

    with _checkpointer(store) as saver:

        def build() -> ApprovalRunner:
            model = ScriptedChatModel(
                [call("send_payment", {"amount": case.amount, "recipient": "Acme Corp"}), final]
            )
            agent = create_agent(
                model,
                [send_payment],
                middleware=[HumanApprovalMiddleware(POLICY, store)],
                checkpointer=saver,
            )
            return ApprovalRunner(agent, store=store)

        prompt = {"messages": [HumanMessage(f"Pay Acme Corp {case.amount:,.0f} for invoice 88.")]}
        thread_id = f"run_{uuid4().hex}"
        outcome = build().start(prompt, thread_id=thread_id)
        paused = decision = "-"
        if isinstance(outcome, Paused):
            [request] = outcome.requests
            paused, decision = review(store, case, request)
            outcome = build().resume(thread_id)  # a new agent: nothing kept in memory
        assert isinstance(outcome, Completed)
        messages = outcome.values["messages"]
    told = next(str(m.content) for m in reversed(messages) if isinstance(m, ToolMessage))
    return Row(
        ADAPTER_NAME,
        case.name,
        paused,
        decision,
        ", ".join(f"{e['amount']:,.0f} to {e['recipient']}" for e in ledger) or "nothing",
        told,
        outcome.output or "",
    )
