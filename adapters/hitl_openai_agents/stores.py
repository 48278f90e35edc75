"""One awaitable view of either kind of store, so the adapter's async code has one path.

The SDK runs agents on asyncio. The SQLite, memory and PostgreSQL stores are sync (their
calls are short and block the loop only briefly); `AsyncPostgresStore` is the async twin
whose methods carry an ``a`` prefix. `StoreView` awaits the one and calls the other, and
the adapter only ever talks to a `StoreView`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hitl_core.clock import Clock
from hitl_core.decisions import DecisionInput
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores import ApprovalStore, ExecutionRecord, RunRecord
from hitl_core.stores.async_base import AsyncApprovalStore

__all__ = ["AsyncApprovalStore", "StoreView", "view_of"]


class StoreView(Protocol):
    """Awaitable store operations: what the adapter needs, whichever kind of store it has."""

    clock: Clock

    async def get(self, request_id: str) -> ApprovalRequest: ...

    async def decide(self, request_id: str, decision: DecisionInput) -> ApprovalRequest: ...

    async def decided(self, run_id: str) -> list[ApprovalRequest]:
        """The run's requests that hold a decision not yet applied."""
        ...

    async def expire_due(self, run_id: str) -> None: ...

    async def save_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
    ) -> RunRecord: ...

    async def load_run(self, run_id: str) -> RunRecord: ...

    async def record_execution(self, record: ExecutionRecord) -> ExecutionRecord: ...

    async def executions(self, run_id: str) -> dict[str, ExecutionRecord]: ...


class _SyncView:
    """A sync store, called directly (each call is one short transaction)."""

    def __init__(self, store: ApprovalStore) -> None:
        self.store: ApprovalStore = store
        self.clock = store.clock

    async def get(self, request_id: str) -> ApprovalRequest:
        return self.store.get(request_id)

    async def decide(self, request_id: str, decision: DecisionInput) -> ApprovalRequest:
        return self.store.decide(request_id, decision)

    async def decided(self, run_id: str) -> list[ApprovalRequest]:
        return self.store.list_requests(status=RequestStatus.DECIDED, run_id=run_id).items

    async def expire_due(self, run_id: str) -> None:
        self.store.expire_due(run_id=run_id)

    async def save_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
    ) -> RunRecord:
        return self.store.save_run(
            run, requests, resumed=resumed, expected_version=expected_version
        )

    async def load_run(self, run_id: str) -> RunRecord:
        return self.store.load_run(run_id)

    async def record_execution(self, record: ExecutionRecord) -> ExecutionRecord:
        return self.store.record_execution(record)

    async def executions(self, run_id: str) -> dict[str, ExecutionRecord]:
        return self.store.executions(run_id)


class _AsyncView:
    """An async store, awaited."""

    def __init__(self, store: AsyncApprovalStore) -> None:
        self.store: AsyncApprovalStore = store
        self.clock = store.clock

    async def get(self, request_id: str) -> ApprovalRequest:
        return await self.store.aget(request_id)

    async def decide(self, request_id: str, decision: DecisionInput) -> ApprovalRequest:
        return await self.store.adecide(request_id, decision)

    async def decided(self, run_id: str) -> list[ApprovalRequest]:
        page = await self.store.alist_requests(status=RequestStatus.DECIDED, run_id=run_id)
        return page.items

    async def expire_due(self, run_id: str) -> None:
        await self.store.aexpire_due(run_id=run_id)

    async def save_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
    ) -> RunRecord:
        return await self.store.asave_run(
            run, requests, resumed=resumed, expected_version=expected_version
        )

    async def load_run(self, run_id: str) -> RunRecord:
        return await self.store.aload_run(run_id)

    async def record_execution(self, record: ExecutionRecord) -> ExecutionRecord:
        return await self.store.arecord_execution(record)

    async def executions(self, run_id: str) -> dict[str, ExecutionRecord]:
        return await self.store.aexecutions(run_id)


def view_of(store: ApprovalStore | AsyncApprovalStore) -> StoreView:
    """The awaitable view of `store`: awaited if it is async, called directly if not."""
    if isinstance(store, AsyncApprovalStore):
        return _AsyncView(store)
    return _SyncView(store)
