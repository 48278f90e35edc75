"""One awaitable view of either kind of store, so the adapter's async code has one path.

The SDK runs agents on asyncio; the core's `AwaitableStore` awaits `AsyncPostgresStore`
and calls the sync stores directly. The adapter only ever talks to a `StoreView`.
"""

from __future__ import annotations

from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores.async_base import AsyncApprovalStore
from hitl_core.stores.awaitable import AnyStore, AwaitableStore

__all__ = ["AsyncApprovalStore", "StoreView", "view_of"]


class StoreView(AwaitableStore):
    """Awaitable store operations, plus the one query only this adapter makes."""

    async def adecided(self, run_id: str) -> list[ApprovalRequest]:
        """The run's requests that hold a reviewer's decision not yet applied."""
        return (await self.alist_requests(status=RequestStatus.DECIDED, run_id=run_id)).items


def view_of(store: AnyStore) -> StoreView:
    """The awaitable view of `store`: awaited if it is async, called directly if not."""
    return StoreView(store)
