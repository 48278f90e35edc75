"""One awaitable face for either kind of store, so an adapter's async code has one path.

Agent frameworks run on asyncio. `AsyncPostgresStore` is awaited through its
``a``-prefixed methods; the memory, SQLite and PostgreSQL stores are called directly
(each call is one short transaction, which blocks the loop only briefly). Adapters wrap
whatever store they were given in an `AwaitableStore` and await that.
"""

from __future__ import annotations

from collections.abc import Sequence

from hitl_core.clock import Clock
from hitl_core.decisions import DecisionInput
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores.async_base import AsyncApprovalStore
from hitl_core.stores.base import ApprovalStore, ExecutionRecord, Page, RunRecord

__all__ = ["AnyStore", "AwaitableStore"]

AnyStore = ApprovalStore | AsyncApprovalStore
"""A sync store (memory, SQLite, PostgreSQL) or the async PostgreSQL store."""


class AwaitableStore:
    """`store`'s operations as awaitables, whichever kind of store it is."""

    def __init__(self, store: AnyStore) -> None:
        self.store = store
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
        self, *, status: RequestStatus | None = RequestStatus.PENDING, run_id: str | None = None
    ) -> Page:
        if self._async:
            return await self._async.alist_requests(status=status, run_id=run_id)
        return self._blocking().list_requests(status=status, run_id=run_id)

    async def adecide(self, request_id: str, decision: DecisionInput) -> ApprovalRequest:
        if self._async:
            return await self._async.adecide(request_id, decision)
        return self._blocking().decide(request_id, decision)

    async def amark_resumed(self, request_id: str) -> ApprovalRequest:
        if self._async:
            return await self._async.amark_resumed(request_id)
        return self._blocking().mark_resumed(request_id)

    async def aexpire_due(self, *, run_id: str) -> list[ApprovalRequest]:
        """Expire the run's due requests (adapters do this before applying decisions)."""
        if self._async:
            return await self._async.aexpire_due(run_id=run_id)
        return self._blocking().expire_due(run_id=run_id)

    async def asave_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
    ) -> RunRecord:
        if self._async:
            return await self._async.asave_run(
                run, requests, resumed=resumed, expected_version=expected_version
            )
        return self._blocking().save_run(
            run, requests, resumed=resumed, expected_version=expected_version
        )

    async def aload_run(self, run_id: str) -> RunRecord:
        if self._async:
            return await self._async.aload_run(run_id)
        return self._blocking().load_run(run_id)

    async def arecord_execution(self, record: ExecutionRecord) -> ExecutionRecord:
        if self._async:
            return await self._async.arecord_execution(record)
        return self._blocking().record_execution(record)

    async def aexecutions(self, run_id: str) -> dict[str, ExecutionRecord]:
        if self._async:
            return await self._async.aexecutions(run_id)
        return self._blocking().executions(run_id)

    async def aanswered(self, run_id: str) -> list[ApprovalRequest]:
        """The run's requests whose decision (or expiry outcome) is not applied yet."""
        answered: list[ApprovalRequest] = []
        for status in (RequestStatus.DECIDED, RequestStatus.EXPIRED):
            answered += (await self.alist_requests(status=status, run_id=run_id)).items
        return answered
