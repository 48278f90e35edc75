"""One awaitable face for either kind of store, so an adapter's async code has one path.

Agent frameworks run on asyncio. `AsyncPostgresStore` is awaited through its
``a``-prefixed methods; the memory, SQLite and PostgreSQL stores are called directly
(each call is one short transaction, which blocks the loop only briefly). The core's
async call lifecycle wraps whatever store it was given in an `AwaitableStore`. Every
method forwards every parameter of its sync namesake.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from hitl_core.audit import AuditEvent
from hitl_core.clock import Clock
from hitl_core.decisions import DecisionInput
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores.async_base import AsyncApprovalStore
from hitl_core.stores.base import ApprovalStore
from hitl_core.stores.calls import CallRecord
from hitl_core.stores.leases import Lease
from hitl_core.stores.records import Page, RunPage, RunRecord, RunStatus

__all__ = ["AnyStore", "AwaitableStore"]

AnyStore = ApprovalStore | AsyncApprovalStore
"""A sync store (memory, SQLite, PostgreSQL) or the async PostgreSQL store."""


class AwaitableStore:
    """`store`'s operations as awaitables, whichever kind of store it is."""

    def __init__(self, store: AnyStore) -> None:
        self.store = store
        self.url = store.url
        self.clock: Clock = store.clock
        self._async: AsyncApprovalStore | None = (
            store if isinstance(store, AsyncApprovalStore) else None
        )
        self._sync: ApprovalStore | None = (
            store if self._async is None and isinstance(store, ApprovalStore) else None
        )

    @property
    def sync_store(self) -> ApprovalStore | None:
        """The store for sync code, or None when only the async store was given."""
        return self._sync

    def _blocking(self) -> ApprovalStore:
        assert self._sync is not None, "a store is either sync or async"
        return self._sync

    async def aput(self, request: ApprovalRequest) -> ApprovalRequest:
        if self._async:
            return await self._async.aput(request)
        return self._blocking().put(request)

    async def aget(self, request_id: str) -> ApprovalRequest:
        if self._async:
            return await self._async.aget(request_id)
        return self._blocking().get(request_id)

    async def alist_requests(
        self,
        *,
        status: RequestStatus | None = RequestStatus.PENDING,
        run_id: str | None = None,
        tool: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        if self._async:
            return await self._async.alist_requests(
                status=status, run_id=run_id, tool=tool, limit=limit, cursor=cursor
            )
        return self._blocking().list_requests(
            status=status, run_id=run_id, tool=tool, limit=limit, cursor=cursor
        )

    async def adecide(
        self, request_id: str, decision: DecisionInput, *, roles: Sequence[str] = ()
    ) -> ApprovalRequest:
        if self._async:
            return await self._async.adecide(request_id, decision, roles=roles)
        return self._blocking().decide(request_id, decision, roles=roles)

    async def aexpire_due(
        self, now: datetime | None = None, *, run_id: str | None = None, limit: int | None = None
    ) -> list[ApprovalRequest]:
        if self._async:
            return await self._async.aexpire_due(now, run_id=run_id, limit=limit)
        return self._blocking().expire_due(now, run_id=run_id, limit=limit)

    async def amark_resumed(self, request_id: str) -> ApprovalRequest:
        if self._async:
            return await self._async.amark_resumed(request_id)
        return self._blocking().mark_resumed(request_id)

    async def asave_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
        lease: Lease | None = None,
        release: bool = False,
    ) -> RunRecord:
        if self._async:
            return await self._async.asave_run(
                run,
                requests,
                resumed=resumed,
                expected_version=expected_version,
                lease=lease,
                release=release,
            )
        return self._blocking().save_run(
            run,
            requests,
            resumed=resumed,
            expected_version=expected_version,
            lease=lease,
            release=release,
        )

    async def aload_run(self, run_id: str) -> RunRecord:
        if self._async:
            return await self._async.aload_run(run_id)
        return self._blocking().load_run(run_id)

    async def alist_runs(
        self,
        *,
        status: RunStatus | None = None,
        adapter: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> RunPage:
        if self._async:
            return await self._async.alist_runs(
                status=status, adapter=adapter, limit=limit, cursor=cursor
            )
        return self._blocking().list_runs(
            status=status, adapter=adapter, limit=limit, cursor=cursor
        )

    async def afail_run(
        self, run_id: str, error: str, *, lease: Lease | None, events: Sequence[AuditEvent] = ()
    ) -> RunRecord:
        if self._async:
            return await self._async.afail_run(run_id, error, lease=lease, events=events)
        return self._blocking().fail_run(run_id, error, lease=lease, events=events)

    async def aretry_run(self, run_id: str, *, by: str) -> RunRecord:
        if self._async:
            return await self._async.aretry_run(run_id, by=by)
        return self._blocking().retry_run(run_id, by=by)

    async def aacquire_lease(self, run_id: str, holder: str, *, ttl: timedelta) -> Lease:
        if self._async:
            return await self._async.aacquire_lease(run_id, holder, ttl=ttl)
        return self._blocking().acquire_lease(run_id, holder, ttl=ttl)

    async def arenew_lease(self, lease: Lease, *, ttl: timedelta) -> Lease:
        if self._async:
            return await self._async.arenew_lease(lease, ttl=ttl)
        return self._blocking().renew_lease(lease, ttl=ttl)

    async def arelease_lease(self, lease: Lease) -> None:
        if self._async:
            await self._async.arelease_lease(lease)
        else:
            self._blocking().release_lease(lease)

    async def alease_of(self, run_id: str) -> Lease | None:
        if self._async:
            return await self._async.alease_of(run_id)
        return self._blocking().lease_of(run_id)

    async def aclaim_call(self, record: CallRecord, lease: Lease) -> CallRecord:
        if self._async:
            return await self._async.aclaim_call(record, lease)
        return self._blocking().claim_call(record, lease)

    async def asettle_call(
        self, record: CallRecord, lease: Lease, requests: Sequence[ApprovalRequest] = ()
    ) -> CallRecord:
        if self._async:
            return await self._async.asettle_call(record, lease, requests)
        return self._blocking().settle_call(record, lease, requests)

    async def acalls(self, run_id: str) -> dict[str, CallRecord]:
        if self._async:
            return await self._async.acalls(run_id)
        return self._blocking().calls(run_id)

    async def aanswered(self, run_id: str) -> list[ApprovalRequest]:
        """The run's requests whose decision (or expiry outcome) is not applied yet."""
        answered: list[ApprovalRequest] = []
        for status in (RequestStatus.DECIDED, RequestStatus.EXPIRED):
            cursor: str | None = None
            while True:
                page = await self.alist_requests(
                    status=status, run_id=run_id, limit=500, cursor=cursor
                )
                answered += page.items
                cursor = page.next_cursor
                if cursor is None:
                    break
        return answered
