"""The four claims scenarios. Each prints a transcript and notes any outcome it did not expect.

Scenarios 1-3 share one claims office on a `ManualClock`, so "24 hours later" is a call,
not a wait. Scenario 4 uses real processes sharing a SQLite file, and so the real clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from examples.claims.agent import Claim, build_agent, load_policy
from examples.claims.ledger import ClaimsLedger
from examples.claims.processes import ClaimProcess
from examples.claims.review import ADJUSTER, SENIOR_ADJUSTER, review
from hitl_core import (
    ApprovalRequest,
    ApprovalStore,
    Clock,
    ManualClock,
    NotAuthorized,
    Policy,
    RequestStatus,
    open_store,
)
from hitl_core.worker import Worker
from hitl_loop import ADAPTER, ChatModel, LoopOutcome, LoopState, Paused, ToolLoop
from hitl_loop.state import LoopEvent, ModelTurn, ToolSettled

__all__ = [
    "CRASHING",
    "LARGE",
    "RISKY",
    "SMALL",
    "Office",
    "Result",
    "crash_recovery",
    "large_claim",
    "risky_claim_expires",
    "small_claim",
]

Say = Callable[[str], None]

SMALL = Claim(
    claim_id="C-1001", amount=1200.0, risk_score=0.12, description="windscreen cracked by hail"
)
LARGE = Claim(
    claim_id="C-1002", amount=12500.0, risk_score=0.2, description="kitchen flooded by a pipe"
)
RISKY = Claim(
    claim_id="C-1003", amount=2400.0, risk_score=0.82, description="third stolen phone this year"
)
CRASHING = Claim(
    claim_id="C-1004", amount=8800.0, risk_score=0.35, description="roof torn off in a storm"
)


@dataclass
class Office:
    """One claims office: the approval store, the paid-out ledger and the agent."""

    store: ApprovalStore
    ledger: ClaimsLedger
    agent: ToolLoop
    policy: Policy

    @classmethod
    def open(
        cls, folder: Path, *, clock: Clock | None = None, model: ChatModel | None = None
    ) -> Office:
        store = open_store(f"sqlite:///{folder / 'approvals.db'}", clock=clock)
        ledger = ClaimsLedger(folder / "ledger.db")
        return cls(store, ledger, build_agent(store, ledger, model=model), load_policy())

    def worker(self) -> Worker:
        """A worker that expires overdue requests and resumes answered runs."""
        model = self.agent.model
        registry = {ADAPTER: lambda store: build_agent(store, self.ledger, model=model).resume}
        return Worker(self.store, registry, worker_id="claims-worker")

    def output(self, run_id: str) -> str:
        """A finished run's final answer, read back from the store."""
        return LoopState.load(run_id, self.store.load_run(run_id).state).output or ""


@dataclass
class Result:
    """What a scenario left behind, and what it did not expect."""

    title: str
    run_id: str
    requests: list[str] = field(default_factory=list)
    """The run's request ids, in the order they were raised."""
    problems: list[str] = field(default_factory=list)

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)


def show_call(tool: str, args: dict[str, Any]) -> str:
    return f"{tool}({', '.join(f'{k}={v!r}' for k, v in args.items())})"


def narrate(events: Iterable[LoopEvent], say: Say) -> LoopOutcome:
    """Print a run's progress as it streams; return where it stopped."""
    for event in events:
        if isinstance(event, ModelTurn):
            for call in event.message.tool_calls:
                say(f"  agent calls {show_call(call.name, call.args)}")
            if event.message.content:
                say(f"  agent says: {event.message.content}")
        elif isinstance(event, ToolSettled):
            say(f"  {event.tool} -> {event.content}")
        else:
            if isinstance(event, Paused):
                for request in event.requests:
                    say(f"  PAUSED {request.action.tool}: {request.reason}")
                    say(f"    request {request.id}, expires {_when(request)}")
            return event
    raise RuntimeError("the run's stream ended without an outcome")


def _when(request: ApprovalRequest) -> str:
    return f"{request.expires_at:%Y-%m-%d %H:%M} UTC" if request.expires_at else "never"


