"""``python -m examples.payments``: the same payments script on each framework, one policy.

Per framework, four runs against one store: 250 USD is paid with nobody asked; 4,200 USD
pauses, and a reviewer approves it, edits it to 900 USD, or rejects it with feedback.
Each pause is in the store before anyone decides; the reviewer decides through a store
handle of their own (another process, in real life); and a newly built agent, given
only the run id, resumes the run. Exits 1 when any outcome differs from the expected.

    python -m examples.payments [--framework langgraph|openai-agents|loop] [--store URL]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from examples.payments import agent_langgraph, agent_loop, agent_openai_agents
from examples.payments.common import POLICY, Ledger, Payment, Turn
from hitl_core import (
    AnyDecision,
    ApprovalStore,
    AuditEvent,
    AuditKind,
    Decision,
    RequestStatus,
    open_store,
)
from hitl_core.outcomes import rejection_text

REVIEWER = "ana@example.com"
REJECTION = "Invoice 88 was already paid by wire on May 2."
EDIT_NOTE = "Over this month's limit: pay 900 now, the rest in June."


@dataclass(frozen=True)
class Case:
    """One run of the script, the reviewer's answer, and what must come of it."""

    title: str
    payment: Payment
    decide: Callable[[], AnyDecision] | None
    paid: list[dict[str, Any]]
    """The ledger lines the run must add (without their references)."""
    told: str
    """Text the model must have read as the tool's result."""


ACME = "Acme Corp"
CASES = [
    Case(
        "250 USD: under the threshold, nobody is asked",
        Payment(ACME, 250.0),
        None,
        [{"recipient": ACME, "amount": 250.0, "currency": "USD"}],
        "Paid 250.00 USD to Acme Corp",
    ),
    Case(
        "4,200 USD: the reviewer approves",
        Payment(ACME, 4200.0),
        lambda: Decision.approve(by=REVIEWER),
        [{"recipient": ACME, "amount": 4200.0, "currency": "USD"}],
        "Paid 4,200.00 USD to Acme Corp",
    ),
    Case(
        "4,200 USD: the reviewer edits it to 900",
        Payment(ACME, 4200.0),
        lambda: Decision.edit(
            {"recipient": ACME, "amount": 900.0, "currency": "USD"}, by=REVIEWER, feedback=EDIT_NOTE
        ),
        [{"recipient": ACME, "amount": 900.0, "currency": "USD"}],
        'Executed instead: send_payment with arguments {"amount": 900.0, "currency": "USD", '
        '"recipient": "Acme Corp"}',
    ),
    Case(
        "4,200 USD: the reviewer rejects it",
        Payment(ACME, 4200.0),
        lambda: Decision.reject(REJECTION, by=REVIEWER),
        [],
        rejection_text("send_payment", REJECTION),
    ),
]


@dataclass(frozen=True)
class Framework:
    """One framework's agent, as two steps that each build a new agent.

    Both steps take the payment only because, offline, the model is a script of it; a
    real model needs nothing but the conversation the run kept.
    """

    label: str
    start: Callable[[Payment, ApprovalStore, Ledger], Turn]
    resume: Callable[[Payment, str, ApprovalStore, Ledger], Turn]


def frameworks(checkpoints: str) -> dict[str, Framework]:
    """The three agents; LangGraph also keeps its graph state at `checkpoints`."""
    lg, oa, loop = agent_langgraph, agent_openai_agents, agent_loop
    return {
        "langgraph": Framework(
            "LangGraph: create_agent + HumanApprovalMiddleware",
            lambda p, s, led: lg.start(
                lg.model_for(p), p, store=s, ledger=led, checkpoints=checkpoints
            ),
            lambda p, run, s, led: lg.resume(
                lg.model_for(p), run, store=s, ledger=led, checkpoints=checkpoints
            ),
        ),
        "openai-agents": Framework(
            "OpenAI Agents SDK: Agent + ApprovalRunner",
            lambda p, s, led: oa.start(oa.model_for(p), p, store=s, ledger=led),
            lambda p, run, s, led: oa.resume(oa.model_for(p), run, store=s, ledger=led),
        ),
        "loop": Framework(
            "Plain loop: hitl_loop.ToolLoop",
            lambda p, s, led: loop.start(loop.model_for(p), p, store=s, ledger=led),
            lambda p, run, s, led: loop.resume(loop.model_for(p), run, store=s, ledger=led),
        ),
    }


def show(label: str, text: str) -> None:
    """One transcript line; continuation lines are indented under the first."""
    lines = [line for line in text.splitlines() if line] or [""]
    print(f"   {label:<9} {lines[0]}")
    for line in lines[1:]:
        print(f"   {'':<9} {line}")


