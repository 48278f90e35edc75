"""The store port: what every approval store (memory, SQLite, PostgreSQL) must do.

Four groups of operations, each atomic: requests and their decisions; run snapshots; the
call ledger (run leases with fencing tokens, and one claimed line per call before its side
effect); and the audit trail. Every transition's rules live in pure modules
(`lifecycle`, `lease_rules`, `call_rules`), so stores only move data and guarantee
atomicity. Adapters never use the ledger directly: `hitl_core.calls` owns a call's life.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import AuditHead
from hitl_core.clock import Clock
from hitl_core.decisions import DecisionInput
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores.calls import CallRecord
from hitl_core.stores.leases import Lease
from hitl_core.stores.records import (
    Page,
    RunPage,
    RunRecord,
    RunStatus,
    check_limit,
    decode_cursor,
    encode_cursor,
)

__all__ = [
    "ApprovalStore",
    "Page",
    "RunPage",
    "RunRecord",
    "RunStatus",
    "check_limit",
    "decode_cursor",
    "encode_cursor",
]


@runtime_checkable
class ApprovalStore(Protocol):
    """Durable pending approvals, run snapshots, the call ledger and the audit trail.

    Every method is atomic and safe to call from many threads and processes at once:
    two processes deciding one request get one winner and one `AlreadyDecided`; two
    claiming one call get one claim.
    """

    url: str
    """The URL the store was opened with (secrets masked)."""
    clock: Clock
    """Where the store's "now" comes from: deadlines, leases, decision checks, audit times."""

    # -- requests ---------------------------------------------------------------------

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

    def decide(
        self, request_id: str, decision: DecisionInput, *, roles: Sequence[str] = ()
    ) -> ApprovalRequest:
        """Record the one decision a request takes; see `lifecycle.decide` for the rules.

        Args:
            roles: the decider's roles, as the caller authenticated them (the decider is
                the decision's `by`); checked against the roles the request names.

        Raises:
            UnknownRequest, AlreadyDecided, RequestExpired, DecisionNotAllowed,
            DecisionMismatch, InvalidEdit, InvalidIdentity, NotAuthorized, SelfApproval:
            and in each case nothing is written.
        """
        ...

    def expire_due(
        self, now: datetime | None = None, *, run_id: str | None = None, limit: int | None = None
    ) -> list[ApprovalRequest]:
        """Expire pending requests due at `now` (default: the store's clock), oldest first.

        Each takes its `on_expiry` decision and gets an ``expired`` audit event. When
        nothing is due, nothing is written.
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
        """Cancel the run and its pending requests; whoever holds its lease loses it."""
        ...

    # -- runs -------------------------------------------------------------------------

    def save_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
        lease: Lease | None = None,
        release: bool = False,
    ) -> RunRecord:
        """Save a run snapshot, put its new requests and mark `resumed` in one transaction.

        Marking applied requests resumed in the same transaction as the snapshot that
        applied them means a crash leaves either both or neither: a request is never
        "resumed" while the stored run still waits on it.
        Returns the record as stored (its `version` incremented).

        Args:
            lease: the lease the saver holds (checked: its fencing token must be the run's
                current one); None for a saver that holds none, which needs no live lease.
            release: hand the lease back in the same transaction.

        Raises:
            RunChanged: `expected_version` is given and the stored version differs.
            LeaseLost / RunBusy: see `lease_rules.check`.
            RequestIdConflict: as in `put`. In each case nothing is saved.
        """
        ...

    def load_run(self, run_id: str) -> RunRecord:
        """The run's stored snapshot. Raises `UnknownRun`."""
        ...

    def list_runs(
        self,
        *,
        status: RunStatus | None = None,
        adapter: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> RunPage:
        """Runs in (created_at, run_id) order, filtered (``status=RunStatus.FAILED``...)."""
        ...

    def fail_run(
        self,
        run_id: str,
        error: str,
        *,
        lease: Lease | None,
        events: Sequence[AuditEvent] = (),
    ) -> RunRecord:
        """Mark the run failed with `error`, keeping its stored snapshot, and hand back the
        lease; `events` (a refusal, say) are appended first, then a ``failed`` event.

        Raises:
            UnknownRun, LeaseLost, RunBusy: nothing is written.
        """
        ...

    def retry_run(self, run_id: str, *, by: str) -> RunRecord:
        """Reopen a failed run (or one whose process died mid-pass) as paused, to resume it.

        Raises:
            UnknownRun, RunNotFailed: nothing is written.
        """
        ...

    # -- the call ledger --------------------------------------------------------------

    def acquire_lease(self, run_id: str, holder: str, *, ttl: timedelta) -> Lease:
        """A new grant of the run's lease to `holder`, with the next fencing token.

        Raises:
            RunBusy: another holder's lease is live.
        """
        ...

    def renew_lease(self, lease: Lease, *, ttl: timedelta) -> Lease:
        """`lease` extended to ``now + ttl``. Raises `LeaseLost` once taken over."""
        ...

    def release_lease(self, lease: Lease) -> None:
        """Hand `lease` back (a no-op once it is no longer the current grant)."""
        ...

    def lease_of(self, run_id: str) -> Lease | None:
        """The run's current (or last) grant, None if it never had one."""
        ...

    def claim_call(self, record: CallRecord, lease: Lease) -> CallRecord:
        """Claim an attempt of a call (`record` is ``started``) before its side effect.

        Returns the stored line: `record` itself when the claim was taken, another line
        when the call already ran, or its attempt is someone else's (see
        `call_rules.claim`). A taken claim is audited as ``started``.

        Raises:
            LeaseLost: `lease` is not the run's current grant; nothing is written.
        """
        ...

    def settle_call(
        self, record: CallRecord, lease: Lease, requests: Sequence[ApprovalRequest] = ()
    ) -> CallRecord:
        """Record what came of a claimed attempt, and put `requests` (a recovery request for
        an unknown outcome) in the same transaction. Returns the stored line (see
        `call_rules.settle`).

        Raises:
            LeaseLost: `lease` is not the run's current grant; nothing is written.
        """
        ...

    def calls(self, run_id: str) -> dict[str, CallRecord]:
        """The run's ledger: every call claimed, by call id."""
        ...

    # -- the audit trail ----------------------------------------------------------------

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