def _intro(number: int, title: str, claim: Claim, say: Say) -> None:
    say(f"\n== {number}. {title}")
    say(f"  claim {claim.claim_id}: {claim.amount:,.2f}, risk {claim.risk_score:.2f}")


def _paid(office: Office, claim: Claim, say: Say) -> list[tuple[float, str]]:
    paid = [(p.amount, p.tool) for p in office.ledger.payments(claim.claim_id)]
    say(f"  ledger for {claim.claim_id}: {paid or 'nothing paid'}")
    return paid


def small_claim(office: Office, say: Say) -> Result:
    """A small, low-risk claim pays at once: no request, no person."""
    claim = SMALL
    _intro(1, "A small, low-risk claim is paid without a person", claim, say)
    outcome = narrate(
        office.agent.stream(claim.prompt, run_id=claim.run_id, context=claim.context), say
    )
    result = Result("small claim paid automatically", claim.run_id)
    result.expect(
        outcome.status == "completed", f"expected the run to complete, got {outcome.status}"
    )
    requests = office.store.list_requests(run_id=claim.run_id, status=None).items
    result.expect(not requests, f"expected no approval request, got {len(requests)}")
    paid = _paid(office, claim, say)
    result.expect(paid == [(claim.amount, "pay_claim")], f"expected one payout, got {paid}")
    return result


def large_claim(office: Office, say: Say) -> Result:
    """A large claim waits; an adjuster approves; it is paid exactly once."""
    claim = LARGE
    _intro(2, "A large claim waits for an adjuster", claim, say)
    outcome = narrate(
        office.agent.stream(claim.prompt, run_id=claim.run_id, context=claim.context), say
    )
    result = Result("large claim approved by an adjuster", claim.run_id)
    if not isinstance(outcome, Paused):
        result.expect(False, f"expected the run to pause, got {outcome.status}")
        return result
    request = outcome.requests[0]
    result.requests.append(request.id)
    result.expect(not _paid(office, claim, say), "expected nothing paid before the review")
    review(office.store, office.policy, ADJUSTER, request.id, approve=True)
    say(f"  {ADJUSTER.id} ({', '.join(ADJUSTER.roles)}) approves {request.id}")
    outcome = narrate(office.agent.stream_resume(claim.run_id), say)
    result.expect(outcome.status == "completed", f"expected completion, got {outcome.status}")
    paid = _paid(office, claim, say)
    result.expect(paid == [(claim.amount, "pay_claim")], f"expected one payout, got {paid}")
    return result