def run_case(
    number: int, case: Case, framework: Framework, store_url: str, ledger: Ledger
) -> list[str]:
    """Run one case as its three parties would; returns what differs from the expectation."""
    print(f"{number}. {case.title}")
    show("user", case.payment.prompt)
    before = len(ledger.entries())
    with closing(open_store(store_url)) as store:  # the agent's process: starts, then is gone
        turn = framework.start(case.payment, store, ledger)
    problems: list[str] = []
    if turn.paused:
        [request] = turn.pending
        show("paused", f"{request.action.tool} {json.dumps(request.action.args)}: {request.reason}")
        problems += review(store_url, request.id, case, paid_since_start=ledger.entries()[before:])
        with closing(open_store(store_url)) as store:  # any process: has only the run id
            turn = framework.resume(case.payment, turn.run_id, store, ledger)
        show("resumed", f"run {turn.run_id} in a newly built agent")
    elif case.decide is not None:
        problems.append("ran without pausing, but a human should have been asked")
    else:
        show("no pause", "the policy let it run; nobody was asked")
    return problems + report(turn, case, store_url, paid=ledger.entries()[before:])


def review(
    store_url: str, request_id: str, case: Case, *, paid_since_start: list[dict[str, Any]]
) -> list[str]:
    """The reviewer's part: find the saved request and decide it, through the store alone."""
    with closing(open_store(store_url)) as store:
        status = store.get(request_id).status
        show("saved", f"request {request_id[:12]}… is {status}; nothing paid yet")
        if status is not RequestStatus.PENDING or paid_since_start:
            return ["the pause was not saved before anything was paid"]
        if case.decide is None:
            return ["paused, but nobody should have been asked"]
        decided = store.decide(request_id, case.decide()).decision
        assert decided is not None  # decide() returns the request with its decision
        show("decided", f"{decided.kind} by {decided.by}, through the store")
    return []


def report(turn: Turn, case: Case, store_url: str, *, paid: list[dict[str, Any]]) -> list[str]:
    """Print what the run did and check it: payments, what the model read, the audit."""
    sent = [{k: v for k, v in e.items() if k != "ref"} for e in paid]
    show(
        "paid",
        ", ".join(f"{e['amount']:,.2f} {e['currency']} to {e['recipient']}" for e in sent)
        or "nothing",
    )
    show("told", turn.told[-1] if turn.told else "(nothing)")
    answer = (turn.answer or "(no answer)").splitlines()[0]
    show("agent", answer if len(answer) <= 90 else answer[:89] + "…")
    with closing(open_store(store_url)) as store:
        events = store.audit(run_id=turn.run_id)
    show("audit", ", ".join(_event(e) for e in events))
    executed = [e.args for e in events if e.kind is AuditKind.EXECUTED]
    problems = []
    if turn.paused:
        problems.append(f"still paused on {len(turn.pending)} request(s)")
    if sent != case.paid:
        problems.append(f"paid {sent}, expected {case.paid}")
    if not turn.told or case.told not in turn.told[-1]:
        problems.append(f"the model was not told {case.told!r}")
    if executed != case.paid:
        problems.append(f"the audit shows executions {executed}, expected {case.paid}")
    return problems


def _event(event: AuditEvent) -> str:
    if event.kind is AuditKind.DECIDED:
        return f"{event.kind} ({event.decision} by {event.actor})"
    return str(event.kind)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen frameworks' cases; 0 when every outcome is the expected one."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.payments", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--framework",
        choices=["langgraph", "openai-agents", "loop"],
        help="run only this framework",
    )
    parser.add_argument(
        "--store",
        help="a store that outlives a process (sqlite:///…, postgresql://…); "
        "default: SQLite in a temporary directory",
    )
    args = parser.parse_args(argv)
    if args.store and args.store.startswith("memory://"):
        parser.error(
            "--store memory:// does not outlive a process; use sqlite:/// or postgresql://"
        )

    with tempfile.TemporaryDirectory(prefix="hitl-payments-") as tmp:
        work = Path(tmp)
        store_url = args.store or f"sqlite:///{work / 'approvals.db'}"
        chosen = frameworks(f"sqlite:///{work / 'checkpoints.db'}")
        if args.framework:
            chosen = {args.framework: chosen[args.framework]}
        rule, hours = POLICY.rules["send_payment"], POLICY.expires_in
        expiry = f"{hours.total_seconds() / 3600:.0f}h" if hours else "never"
        print(
            f"Policy: examples/payments/policy.toml: send_payment when {rule.when} "
            f"({', '.join(rule.allowed)}; expires after {expiry})"
        )
        print(f"Store:  {store_url}\n")
        problems: list[str] = []
        for name, framework in chosen.items():
            print(f"== {framework.label} ==")
            ledger = Ledger(work / f"ledger-{name}.jsonl")
            for number, case in enumerate(CASES, 1):
                for problem in run_case(number, case, framework, store_url, ledger):
                    problems.append(f"{name}, {case.title}: {problem}")
            print()
    total = len(chosen) * len(CASES)
    if problems:
        print(f"{len(problems)} problem(s) in {total} runs:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print(f"All {total} runs went as expected.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
