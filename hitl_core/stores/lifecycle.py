"""The rules of a request's life, as pure functions every store calls inside its transaction.

Each returns the request as it must be stored next and the audit event to append, or
raises without side effects. Stores differ only in how they read, lock and write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hitl_core.access import Reviewer, check_decider
from hitl_core.audit import AuditEvent, AuditKind
from hitl_core.decisions import DecisionInput, Respond
from hitl_core.errors import RequestIdConflict, RequestNotDecided, RunChanged, RunNotFailed
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores import lease_rules
from hitl_core.stores.base import RunRecord, RunStatus
from hitl_core.stores.leases import Lease
from hitl_core.validation import bind_decision

__all__ = [
    "cancel",
    "cancel_run",
    "create",
    "decide",
    "expire",
    "failed",
    "resume",
    "retry_run",
    "run_event",
    "save_run",
]

Transition = tuple[ApprovalRequest, AuditEvent | None]


def create(existing: ApprovalRequest | None, request: ApprovalRequest) -> Transition:
    """Putting `request`: new requests are stored pending; a re-raised one is a no-op.

    Raises:
        RequestIdConflict: the id already belongs to a different call.
    """
    if existing is not None:
        if not existing.same_call(request):
            raise RequestIdConflict(request.id)
        return existing, None
    fresh = request.model_copy(
        update={"status": RequestStatus.PENDING, "decision": None, "resumed_at": None}
    )
    event = AuditEvent.for_request(
        AuditKind.CREATED,
        fresh,
        fresh.created_at,
        actor=fresh.adapter,
        detail={"reason": fresh.reason},
    )
    return fresh, event


def decide(
    request: ApprovalRequest, decision: DecisionInput, now: datetime, roles: Sequence[str] = ()
) -> Transition:
    """Recording a reviewer's decision; see `bind_decision` and `check_decider` for what
    is refused. `roles` are the decider's (as authenticated by the caller)."""
    bound = bind_decision(request, decision, now)
    check_decider(request, Reviewer(id=bound.by, roles=tuple(roles)), bound.kind)
    decided = request.model_copy(update={"status": RequestStatus.DECIDED, "decision": bound})
    detail = {"answer": bound.answer} if isinstance(bound, Respond) else {}
    event = AuditEvent.for_request(
        AuditKind.DECIDED, decided, bound.at, decision=bound, detail=detail
    )
    return decided, event


def expire(request: ApprovalRequest, now: datetime) -> Transition:
    """A pending request past its deadline takes its expiry outcome as its decision."""
    if not request.is_due(now):
        return request, None
    outcome = request.on_expiry.model_copy(
        update={"at": now, "request_id": request.id, "args_digest": request.args_digest}
    )
    expired = request.model_copy(update={"status": RequestStatus.EXPIRED, "decision": outcome})
    event = AuditEvent.for_request(AuditKind.EXPIRED, expired, now, decision=outcome)
    return expired, event


def resume(request: ApprovalRequest, now: datetime) -> Transition:
    """The run applied the decision. A second call changes nothing (crash-safe retries).

    Raises:
        RequestNotDecided: the request is pending or cancelled.
    """
    if request.status is RequestStatus.RESUMED:
        return request, None
    if not request.is_answered:
        raise RequestNotDecided(request.id, request.status.value)
    resumed = request.model_copy(update={"status": RequestStatus.RESUMED, "resumed_at": now})
    event = AuditEvent.for_request(
        AuditKind.RESUMED, resumed, now, actor=request.adapter, decision=request.decision
    )
    return resumed, event


def cancel(request: ApprovalRequest, now: datetime, by: str, reason: str | None) -> Transition:
    """Cancelling a pending request; answered ones keep their decision."""
    if not request.is_pending:
        return request, None
    cancelled = request.model_copy(update={"status": RequestStatus.CANCELLED})
    event = AuditEvent.for_request(
        AuditKind.CANCELLED, cancelled, now, actor=by, detail={"reason": reason} if reason else {}
    )
    return cancelled, event


def save_run(run: RunRecord, stored: RunRecord | None, expected_version: int | None) -> RunRecord:
    """The run record to write: one version past the stored one, keeping its creation time.

    Raises:
        RunChanged: `expected_version` is given and differs from the stored version.
    """
    found = stored.version if stored else 0
    if expected_version is not None and expected_version != found:
        raise RunChanged(run.run_id, expected_version, found)
    created = stored.created_at if stored else run.created_at
    return run.model_copy(update={"version": found + 1, "created_at": created})


def cancel_run(run: RunRecord, now: datetime) -> RunRecord:
    """The run record after cancelling: status cancelled, one version on."""
    return run.model_copy(
        update={"status": RunStatus.CANCELLED, "version": run.version + 1, "updated_at": now}
    )


def run_event(
    kind: AuditKind, run: RunRecord, at: datetime, *, actor: str | None = None, **detail: object
) -> AuditEvent:
    """An audit event about the whole run: the person who acted, else the run's adapter."""
    return AuditEvent(
        kind=kind,
        at=at,
        run_id=run.run_id,
        actor=actor if actor is not None else run.adapter,
        detail={k: v for k, v in detail.items() if v is not None},
    )


def failed(stored: RunRecord, error: str, now: datetime) -> tuple[RunRecord, AuditEvent]:
    """The run record after a pass raised: failed, its last good snapshot kept, one version on."""
    record = stored.model_copy(
        update={
            "status": RunStatus.FAILED,
            "error": error,
            "version": stored.version + 1,
            "updated_at": now,
        }
    )
    return record, run_event(AuditKind.FAILED, record, now, error=error)


def retry_run(
    stored: RunRecord, lease: Lease | None, now: datetime, by: str
) -> tuple[RunRecord, AuditEvent, Lease | None]:
    """Reopening a failed run (or one whose process died mid-pass) to resume it again.

    Returns the record, its event, and the lease row to write: a grant that ends the old
    holder's (the process that died may be only paused), or None when there was none.

    Raises:
        RunNotFailed: the run is paused, completed or cancelled, or a live lease shows
            someone still working on it.
    """
    abandoned = stored.status is RunStatus.RUNNING and (lease is None or not lease.is_live(now))
    if stored.status is not RunStatus.FAILED and not abandoned:
        raise RunNotFailed(stored.run_id, stored.status.value)
    record = stored.model_copy(
        update={
            "status": RunStatus.PAUSED,
            "error": None,
            "version": stored.version + 1,
            "updated_at": now,
        }
    )
    event = run_event(AuditKind.RETRIED, record, now, actor=by, error=stored.error)
    revoked = lease_rules.revoke(lease, stored.run_id, by, now) if lease is not None else None
    return record, event, revoked
