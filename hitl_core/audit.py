"""The audit trail: an append-only record of who did what to which request, and when."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from hitl_core.decisions import AnyDecision, DecisionKind, Edit
from hitl_core.requests import ApprovalRequest

__all__ = ["AuditEvent", "AuditKind"]


class AuditKind(StrEnum):
    """What happened, in the past tense."""

    CREATED = "created"
    DECIDED = "decided"
    EXPIRED = "expired"
    RESUMED = "resumed"
    EXECUTED = "executed"
    CANCELLED = "cancelled"
    STARTED = "started"
    """A call was claimed in the ledger, just before its side effect."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """A claimed call's holder vanished: it may or may not have run; a person is asked."""
    ABANDONED = "abandoned"
    """A person gave up on a call with an unknown outcome."""
    SUSPENDED = "suspended"
    """A running call paused on a person itself; it runs again when the run resumes."""
    REFUSED = "refused"
    """What would have run did not match what was reviewed; nothing ran."""
    FAILED = "failed"
    """A pass over the run raised; the run is marked failed with the error."""
    RETRIED = "retried"
    """A failed run was reopened to be resumed again."""


class AuditEvent(BaseModel):
    """One line of the audit trail.

    Six months later "a human approved it" is worth nothing without "this human
    approved these exact arguments at this time": every event keeps both. The store links
    each event into its run's hash chain as it appends it, so a later edit shows.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    seq: int | None = None
    """Order within the store, assigned when appended."""
    kind: AuditKind
    at: datetime
    run_id: str
    request_id: str | None = None
    """The request concerned; None for an ungated execution."""
    call_id: str | None = None
    tool: str = ""
    """The tool concerned; empty for events about the whole run (failed, retried)."""
    actor: str | None = None
    """Who: the reviewer for decisions, ``hitl:expiry`` for expiry, the adapter otherwise."""
    decision: DecisionKind | None = None
    args: dict[str, Any] | None = None
    """The original arguments the agent proposed (or, for `executed`, the ones that ran)."""
    edited_args: dict[str, Any] | None = None
    """The reviewer's replacement arguments, for edits."""
    feedback: str | None = None
    detail: dict[str, Any] = {}
    """Anything else worth keeping (the policy's reason, the respond answer, the output)."""
    chain_index: int | None = None
    """Its 1-based position in its run's hash chain; None for events older than the chain."""
    prev_hash: str | None = None
    """The `hash` of the run's previous event (`audit_chain.GENESIS` for the first)."""
    hash: str | None = None
    """``sha256:<hex>`` over `prev_hash` and everything above but `seq`; see `audit_chain`."""

    @classmethod
    def for_request(
        cls,
        kind: AuditKind,
        request: ApprovalRequest,
        at: datetime,
        *,
        actor: str | None = None,
        decision: AnyDecision | None = None,
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """An event about `request`, copying the call and (if given) the decision."""
        return cls(
            kind=kind,
            at=at,
            run_id=request.run_id,
            request_id=request.id,
            call_id=request.action.call_id,
            tool=request.action.tool,
            actor=actor if actor is not None else (decision.by if decision else None),
            decision=decision.kind if decision else None,
            args=dict(request.action.args),
            edited_args=dict(decision.args) if isinstance(decision, Edit) else None,
            feedback=decision.feedback if decision else None,
            detail=detail or {},
        )
