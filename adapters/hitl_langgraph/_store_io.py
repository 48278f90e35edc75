"""One way to reach any approval store from sync and async graph code.

Sync runs call the store's methods; async runs await `AsyncPostgresStore`'s ``a``-prefixed
twins and call the in-process stores (memory, SQLite) directly, whose operations are
short local writes. Only the operations the adapter needs are here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hitl_core.clock import Clock
from hitl_core.decisions import DecisionInput
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores import ApprovalStore, ExecutionRecord, Page, RunRecord
from hitl_core.stores.async_base import AsyncApprovalStore
from hitl_langgraph.errors import SyncCallOnAsyncStore

if TYPE_CHECKING:
    pass

__all__ = ["AnyStore", "AsyncApprovalStore", "StoreIO"]


AnyStore = ApprovalStore | AsyncApprovalStore
"""A sync store (memory, SQLite, PostgreSQL) or the async PostgreSQL store."""


class StoreIO:
    """`store`'s operations as sync methods and as awaitable ``a`` twins."""

    def __init__(self, store: AnyStore) -> None:
        self.store = store
        self.clock: Clock = store.clock
        self._async = isinstance(store, AsyncApprovalStore)
        self._sync = store if isinstance(store, ApprovalStore) and not self._async else None

    def answered(self, run_id: str) -> list[str]:
        """The ids of the run's requests that are decided or expired but not yet applied."""
        store = self.sync
        return [
            r.id
            for status in (RequestStatus.DECIDED, RequestStatus.EXPIRED)
            for r in store.list_requests(run_id=run_id, status=status).items
        ]

    @property
    def sync(self) -> ApprovalStore:
        """The store for sync code. Raises `SyncCallOnAsyncStore` for the async-only one."""
        if self._sync is None:
            raise SyncCallOnAsyncStore()
        return self._sync

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self._async:
            return await getattr(self.store, f"a{name}")(*args, **kwargs)
        return getattr(self.store, name)(*args, **kwargs)

    async def aput(self, request: ApprovalRequest) -> ApprovalRequest:
        result: ApprovalRequest = await self._call("put", request)
        return result

    async def aget(self, request_id: str) -> ApprovalRequest:
        result: ApprovalRequest = await self._call("get", request_id)
        return result

    async def adecide(self, request_id: str, decision: DecisionInput) -> ApprovalRequest:
        result: ApprovalRequest = await self._call("decide", request_id, decision)
        return result

    async def amark_resumed(self, request_id: str) -> ApprovalRequest:
        result: ApprovalRequest = await self._call("mark_resumed", request_id)
        return result

    async def aexpire_due(self, run_id: str) -> list[ApprovalRequest]:
        result: list[ApprovalRequest] = await self._call("expire_due", run_id=run_id)
        return result

    async def asave_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
    ) -> RunRecord:
        result: RunRecord = await self._call(
            "save_run", run, requests, resumed=resumed, expected_version=expected_version
        )
        return result

    async def aload_run(self, run_id: str) -> RunRecord:
        result: RunRecord = await self._call("load_run", run_id)
        return result

    async def aanswered(self, run_id: str) -> list[str]:
        """The ids of the run's requests that are decided or expired but not yet applied."""
        ids: list[str] = []
        for status in (RequestStatus.DECIDED, RequestStatus.EXPIRED):
            page: Page = await self._call("list_requests", run_id=run_id, status=status)
            ids += [r.id for r in page.items]
        return ids

    async def arecord_execution(self, record: ExecutionRecord) -> ExecutionRecord:
        result: ExecutionRecord = await self._call("record_execution", record)
        return result

    async def aexecutions(self, run_id: str) -> dict[str, ExecutionRecord]:
        result: dict[str, ExecutionRecord] = await self._call("executions", run_id)
        return result
