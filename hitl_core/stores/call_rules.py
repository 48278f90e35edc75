"""The rules of a call's ledger line, as pure functions every store calls in its transaction.

Each returns the record as it must be stored next and the audit event to append, or the
stored record unchanged (and no event) when the write does not apply: a claim someone
else won, a settle of an attempt that is no longer the current one. The caller compares.
"""

from __future__ import annotations

from typing import Any

from hitl_core.audit import AuditEvent, AuditKind
from hitl_core.errors import CallNotClaimed
from hitl_core.stores.calls import CallRecord, CallStatus

__all__ = ["CallTransition", "call_event", "claim", "settle"]

CallTransition = tuple[CallRecord, AuditEvent | None]

_SETTLED_FROM: dict[CallStatus, frozenset[CallStatus]] = {
    CallStatus.EXECUTED: frozenset({CallStatus.STARTED, CallStatus.UNKNOWN}),
    CallStatus.UNKNOWN: frozenset({CallStatus.STARTED}),
    CallStatus.ABANDONED: frozenset({CallStatus.UNKNOWN}),
    CallStatus.SUSPENDED: frozenset({CallStatus.STARTED}),
}
"""Which status each settled status may follow (for the same attempt)."""

_EVENT: dict[CallStatus, AuditKind] = {
    CallStatus.STARTED: AuditKind.STARTED,
    CallStatus.EXECUTED: AuditKind.EXECUTED,
    CallStatus.UNKNOWN: AuditKind.OUTCOME_UNKNOWN,
    CallStatus.ABANDONED: AuditKind.ABANDONED,
    CallStatus.SUSPENDED: AuditKind.SUSPENDED,
}

_RECLAIMABLE = frozenset({CallStatus.STARTED, CallStatus.UNKNOWN, CallStatus.SUSPENDED})
"""Lines whose next attempt may be claimed."""


def claim(existing: CallRecord | None, record: CallRecord) -> CallTransition:
    """Claiming an attempt of a call before its side effect.

    Attempt 1 is claimed only when the call has no line yet; attempt N+1 only over a line
    whose attempt N is started, unknown or suspended (a retry). Anything else leaves the
    stored line as it is: the call ran, or someone else holds this attempt. A composite
    call (an agent used as a tool) is written as executed straight away, the same way.
    """
    if record.status not in (CallStatus.STARTED, CallStatus.EXECUTED):
        raise ValueError(f"a claim is a started or executed record, not {record.status.value}")
    if existing is None:
        if record.attempt != 1:
            raise ValueError(f"attempt {record.attempt} of call {record.call_id} retries nothing")
        return record, call_event(record)
    if existing.status in _RECLAIMABLE and record.attempt == existing.attempt + 1:
        return record, call_event(record)
    return existing, None


def settle(existing: CallRecord | None, record: CallRecord) -> CallTransition:
    """Recording what came of an attempt: executed, unknown or abandoned.

    Only the attempt stored now can be settled, and only along the ledger's arrows; a
    settle that was already written (a retry after a lost reply) changes nothing.

    Raises:
        CallNotClaimed: the call has no line at all.
    """
    if existing is None:
        raise CallNotClaimed(record.run_id, record.call_id)
    if existing.attempt != record.attempt:
        return existing, None
    if existing == record:
        return existing, None
    allowed = _SETTLED_FROM.get(record.status, frozenset())
    if existing.status not in allowed:
        return existing, None
    if existing.status is CallStatus.STARTED and not existing.same_attempt(record):
        return existing, None  # another holder's claim of this attempt
    return record, call_event(record)


def call_event(record: CallRecord) -> AuditEvent:
    """The audit event for `record` entering its status."""
    detail: dict[str, Any] = {"attempt": record.attempt}
    if record.status is CallStatus.STARTED:
        detail["idempotency_key"] = record.idempotency_key
        if record.fence is not None:
            detail["fence"] = record.fence
    if record.output is not None:
        detail["output"] = record.output
    if record.is_error:
        detail["is_error"] = True
    if record.recovery_request_id is not None:
        detail["recovery_request_id"] = record.recovery_request_id
    return AuditEvent(
        kind=_EVENT[record.status],
        at=record.at,
        run_id=record.run_id,
        request_id=record.request_id,
        call_id=record.call_id,
        tool=record.tool,
        actor=record.adapter,
        args=dict(record.args),
        detail=detail,
    )
