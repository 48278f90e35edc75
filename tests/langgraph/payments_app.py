"""The graphs the LangGraph tests drive, importable by a fresh Python process.

``python -m tests.langgraph.payments_app KIND STORE_URL CHECKPOINTS_URL THREAD [LEDGER]``
rebuilds the graph (``graph``: the seed payment graph through its codec; ``agent``: a
``create_agent`` payments agent), resumes the thread and prints the outcome as JSON on
its last line. Tools write to a JSON-lines ledger, so any process sees what executed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import BaseMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from hitl_core import ApprovalRequest, Edit, Policy, ProposedAction, arg, open_store
from hitl_core.decisions import AnyDecision
from hitl_core.stores.awaitable import AnyStore
from hitl_langgraph import (
    ApprovalRunner,
    Codec,
    Completed,
    HumanApprovalMiddleware,
    Outcome,
    ScriptedChatModel,
    call,
    open_checkpointer,
)
from tests.langgraph import payment_graph

POLICY = Policy({"send_payment": arg("amount") > 1000})

PAYMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"amount": {"type": "number"}, "recipient": {"type": "string"}},
    "required": ["amount", "recipient"],
    "additionalProperties": False,
}


def _action(value: Any, interrupt_id: str) -> ProposedAction:
    return ProposedAction(
        tool="send_payment",
        args={"amount": value["amount"], "recipient": value["recipient"]},
        call_id=interrupt_id,
        args_schema=PAYMENT_SCHEMA,
    )


def _resume(decision: AnyDecision, request: ApprovalRequest) -> dict[str, Any]:
    if isinstance(decision, Edit):
        return {"action": "edit", **decision.args}
    return {"action": decision.kind}


PAYMENT_CODEC = Codec(action=_action, resume=_resume, allowed=("approve", "edit", "reject"))
"""The seed graph's vocabulary: its interrupt value, and ``decision["action"]`` back."""


def graph_runner(
    store: AnyStore, saver: BaseCheckpointSaver[Any], *, policy: Policy | None = None
) -> ApprovalRunner:
    """The seed payment graph, unchanged, driven through its codec."""
    return ApprovalRunner(
        payment_graph.build(saver),  # type: ignore[no-untyped-call]
        store=store,
        codec=PAYMENT_CODEC,
        policy=policy,
    )


def _final(messages: Sequence[BaseMessage]) -> str:
    told = next(m for m in reversed(messages) if isinstance(m, ToolMessage))
    return f"Done. {told.content}"


def payments_agent(
    store: AnyStore, saver: BaseCheckpointSaver[Any], ledger: Path, amount: float = 4200
) -> tuple[Any, ScriptedChatModel]:
    """A ``create_agent`` agent that pays Acme `amount`, gated by the middleware."""

    def send_payment(amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        with ledger.open("a") as f:
            f.write(json.dumps({"amount": amount, "recipient": recipient}) + "\n")
        return f"paid {amount:.2f} to {recipient}"

    model = ScriptedChatModel(
        [call("send_payment", {"amount": amount, "recipient": "Acme Corp"}, id="pay1"), _final]
    )
    agent = create_agent(
        model,
        [send_payment],
        middleware=[HumanApprovalMiddleware(POLICY, store)],
        checkpointer=saver,
    )
    return agent, model


def ledger_entries(ledger: Path) -> list[dict[str, Any]]:
    if not ledger.exists():
        return []
    return [json.loads(line) for line in ledger.read_text().splitlines()]


def outcome_json(outcome: Outcome) -> str:
    if isinstance(outcome, Completed):
        values = outcome.values if isinstance(outcome.values, dict) else {}
        plain = {k: v for k, v in values.items() if k != "messages"}
        return json.dumps({"status": "completed", "output": outcome.output, "values": plain})
    return json.dumps({"status": "paused", "pending": [r.id for r in outcome.requests]})


def main(argv: Sequence[str]) -> None:
    kind, store_url, checkpoints_url, thread_id, *rest = argv
    store = open_store(store_url)
    try:
        with open_checkpointer(checkpoints_url) as saver:
            if kind == "graph":
                runner = graph_runner(store, saver)
            else:
                agent, _ = payments_agent(store, saver, Path(rest[0]))
                runner = ApprovalRunner(agent, store=store)
            outcome = runner.resume(thread_id)
    finally:
        store.close()
    print(outcome_json(outcome))


if __name__ == "__main__":
    main(sys.argv[1:])