def risky_claim_expires(office: Office, say: Say) -> Result:
    """Nobody answers a risky claim for 24h: it expires and escalates to a senior adjuster."""
    claim = RISKY
    _intro(3, "A risky claim nobody reviews escalates after 24 hours", claim, say)
    outcome = narrate(
        office.agent.stream(claim.prompt, run_id=claim.run_id, context=claim.context), say
    )
    result = Result("risky claim expired and escalated", claim.run_id)
    if not isinstance(outcome, Paused):
        result.expect(False, f"expected the run to pause, got {outcome.status}")
        return result
    first = outcome.requests[0]
    result.requests.append(first.id)
    clock = office.store.clock
    if not isinstance(clock, ManualClock):
        raise TypeError("this scenario needs an office on a ManualClock")
    clock.advance(timedelta(hours=24))
    say(f"  ... 24 hours pass with no decision (now {clock.now():%Y-%m-%d %H:%M} UTC)")

    worker = office.worker()
    done = worker.run_once()
    say(f"  worker: expired {done.expired} request(s), resumed {done.resumed}")
    lapsed = office.store.get(first.id)
    decision = lapsed.decision
    say(
        f"  {first.id} is {lapsed.status}: {decision.kind if decision else None} by "
        f"{decision.by if decision else None}: {decision.feedback if decision else None}"
    )
    result.expect(
        lapsed.status is RequestStatus.RESUMED
        and decision is not None
        and decision.by == "hitl:expiry",
        f"expected the first request rejected by hitl:expiry, got {lapsed.status} {decision}",
    )
    pending = office.store.list_requests(run_id=claim.run_id).items
    if [r.action.tool for r in pending] != ["escalate_claim"]:
        result.expect(False, f"expected one escalate_claim request, got {pending}")
        return result
    escalation = pending[0]
    result.requests.append(escalation.id)
    roles = ", ".join(office.policy.rule_for("escalate_claim").roles)
    say(f"  ESCALATED {show_call(escalation.action.tool, escalation.action.args)}")
    say(f"    request {escalation.id}, only {roles} may decide, expires {_when(escalation)}")

    try:
        review(office.store, office.policy, ADJUSTER, escalation.id, approve=True)
    except NotAuthorized:
        say(f"  {ADJUSTER.id} ({', '.join(ADJUSTER.roles)}) tries to approve: refused")
    else:
        result.expect(False, "expected the adjuster to be refused on the escalation")
    review(office.store, office.policy, SENIOR_ADJUSTER, escalation.id, approve=True)
    say(f"  {SENIOR_ADJUSTER.id} ({', '.join(SENIOR_ADJUSTER.roles)}) approves {escalation.id}")
    done = worker.run_once()
    say(f"  worker: resumed {done.resumed}")
    say(f"  agent says: {office.output(claim.run_id)}")
    paid = _paid(office, claim, say)
    result.expect(paid == [(claim.amount, "escalate_claim")], f"expected one payout, got {paid}")
    return result


def crash_recovery(folder: Path, say: Say) -> Result:
    """The process holding a claim is killed while it waits; a new one finishes it, once."""
    claim = CRASHING
    _intro(4, "The process waiting on a claim is killed; a new one finishes it", claim, say)
    folder.mkdir(parents=True, exist_ok=True)
    store_url = f"sqlite:///{folder / 'approvals.db'}"
    store = open_store(store_url)
    ledger = ClaimsLedger(folder / "ledger.db")
    result = Result("crash while waiting, recovered", claim.run_id)

    first = ClaimProcess(store_url, ledger.path, claim)
    submitted = first.next_event()
    say(
        f"  process {first.pid}: run {submitted['run_id']} {submitted['status']}, "
        f"waiting on {submitted['requests']}"
    )
    result.requests = list(submitted["requests"])
    code = first.kill()
    say(f"  process {first.pid} killed with SIGKILL (exit code {code}) while it waited")
    result.expect(code < 0, f"expected the first process to die by signal, got {code}")

    second = ClaimProcess(store_url, ledger.path, claim)
    picked = second.next_event()
    say(
        f"  process {second.pid}: picked up run {picked['run_id']} "
        f"(picked_up={picked['picked_up']}), waiting on {picked['requests']}"
    )
    result.expect(picked["picked_up"] is True, "expected the new process to find the run")
    result.expect(picked["requests"] == result.requests, "expected the same request id again")
    requests = store.list_requests(run_id=claim.run_id, status=None).items
    say(f"  store: {len(requests)} request(s) for the run; ledger: {ledger.payments() or 'empty'}")
    result.expect(len(requests) == 1, f"expected one request in the store, got {len(requests)}")
    result.expect(not ledger.payments(), "expected nothing paid before the review")

    review(store, load_policy(), ADJUSTER, result.requests[0], approve=True)
    say(f"  {ADJUSTER.id} approves {result.requests[0]}")
    resumed, completed = second.next_event(), second.next_event()
    say(f"  process {second.pid} resumed the run: {resumed['status']}")
    say(f"  agent says: {completed.get('output')}")
    result.expect(completed["event"] == "completed", f"expected completion, got {completed}")
    code = second.wait()
    result.expect(code == 0, f"expected the second process to exit 0, got {code}")
    paid = [(p.amount, p.tool) for p in ledger.payments(claim.claim_id)]
    say(f"  ledger for {claim.claim_id}: {paid}")
    result.expect(paid == [(claim.amount, "pay_claim")], f"expected one payout, got {paid}")
    store.close()
    return result
