"""`memory://`: an in-process store for tests and demos; it forgets everything on exit."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import islice

from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import AuditHead, link
from hitl_core.clock import Clock, SystemClock
from hitl_core.decisions import DecisionInput
from hitl_core.errors import UnknownRequest, UnknownRun
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores import call_rules, lease_rules, lifecycle
from hitl_core.stores.calls import CallRecord
from hitl_core.stores.deliveries import DeliveryRecord
from hitl_core.stores.leases import Claim, Lease
from hitl_core.stores.records import (
    Page,
    RunPage,
    RunRecord,
    RunStatus,
    check_limit,
    decode_cursor,
    encode_cursor,
    encode_run_cursor,
)

__all__ = ["MemoryStore"]


class MemoryStore:
    """Every `ApprovalStore` guarantee, held in dicts behind one lock.

    Safe across threads, not across processes: use SQLite or PostgreSQL for those.
    """

    def __init__(self, url: str = "memory://", *, clock: Clock | None = None) -> None:
        self.url = url
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.RLock()
        self._requests: dict[str, ApprovalRequest] = {}
        self._runs: dict[str, RunRecord] = {}
        self._calls: dict[tuple[str, str], CallRecord] = {}
        self._audit: list[AuditEvent] = []
        """Every event, at index seq - 1."""
        self._heads: dict[str, AuditHead] = {}
        self._leases: dict[str, Lease] = {}
        self._cursors: dict[str, int] = {}
        self._deliveries: list[DeliveryRecord] = []

    def _append(self, event: AuditEvent | None) -> None:
        """Link `event` after its run's head and append it (under the lock, like every write)."""
        if event is not None:
            linked = link(event, self._heads.get(event.run_id))
            self._audit.append(linked.model_copy(update={"seq": len(self._audit) + 1}))
            self._heads[event.run_id] = AuditHead.of(linked)

    def _apply(self, transition: lifecycle.Transition) -> ApprovalRequest:
        request, event = transition
        self._requests[request.id] = request
        self._append(event)
        return request

    def _get(self, request_id: str) -> ApprovalRequest:
        try:
            return self._requests[request_id]
        except KeyError:
            raise UnknownRequest(request_id) from None

    def put(self, request: ApprovalRequest) -> ApprovalRequest:
        with self._lock:
            return self._apply(lifecycle.create(self._requests.get(request.id), request))

    def get(self, request_id: str) -> ApprovalRequest:
        with self._lock:
            return self._get(request_id)

    def list_requests(
        self,
        *,
        status: RequestStatus | None = RequestStatus.PENDING,
        run_id: str | None = None,
        tool: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        after = decode_cursor(cursor) if cursor else None
        with self._lock:
            matching = sorted(
                (
                    r
                    for r in self._requests.values()
                    if (status is None or r.status is status)
                    and (run_id is None or r.run_id == run_id)
                    and (tool is None or r.action.tool == tool)
                    and (after is None or (r.created_at, r.id) > after)
                ),
                key=lambda r: (r.created_at, r.id),
            )
        items = matching[:limit]
        more = len(matching) > limit
        return Page(items=items, next_cursor=encode_cursor(items[-1]) if more else None)

    def decide(
        self, request_id: str, decision: DecisionInput, *, roles: Sequence[str] = ()
    ) -> ApprovalRequest:
        with self._lock:
            request = self._get(request_id)
            return self._apply(lifecycle.decide(request, decision, self.clock.now(), roles))

    def expire_due(
        self, now: datetime | None = None, *, run_id: str | None = None, limit: int | None = None
    ) -> list[ApprovalRequest]:
        now = now or self.clock.now()
        with self._lock:
            due = sorted(
                (
                    r
                    for r in self._requests.values()
                    if r.is_due(now) and (run_id is None or r.run_id == run_id)
                ),
                key=lambda r: (r.expires_at, r.id),
            )[:limit]
            return [self._apply(lifecycle.expire(r, now)) for r in due]

    def mark_resumed(self, request_id: str) -> ApprovalRequest:
        with self._lock:
            request = self._get(request_id)
            return self._apply(lifecycle.resume(request, self.clock.now()))

    def cancel_run(
        self, run_id: str, *, by: str, reason: str | None = None
    ) -> list[ApprovalRequest]:
        now = self.clock.now()
        with self._lock:
            pending = [r for r in self._requests.values() if r.run_id == run_id and r.is_pending]
            cancelled = [self._apply(lifecycle.cancel(r, now, by, reason)) for r in pending]
            if run_id in self._runs:
                self._runs[run_id] = lifecycle.cancel_run(self._runs[run_id], now)
                self._leases[run_id] = lease_rules.revoke(self._leases.get(run_id), run_id, by, now)
            return cancelled

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
        now = self.clock.now()
        with self._lock:
            current = self._leases.get(run.run_id)
            lease_rules.check(current, lease, run.run_id, now)
            saved = lifecycle.save_run(run, self._runs.get(run.run_id), expected_version)
            transitions = [lifecycle.create(self._requests.get(r.id), r) for r in requests]
            applied = [lifecycle.resume(self._get(r), now) for r in resumed]
            self._runs[run.run_id] = saved
            for transition in [*transitions, *applied]:
                self._apply(transition)
            if release and lease is not None:
                self._release(lease, now)
            return saved

    def load_run(self, run_id: str) -> RunRecord:
        with self._lock:
            return self._load_run(run_id)

    def list_runs(
        self,
        *,
        status: RunStatus | None = None,
        adapter: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> RunPage:
        check_limit(limit)
        after = decode_cursor(cursor) if cursor else None
        with self._lock:
            matching = sorted(
                (
                    r
                    for r in self._runs.values()
                    if (status is None or r.status is status)
                    and (adapter is None or r.adapter == adapter)
                    and (after is None or (r.created_at, r.run_id) > after)
                ),
                key=lambda r: (r.created_at, r.run_id),
            )
        items = matching[:limit]
        more = len(matching) > limit
        return RunPage(items=items, next_cursor=encode_run_cursor(items[-1]) if more else None)

    def fail_run(
        self,
        run_id: str,
        error: str,
        *,
        lease: Lease | None,
        events: Sequence[AuditEvent] = (),
    ) -> RunRecord:
        now = self.clock.now()
        with self._lock:
            lease_rules.check(self._leases.get(run_id), lease, run_id, now)
            stored = self._load_run(run_id)
            record, event = lifecycle.failed(stored, error, now)
            self._runs[run_id] = record
            for extra in (*events, event):
                self._append(extra)
            if lease is not None:
                self._release(lease, now)
            return record

    def retry_run(self, run_id: str, *, by: str) -> RunRecord:
        now = self.clock.now()
        with self._lock:
            stored = self._load_run(run_id)
            record, event, revoked = lifecycle.retry_run(stored, self._leases.get(run_id), now, by)
            self._runs[run_id] = record
            self._append(event)
            if revoked is not None:
                self._leases[run_id] = revoked
            return record

    def _load_run(self, run_id: str) -> RunRecord:
        try:
            return self._runs[run_id]
        except KeyError:
            raise UnknownRun(run_id) from None

    # -- the call ledger ------------------------------------------------------------

    def acquire_lease(self, run_id: str, holder: str, *, ttl: timedelta) -> Lease:
        now = self.clock.now()
        with self._lock:
            lease = lease_rules.acquire(self._leases.get(run_id), run_id, holder, now, ttl)
            self._leases[run_id] = lease
            return lease

    def renew_lease(self, lease: Lease, *, ttl: timedelta) -> Lease:
        now = self.clock.now()
        with self._lock:
            renewed = lease_rules.renew(self._leases.get(lease.run_id), lease, now, ttl)
            self._leases[lease.run_id] = renewed
            return renewed

    def release_lease(self, lease: Lease) -> None:
        with self._lock:
            self._release(lease, self.clock.now())

    def _release(self, lease: Lease, now: datetime) -> None:
        released = lease_rules.release(self._leases.get(lease.run_id), lease, now)
        if released is not None:
            self._leases[lease.run_id] = released

    def lease_of(self, run_id: str) -> Lease | None:
        with self._lock:
            return self._leases.get(run_id)

    def claim_call(self, record: CallRecord, lease: Lease) -> CallRecord:
        key = (record.run_id, record.call_id)
        with self._lock:
            lease_rules.check(
                self._leases.get(record.run_id), lease, record.run_id, self.clock.now()
            )
            stored, event = call_rules.claim(self._calls.get(key), record)
            if event is not None:
                self._calls[key] = stored
                self._append(event)
            return stored

    def settle_call(
        self, record: CallRecord, lease: Lease, requests: Sequence[ApprovalRequest] = ()
    ) -> CallRecord:
        key = (record.run_id, record.call_id)
        with self._lock:
            lease_rules.check(
                self._leases.get(record.run_id), lease, record.run_id, self.clock.now()
            )
            stored, event = call_rules.settle(self._calls.get(key), record)
            if event is None:
                return stored
            transitions = [lifecycle.create(self._requests.get(r.id), r) for r in requests]
            self._calls[key] = stored
            self._append(event)
            for transition in transitions:
                self._apply(transition)
            return stored

    def calls(self, run_id: str) -> dict[str, CallRecord]:
        with self._lock:
            return {c: r for (run, c), r in self._calls.items() if run == run_id}

    def audit(
        self,
        *,
        run_id: str | None = None,
        request_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        check_limit(limit)
        with self._lock:
            matching = (
                e
                for e in self._audit[max(after or 0, 0) :]
                if (run_id is None or e.run_id == run_id)
                and (request_id is None or e.request_id == request_id)
            )
            return list(islice(matching, limit))

    def audit_heads(self, run_id: str | None = None) -> dict[str, AuditHead]:
        with self._lock:
            if run_id is None:
                return dict(self._heads)
            return {run_id: self._heads[run_id]} if run_id in self._heads else {}

    def last_audit_seq(self) -> int:
        with self._lock:
            return len(self._audit)

    # -- webhook deliveries ---------------------------------------------------------

    def delivery_cursor(self, endpoint: str) -> int:
        with self._lock:
            return self._cursors.get(endpoint, 0)

    def advance_delivery_cursor(self, endpoint: str, seq: int) -> None:
        with self._lock:
            self._cursors[endpoint] = max(self._cursors.get(endpoint, 0), seq)

    def record_delivery(self, record: DeliveryRecord) -> None:
        with self._lock:
            self._deliveries.append(record)

    def deliveries(
        self, *, endpoint: str | None = None, event_seq: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        check_limit(limit)
        with self._lock:
            matching = (
                d
                for d in self._deliveries
                if (endpoint is None or d.endpoint == endpoint)
                and (event_seq is None or d.event_seq == event_seq)
            )
            return list(islice(matching, limit))

    def claim_ready(self, worker: str, *, lease: timedelta, limit: int = 10) -> list[Claim]:
        now = self.clock.now()
        with self._lock:
            answered = {r.run_id for r in self._requests.values() if r.is_answered}
            ready = sorted(
                run_id
                for run_id, run in self._runs.items()
                if run.status is RunStatus.PAUSED
                and run_id in answered
                and not (run_id in self._leases and self._leases[run_id].is_live(now))
            )[:limit]
            claims = []
            for run_id in ready:
                granted = lease_rules.acquire(self._leases.get(run_id), run_id, worker, now, lease)
                self._leases[run_id] = granted
                claims.append(
                    Claim(run_id=run_id, adapter=self._runs[run_id].adapter, lease=granted)
                )
            return claims

    def close(self) -> None:
        """Nothing to release."""
