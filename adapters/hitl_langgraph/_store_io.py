"""One way to reach any approval store from sync and async graph code.

Async runs await the core's `AwaitableStore`; sync runs need a sync store, and get a
clear error when they were handed the async-only PostgreSQL store.
"""

from __future__ import annotations

from hitl_core.requests import RequestStatus
from hitl_core.stores import ApprovalStore
from hitl_core.stores.async_base import AsyncApprovalStore
from hitl_core.stores.awaitable import AnyStore, AwaitableStore
from hitl_langgraph.errors import SyncCallOnAsyncStore

__all__ = ["AnyStore", "AsyncApprovalStore", "StoreIO"]


class StoreIO(AwaitableStore):
    """`store`'s operations as awaitables, plus the sync store for sync runs."""

    @property
    def sync(self) -> ApprovalStore:
        """The store for sync code. Raises `SyncCallOnAsyncStore` for the async-only one."""
        if self.sync_store is None:
            raise SyncCallOnAsyncStore()
        return self.sync_store

    def answered(self, run_id: str) -> list[str]:
        """The ids of the run's requests that are decided or expired but not yet applied."""
        store = self.sync
        return [
            r.id
            for status in (RequestStatus.DECIDED, RequestStatus.EXPIRED)
            for r in store.list_requests(run_id=run_id, status=status).items
        ]

    async def aanswered_ids(self, run_id: str) -> list[str]:
        """`answered`, awaited."""
        return [r.id for r in await self.aanswered(run_id)]
