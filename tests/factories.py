"""Small builders the tests share: a payment request and its schema."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from hitl_core import (
    ALL_KINDS,
    AlreadyDecided,
    ApprovalRequest,
    ApprovalStore,
    Decision,
    DecisionKind,
    ProposedAction,
)

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
        now=now,
        expires_in=expires_in,
    )


def race_decisions(store: ApprovalStore, request_id: str, racers: int) -> tuple[list[str], int]:
    """`racers` threads approve one request at the same instant.

    Returns the winners' names and how many got `AlreadyDecided`.
    """
    barrier = threading.Barrier(racers)
    wins: list[str] = []
    conflicts: list[AlreadyDecided] = []

    def decide(name: str) -> None:
        barrier.wait()
        try:
            store.decide(request_id, Decision.approve(by=name))
            wins.append(name)
        except AlreadyDecided as error:
            conflicts.append(error)

    threads = [threading.Thread(target=decide, args=(f"reviewer-{i}",)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return wins, len(conflicts)
