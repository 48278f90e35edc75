"""What the store tests build: a payment request, a run snapshot, a call's claim and settle.

Each builder makes fresh ids unless told otherwise, so tests isolate themselves by id and
never by order. `tests.factories` in hitl-kit's own suite re-exports `payment_request`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import uuid4

from hitl_core import (
    ALL_KINDS,
    ApprovalRequest,
    ApprovalStore,
    CallRecord,
    CallStatus,
    DecisionKind,
    Lease,
    ManualClock,
    ProposedAction,
    RunRecord,
    RunStatus,
    args_digest,
)
from hitl_core.requests import REQUESTER_KEY
from hitl_core.stores.calls import idempotency_key

__all__ = [
    "PAYMENT_SCHEMA",
    "Race",
    "Trail",
    "at_once",
    "claim_of",
    "payment_request",
    "run_record",
    "settled",
    "trail",
]

T = TypeVar("T")

PAYMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "amount": {"type": "number", "exclusiveMinimum": 0},
        "recipient": {"type": "string", "minLength": 1},
    },
    "required": ["amount", "recipient"],
    "additionalProperties": False,
}


def payment_request(
    *,
    run_id: str | None = None,
    call_id: str = "call_1",
    amount: float = 4200,
    recipient: str = "Acme Corp",
    allowed: tuple[DecisionKind, ...] = ALL_KINDS,
    now: datetime | None = None,
    expires_in: timedelta | None = None,
    reviewers: Sequence[str] = (),
    roles: Sequence[str] = (),
    requested_by: str | None = None,
) -> ApprovalRequest:
    """A pending request for ``send_payment``, in a fresh run unless `run_id` is given."""
    return ApprovalRequest.create(
        run_id=run_id or f"run_{uuid4().hex}",
        adapter="test",
        action=ProposedAction(
            tool="send_payment",
            args={"amount": amount, "recipient": recipient},
            call_id=call_id,
            args_schema=PAYMENT_SCHEMA,
        ),
        reason=f"amount {amount} > 1000",
        allowed=allowed,
        context={REQUESTER_KEY: requested_by} if requested_by else None,
        now=now,
        expires_in=expires_in,
        reviewers=reviewers,
        roles=roles,
    )


def run_record(
    run_id: str, clock: ManualClock, *, state: str = "{}", status: RunStatus = RunStatus.PAUSED
) -> RunRecord:
    """A run snapshot of the ``test`` adapter, created and updated now."""
    now = clock.now()
    return RunRecord(
        run_id=run_id, adapter="test", status=status, state=state, created_at=now, updated_at=now
    )


def claim_of(
    lease: Lease,
    call_id: str,
    clock: ManualClock,
    *,
    attempt: int = 1,
    args: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> CallRecord:
    """A ``started`` line claiming `attempt` of a ``send_payment`` call under `lease`."""
    args = {"amount": 4200, "recipient": "Acme Corp"} if args is None else args
    now = clock.now()
    return CallRecord(
        run_id=lease.run_id,
        call_id=call_id,
        tool="send_payment",
        args=args,
        args_digest=args_digest(args),
        status=CallStatus.STARTED,
        attempt=attempt,
        fence=lease.fence,
        holder=lease.holder,
        idempotency_key=idempotency_key(lease.run_id, call_id),
        request_id=request_id,
        at=now,
        started_at=now,
        adapter="test",
    )


def settled(
    claim: CallRecord,
    status: CallStatus,
    clock: ManualClock,
    *,
    output: str | None = None,
    is_error: bool = False,
    recovery_request_id: str | None = None,
) -> CallRecord:
    """`claim` settled as `status` now (executed with ``"paid"`` unless `output` is given)."""
    if output is None and status is CallStatus.EXECUTED:
        output = "paid"
    return claim.model_copy(
        update={
            "status": status,
            "output": output,
            "is_error": is_error,
            "recovery_request_id": recovery_request_id,
            "at": clock.now(),
        }
    )


@dataclass(frozen=True)
class Trail:
    """What a store holds about one run, to show that a refused write changed nothing."""

    run: RunRecord | None
    lease: Lease | None
    calls: dict[str, CallRecord]
    audit: int
    """How many audit events the whole store holds."""


def trail(store: ApprovalStore, run_id: str) -> Trail:
    """The run's snapshot, lease and ledger, and the size of the audit trail, now."""
    try:
        run: RunRecord | None = store.load_run(run_id)
    except LookupError:
        run = None
    return Trail(run, store.lease_of(run_id), store.calls(run_id), len(store.audit()))


@dataclass
class Race(Generic[T]):
    """What racing calls returned and raised."""

    results: list[T]
    errors: list[BaseException]


def at_once(calls: Sequence[Callable[[], T]]) -> Race[T]:
    """Run every call in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    race: Race[T] = Race([], [])
    lock = threading.Lock()

    def run(call: Callable[[], T]) -> None:
        barrier.wait()
        try:
            result = call()
        except BaseException as error:  # collected and asserted on by the caller
            with lock:
                race.errors.append(error)
        else:
            with lock:
                race.results.append(result)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return race
