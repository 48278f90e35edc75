"""Small builders the tests share: a payment request and its schema."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from hitl_core import ALL_KINDS, ApprovalRequest, DecisionKind, ProposedAction

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
