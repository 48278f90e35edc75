"""The async store port: `ApprovalStore`'s operations, awaited, under ``a``-prefixed names.

`hitl_core.stores.postgres_aio.AsyncPostgresStore` implements it. Adapters running on
asyncio accept ``ApprovalStore | AsyncApprovalStore`` and await the twin when they have
one; the in-process stores (memory, SQLite) are called directly, their writes are short.
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
from hitl_core.stores.records import Page, RunPage, RunRecord, RunStatus

__all__ = ["AsyncApprovalStore"]


@runtime_checkable
class AsyncApprovalStore(Protocol):
    """Async twin of `ApprovalStore`; each method's contract is its sync namesake's."""

    url: str
    clock: Clock

    async def aput(self, request: ApprovalRequest) -> ApprovalRequest: ...

    async def aget(self, request_id: str) -> ApprovalRequest: ...

    async def alist_requests(
        self,
        *,
        status: RequestStatus | None = RequestStatus.PENDING,
        run_id: str | None = None,
        tool: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page: ...

    async def adecide(
        self, request_id: str, decision: DecisionInput, *, roles: Sequence[str] = ()
    ) -> ApprovalRequest: ...

    async def aexpire_due(
        self, now: datetime | None = None, *, run_id: str | None = None, limit: int | None = None
    ) -> list[ApprovalRequest]: ...

    async def amark_resumed(self, request_id: str) -> ApprovalRequest: ...

    async def acancel_run(
        self, run_id: str, *, by: str, reason: str | None = None
    ) -> list[ApprovalRequest]: ...

    async def asave_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
        lease: Lease | None = None,
        release: bool = False,
    ) -> RunRecord: ...

    async def aload_run(self, run_id: str) -> RunRecord: ...

    async def alist_runs(
        self,
        *,
        status: RunStatus | None = None,
        adapter: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> RunPage: ...

    async def afail_run(
        self,
        run_id: str,
        error: str,
        *,
        lease: Lease | None,
        events: Sequence[AuditEvent] = (),
    ) -> RunRecord: ...

    async def aretry_run(self, run_id: str, *, by: str) -> RunRecord: ...

    async def aacquire_lease(self, run_id: str, holder: str, *, ttl: timedelta) -> Lease: ...

    async def arenew_lease(self, lease: Lease, *, ttl: timedelta) -> Lease: ...

    async def arelease_lease(self, lease: Lease) -> None: ...

    async def alease_of(self, run_id: str) -> Lease | None: ...

    async def aclaim_call(self, record: CallRecord, lease: Lease) -> CallRecord: ...

    async def asettle_call(
        self, record: CallRecord, lease: Lease, requests: Sequence[ApprovalRequest] = ()
    ) -> CallRecord: ...

    async def acalls(self, run_id: str) -> dict[str, CallRecord]: ...

    async def aaudit(
        self,
        *,
        run_id: str | None = None,
        request_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]: ...

    async def aaudit_heads(self, run_id: str | None = None) -> dict[str, AuditHead]: ...

    async def alast_audit_seq(self) -> int: ...

    async def aclose(self) -> None: ...
