"""The store port: what every approval store (memory, SQLite, PostgreSQL) must do.

Small on purpose. Requests and their audit trail, plus two things adapters need to
resume anywhere: the run's own snapshot and a record of which calls already executed.
Every transition's rules live in `hitl_core.stores.lifecycle`, so stores only move
data and guarantee atomicity.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import AuditHead
from hitl_core.clock import Clock
from hitl_core.decisions import DecisionInput
from hitl_core.requests import ApprovalRequest, RequestStatus

__all__ = [
    "ApprovalStore",
    "ExecutionRecord",
    "Page",
    "RunRecord",
    "RunStatus",
    "check_limit",
    "decode_cursor",
    "encode_cursor",
]


class RunStatus(StrEnum):
    """Where a run is: running in some process, paused on humans, or finished."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RunRecord(BaseModel):
    """A run's durable snapshot, owned by its adapter (the store never reads `state`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    run_id: str
    adapter: str
    """The adapter that can resume it, e.g. ``"hitl_loop"``."""
    status: RunStatus
    state: str
    """The adapter's serialized snapshot (JSON text). Trust only the stored copy."""
    version: int = 0
    """Incremented by every save; a save may require the version it loaded."""
    created_at: datetime
    updated_at: datetime


class ExecutionRecord(BaseModel):
    """Proof that one tool call ran, so no resume runs it a second time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    run_id: str
    call_id: str
    tool: str
    args: dict[str, Any]
    """The arguments that actually ran (after any edit)."""
    output: str
    """What the model was told (the tool result after any notice)."""
    is_error: bool = False
    """The tool raised: it ran (so it is not run again), but the model was told it failed."""
    at: datetime
    request_id: str | None = None
    """The approval request that released the call, or None when it was not gated."""
    adapter: str | None = None
    """The adapter that ran the call, e.g. ``"hitl_loop"``: the audit event's actor."""


class Page(BaseModel):
    """One page of requests; pass `next_cursor` back to get the next one."""

    items: list[ApprovalRequest]
    next_cursor: str | None = None


def encode_cursor(request: ApprovalRequest) -> str:
    """An opaque cursor positioned just after `request` in (created_at, id) order."""
    raw = f"{request.created_at.isoformat()}|{request.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) position a cursor stands for."""
    from hitl_core.errors import InvalidInput

    try:
        created, _, request_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), request_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(f"Invalid page cursor {cursor!r}; pass back a next_cursor.") from None


def check_limit(limit: int | None) -> None:
    """Refuse a page size below 1 (None means no limit)."""
    from hitl_core.errors import InvalidInput

    if limit is not None and limit < 1:
        raise InvalidInput(f"limit must be at least 1, not {limit}.")


@runtime_checkable
class ApprovalStore(Protocol):
    """Durable pending approvals, run snapshots, executions and the audit trail.

    Every method is atomic and safe to call from many threads and processes at once:
    two processes deciding one request get one winner and one `AlreadyDecided`.
    """

    url: str
    """The URL the store was opened with (secrets masked)."""
    clock: Clock
    """Where the store's "now" comes from: deadlines, decision checks, audit times."""

    def put(self, request: ApprovalRequest) -> ApprovalRequest:
        """Store a new request, or return the stored one if this call was raised before.

        Raises:
            RequestIdConflict: the id is taken by a different call.
        """
        ...

    def get(self, request_id: str) -> ApprovalRequest:
        """The request with this id. Raises `UnknownRequest`."""
        ...

    def list_requests(
        self,
        *,
        status: RequestStatus | None = RequestStatus.PENDING,
        run_id: str | None = None,
        tool: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """Requests in (created_at, id) order, filtered; ``status=None`` means any."""
        ...

    def decide(self, request_id: str, decision: DecisionInput) -> ApprovalRequest:
        """Record the one decision a request takes; see `lifecycle.decide` for the rules.

        Raises:
            UnknownRequest, AlreadyDecided, RequestExpired, DecisionNotAllowed,
            DecisionMismatch, InvalidEdit: and in each case nothing is written.
        """
        ...

    def expire_due(
        self, now: datetime | None = None, *, run_id: str | None = None, limit: int | None = None
    ) -> list[ApprovalRequest]:
        """Expire pending requests due at `now` (default: the store's clock), oldest first.

        Each takes its `on_expiry` decision and gets an ``expired`` audit event.
        """
        ...

    def mark_resumed(self, request_id: str) -> ApprovalRequest:
        """Note that the run applied the request's decision. Idempotent.

        Raises:
            RequestNotDecided: the request is still pending or was cancelled.
        """
        ...

    def cancel_run(
        self, run_id: str, *, by: str, reason: str | None = None
    ) -> list[ApprovalRequest]:
        """Cancel the run and its pending requests."""
        ...

    def save_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
    ) -> RunRecord:
        """Save a run snapshot, put its new requests and mark `resumed` in one transaction.

        Marking applied requests resumed in the same transaction as the snapshot that
        applied them means a crash leaves either both or neither: a request is never
        "resumed" while the stored run still waits on it.
        Returns the record as stored (its `version` incremented).

        Raises:
            RunChanged: `expected_version` is given and the stored version differs.
            RequestIdConflict: as in `put`; nothing is saved.
        """
        ...

    def load_run(self, run_id: str) -> RunRecord:
        """The run's stored snapshot. Raises `UnknownRun`."""
        ...

    def record_execution(self, record: ExecutionRecord) -> ExecutionRecord:
        """Record that a call ran (and audit it); the first record for a call wins."""
        ...

    def executions(self, run_id: str) -> dict[str, ExecutionRecord]:
        """Every recorded execution of a run, by call id."""
        ...

    def audit(
        self,
        *,
        run_id: str | None = None,
        request_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """The audit trail in `seq` order, optionally filtered, each event linked in its chain.

        The tailing contract: with `after`, the result is a prefix of what will ever be
        there, so a reader that advances its cursor past the returned events never skips
        one, even one whose transaction commits after a later seq's. Memory and SQLite
        serialize writers, so what is committed is always a prefix; PostgreSQL draws seqs
        before commit, so it returns only up to where no open transaction can still add
        an event, waiting briefly for the writers open when called. Without `after`, every
        committed event is returned (a caller reads its own writes at once).

        Args:
            after: only events with ``seq > after``; pass the last `seq` seen to page on.
            limit: at most this many events (at least 1; None for all).

        Raises:
            StoreError: with `after`, a transaction writing the trail stayed open too long
                to wait for (PostgreSQL); nothing was skipped, so read again later.
        """
        ...

    def audit_heads(self, run_id: str | None = None) -> dict[str, AuditHead]:
        """Each run's chain head by run id (or only `run_id`'s): what `verify_chain` ends at.

        Export them somewhere the store's writers cannot change to anchor the chain.
        """
        ...

    def last_audit_seq(self) -> int:
        """The highest `seq` no event can still appear below, 0 when empty: "now" for a stream.

        A stream that starts after it misses nothing committed later (on PostgreSQL an
        event still in flight below the newest seq holds it back, as in `audit`).
        """
        ...

    def close(self) -> None:
        """Release connections. The store is unusable afterwards."""
        ...
