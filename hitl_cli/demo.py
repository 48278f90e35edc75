"""`hitl demo`: the payments scenario, run on every adapter side by side.

A payment of 50 runs without a human; 4,200 pauses. Three reviewers answer the three
paused runs (approve, edit to 4,000, reject), and each run resumes from the store in a
freshly built agent, as a different process would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from hitl_core import ApprovalRequest, ApprovalStore, Decision, Policy, Rule, arg, open_store
from hitl_core.decisions import AnyDecision, Edit

__all__ = ["CASES", "POLICY", "run_demo"]

REVIEWER = "ana@example.com"

POLICY = Policy(
    {
        "send_payment": Rule(
            when=arg("amount") > 1000, description="Payments over 1,000 need a human."
        )
    },
    expires_in=timedelta(hours=24),
)


@dataclass(frozen=True)
class Case:
    name: str
    amount: float
    decision: Callable[[], AnyDecision] | None


CASES = [
    Case("small payment", 50, None),
    Case("approve", 4200, lambda: Decision.approve(by=REVIEWER)),
    Case(
        "edit to 4,000",
        4200,
        lambda: Decision.edit(
            {"amount": 4000, "recipient": "Acme Corp"}, by=REVIEWER, feedback="cap at 4,000"
        ),
    ),
    Case("reject", 4200, lambda: Decision.reject("over budget this month", by=REVIEWER)),
]


@dataclass
class Row:
    adapter: str
    case: str
    paused: str
    decision: str
    executed: str
    told: str
    answer: str


def _plain_loop(store: ApprovalStore, case: Case, ledger: list[dict[str, Any]]) -> Row:
    from hitl_loop import Completed, Paused, ScriptedModel, ToolLoop, call
    from hitl_loop.messages import Message

    def send_payment(amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        ledger.append({"amount": amount, "recipient": recipient})
        return f"PAID {amount:,.2f} to {recipient}"

    def final(messages: Sequence[Message]) -> str:
        return f"Done. {messages[-1].content}"

    def build() -> ToolLoop:
        model = ScriptedModel(
            [call("send_payment", {"amount": case.amount, "recipient": "Acme Corp"}), final]
        )
        return ToolLoop(model, [send_payment], policy=POLICY, store=store)

    outcome = build().start(f"Pay Acme Corp {case.amount:,.0f} for invoice 88.")
    paused = decision = "-"
    if isinstance(outcome, Paused):
        [request] = outcome.requests
        paused, decision = review(store, case, request)
        outcome = build().resume(outcome.run_id)  # a new agent: nothing kept in memory
    assert isinstance(outcome, Completed)
    told = next(m.content or "" for m in reversed(outcome.messages) if m.role == "tool")
    return Row(
        "plain loop",
        case.name,
        paused,
        decision,
        ", ".join(f"{e['amount']:,.0f} to {e['recipient']}" for e in ledger) or "nothing",
        told,
        outcome.output,
    )


def _agents_sdk(store: ApprovalStore, case: Case, ledger: list[dict[str, Any]]) -> Row:
    from hitl_cli.demo_agents import run_case  # late: demo_agents imports this module

    return run_case(store, case, ledger)


def _langgraph(store: ApprovalStore, case: Case, ledger: list[dict[str, Any]]) -> Row:
    from hitl_cli.demo_langgraph import run_case  # late: demo_langgraph imports this module

    return run_case(store, case, ledger)


ADAPTERS: dict[str, Callable[[ApprovalStore, Case, list[dict[str, Any]]], Row]] = {
    "plain loop": _plain_loop,
    "LangGraph": _langgraph,
    "OpenAI Agents SDK": _agents_sdk,
}
"""Each adapter's runner for one case; adapters join the demo by adding theirs."""


def review(store: ApprovalStore, case: Case, request: ApprovalRequest) -> tuple[str, str]:
    """The reviewer's step of a case: decide the paused request; (paused, decision) texts."""
    assert case.decision is not None, f"case {case.name!r} paused but has no decision"
    recorded = store.decide(request.id, case.decision()).decision
    assert recorded is not None
    return f"yes, {request.id[:12]}…: {request.reason}", describe(recorded)


def describe(decision: AnyDecision) -> str:
    text = f"{decision.outcome} by {decision.by}"
    if isinstance(decision, Edit):
        text += f" -> {json.dumps(decision.args)}"
    if decision.feedback:
        text += f' ("{decision.feedback}")'
    return text


def run_demo(store_url: str, console: Console) -> None:
    """Run every case on every adapter against one store and print what happened."""
    if console.width < 140 and not console.is_terminal:
        console.width = 140
    store = open_store(store_url)
    console.rule("[bold]hitl-kit demo: payments over 1,000 need a human")
    console.print(
        f"Store: {store_url}   Policy: send_payment when {POLICY.rules['send_payment'].when}\n"
    )
    rows = [runner(store, case, []) for runner in ADAPTERS.values() for case in CASES]
    table = Table(show_lines=True)
    for column in (
        "adapter",
        "case",
        "paused?",
        "decision",
        "executed",
        "model was told",
    ):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r.adapter, r.case, r.paused, r.decision, r.executed, r.told)
    console.print(table)
    audit = Table(title="Audit trail", show_lines=False)
    for column in ("#", "event", "tool", "actor", "decision", "arguments", "edited to", "feedback"):
        audit.add_column(column, overflow="fold")
    for e in store.audit():
        audit.add_row(
            str(e.seq),
            e.kind.value,
            e.tool,
            e.actor or "",
            e.decision or "",
            json.dumps(e.args) if e.args is not None else "",
            json.dumps(e.edited_args) if e.edited_args is not None else "",
            e.feedback or "",
        )
    console.print(audit)
    pending = store.list_requests().items
    console.print(f"Pending requests left: {len(pending)}")
    store.close()
