"""The async twin of `PostgresStore`: same SQL, same rules, awaited I/O.

Open it with ``store = await AsyncPostgresStore.open(url)``; every method is the sync
store's name with an ``a`` prefix (`adecide`, `asave_run`...). Use it from async
frameworks (the OpenAI Agents SDK, LangGraph's ``ainvoke``) so store calls never block
the event loop. The ledger operations are in `postgres_ledger.AsyncPostgresLedger`, next
to their sync twins; the cursor helpers in `postgres_cursor`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import AuditHead
from hitl_core.clock import Clock, SystemClock
from hitl_core.decisions import DecisionInput
from hitl_core.errors import (
    MissingDependency,
    SchemaVersionMismatch,
    StoreError,
    StoreUnavailable,
    UnknownRequest,
    UnknownRun,
)
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores import lease_rules, lifecycle
from hitl_core.stores import postgres_cursor as pc
from hitl_core.stores import postgres_rows as rows
from hitl_core.stores import postgres_sql as sql
from hitl_core.stores.leases import Lease
from hitl_core.stores.postgres_ledger import AsyncPostgresLedger
from hitl_core.stores.records import Page, RunPage, RunRecord, RunStatus, check_limit

try:
    import psycopg
    from psycopg.types.json import Jsonb
    from psycopg_pool import AsyncConnectionPool
except ModuleNotFoundError as error:  # pragma: no cover - exercised without the extra
    raise MissingDependency(error.name or "psycopg", "postgres") from error

__all__ = ["AsyncPostgresStore"]

Cursor = pc.ACursor


class AsyncPostgresStore(AsyncPostgresLedger):
    """`PostgresStore` for asyncio code. Build it with `AsyncPostgresStore.open`."""

    def __init__(self, url: str, pool: AsyncConnectionPool[Any], clock: Clock) -> None:
        self.url = sql.masked_url(url)
        self.pool = pool
        self.clock = clock
        self.tail_wait = sql.TAIL_WAIT
        """As `PostgresStore.tail_wait`."""

    @classmethod
    async def open(
        cls, url: str, *, clock: Clock | None = None, min_size: int = 1, max_size: int = 10
    ) -> AsyncPostgresStore:
        """Connect, open the pool and create or upgrade the schema."""
        try:
            await (
                await psycopg.AsyncConnection.connect(sql.conninfo(url), connect_timeout=10)
            ).close()
            pool = AsyncConnectionPool(
                sql.conninfo(url),
                min_size=min_size,
                max_size=max_size,
                open=False,
                kwargs={"autocommit": True},
            )
            await pool.open(wait=True, timeout=30)
        except Exception as error:
            kind = StoreUnavailable if isinstance(error, psycopg.OperationalError) else StoreError
            raise kind(f"Cannot connect to {sql.masked_url(url)}: {error}") from None
        store = cls(url, pool, clock or SystemClock())
        try:
            await store.asetup()
        except BaseException:
            await pool.close()  # a refused schema must not leave a pool behind
            raise
        return store

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Cursor]:
        """Async twin of `PostgresStore._tx`."""
        try:
            async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as error:
            transient = isinstance(error, psycopg.OperationalError)
            raise rows.store_error(self.url, error, transient=transient) from error

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Cursor]:
        """Async twin of `PostgresStore._read`."""
        try:
            async with self.pool.connection() as conn, conn.cursor() as cur:
                yield cur
        except psycopg.Error as error:
            transient = isinstance(error, psycopg.OperationalError)
            raise rows.store_error(self.url, error, transient=transient) from error

    async def asetup(self) -> None:
        """Async twin of `PostgresStore.setup`."""
        async with self._tx() as cur:
            await cur.execute(sql.LOCK, (sql.MIGRATION_LOCK,))
            await cur.execute(sql.CREATE_SCHEMA_TABLE)
            current = rows.scalar(await (await cur.execute(sql.SCHEMA_VERSION)).fetchone())
            if current > len(sql.MIGRATIONS):
                raise SchemaVersionMismatch(
                    f"PostgreSQL store {self.url}", current, len(sql.MIGRATIONS)
                )
            for version in range(current + 1, len(sql.MIGRATIONS) + 1):
                await cur.execute(sql.MIGRATIONS[version - 1].encode())
                await cur.execute(sql.RECORD_VERSION, (version, self.clock.now()))

    # -- requests -------------------------------------------------------------------

    async def aput(self, request: ApprovalRequest) -> ApprovalRequest:
        """Async twin of `PostgresStore.put`."""
        async with self._tx() as cur:
            await cur.execute(sql.LOCK_RUN, (request.run_id,))
            existing = await pc.aload_request(cur, request.id, lock=True)
            return await pc.aapply(cur, lifecycle.create(existing, request), {})

    async def aget(self, request_id: str) -> ApprovalRequest:
        """Async twin of `PostgresStore.get`."""
        async with self._read() as cur:
            request = await pc.aload_request(cur, request_id, lock=False)
        if request is None:
            raise UnknownRequest(request_id)
        return request

    async def alist_requests(
        self,
        *,
        status: RequestStatus | None = RequestStatus.PENDING,
        run_id: str | None = None,
        tool: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """Async twin of `PostgresStore.list_requests`."""
        check_limit(limit)
        query, params = sql.list_query(status, run_id, tool, cursor, limit)
        async with self._read() as cur:
            found = await (await cur.execute(query, params)).fetchall()
        return rows.page_of(found, limit)

    async def adecide(
        self, request_id: str, decision: DecisionInput, *, roles: Sequence[str] = ()
    ) -> ApprovalRequest:
        """Async twin of `PostgresStore.decide`."""
        async with self._tx() as cur:
            heads: rows.Heads = {}
            await cur.execute(sql.LOCK_RUN_OF_REQUEST, (request_id,))
            request = await pc.arequire(cur, request_id, heads)
            transition = lifecycle.decide(request, decision, self.clock.now(), roles)
            return await pc.aapply(cur, transition, heads)

    async def aexpire_due(
        self, now: datetime | None = None, *, run_id: str | None = None, limit: int | None = None
    ) -> list[ApprovalRequest]:
        """Async twin of `PostgresStore.expire_due`."""
        now = now or self.clock.now()
        async with self._read() as cur:
            if await (await cur.execute(*sql.due_probe(now, run_id))).fetchone() is None:
                return []
        query, params = sql.expire_query(now, run_id, limit)
        async with self._tx() as cur:
            heads: rows.Heads = {}
            if run_id is not None:
                await cur.execute(sql.LOCK_RUN, (run_id,))
            found = await (await cur.execute(query, params)).fetchall()
            due = [ApprovalRequest.model_validate(r[0]) for r in found]
            if run_id is None and due:
                locked = await (
                    await cur.execute(sql.TRY_LOCK_RUNS, (rows.due_runs(due),))
                ).fetchall()
                runs = [r[0] for r in locked]
                head_rows = await (await cur.execute(sql.SELECT_HEADS, (runs,))).fetchall()
                due, heads = rows.lockable(due, locked, head_rows)
            return [await pc.aapply(cur, lifecycle.expire(r, now), heads) for r in due]

    async def amark_resumed(self, request_id: str) -> ApprovalRequest:
        """Async twin of `PostgresStore.mark_resumed`."""
        async with self._tx() as cur:
            heads: rows.Heads = {}
            await cur.execute(sql.LOCK_RUN_OF_REQUEST, (request_id,))
            request = await pc.arequire(cur, request_id, heads)
            return await pc.aapply(cur, lifecycle.resume(request, self.clock.now()), heads)

    async def acancel_run(
        self, run_id: str, *, by: str, reason: str | None = None
    ) -> list[ApprovalRequest]:
        """Async twin of `PostgresStore.cancel_run`."""
        now = self.clock.now()
        async with self._tx() as cur:
            await cur.execute(sql.LOCK_RUN, (run_id,))
            found = await (await cur.execute(sql.SELECT_PENDING_OF_RUN, (run_id,))).fetchall()
            pending = [ApprovalRequest.model_validate(r[0]) for r in found]
            heads: rows.Heads = {}
            cancelled = [
                await pc.aapply(cur, lifecycle.cancel(r, now, by, reason), heads) for r in pending
            ]
            stored = await pc.aload_run(cur, run_id, lock=True)
            if stored is not None:
                cancelled_run = lifecycle.cancel_run(stored, now)
                await cur.execute(sql.UPSERT_RUN, rows.run_row(cancelled_run, Jsonb))
                existing = await pc.aload_lease(cur, run_id)
                await pc.awrite_lease(cur, lease_rules.revoke(existing, run_id, by, now))
            return cancelled

    # -- runs -----------------------------------------------------------------------

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
        """Async twin of `PostgresStore.save_run`."""
        now = self.clock.now()
        async with self._tx() as cur:
            locked = rows.runs_to_lock(run.run_id, requests)
            await pc.alock_runs(cur, locked)
            lease_rules.check(await pc.aload_lease(cur, run.run_id), lease, run.run_id, now)
            stored = await pc.aload_run(cur, run.run_id, lock=True)
            saved = lifecycle.save_run(run, stored, expected_version)
            transitions = [
                lifecycle.create(await pc.aload_request(cur, r.id, lock=True), r) for r in requests
            ]
            await cur.execute(sql.UPSERT_RUN, rows.run_row(saved, Jsonb))
            heads: rows.Heads = {}
            for transition in transitions:
                await pc.aapply(cur, transition, heads)
            for request_id in resumed:
                request = await pc.arequire(cur, request_id, heads)
                if request.run_id not in locked:  # another run's request: lock it, read again
                    await cur.execute(sql.LOCK_RUN, (request.run_id,))
                    locked.append(request.run_id)
                    del heads[request.run_id]
                    request = await pc.arequire(cur, request_id, heads)
                await pc.aapply(cur, lifecycle.resume(request, now), heads)
            if release and lease is not None:
                await pc.arelease(cur, lease, now)
            return saved

    async def aload_run(self, run_id: str) -> RunRecord:
        """Async twin of `PostgresStore.load_run`."""
        async with self._read() as cur:
            run = await pc.aload_run(cur, run_id, lock=False)
        if run is None:
            raise UnknownRun(run_id)
        return run

    async def alist_runs(
        self,
        *,
        status: RunStatus | None = None,
        adapter: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> RunPage:
        """Async twin of `PostgresStore.list_runs`."""
        check_limit(limit)
        query, params = sql.runs_query(status, adapter, cursor, limit)
        async with self._read() as cur:
            return rows.run_page_of(await (await cur.execute(query, params)).fetchall(), limit)

    async def afail_run(
        self,
        run_id: str,
        error: str,
        *,
        lease: Lease | None,
        events: Sequence[AuditEvent] = (),
    ) -> RunRecord:
        """Async twin of `PostgresStore.fail_run`."""
        now = self.clock.now()
        async with self._tx() as cur:
            await cur.execute(sql.LOCK_RUN, (run_id,))
            lease_rules.check(await pc.aload_lease(cur, run_id), lease, run_id, now)
            stored = await pc.aload_run(cur, run_id, lock=True)
            if stored is None:
                raise UnknownRun(run_id)
            record, event = lifecycle.failed(stored, error, now)
            await cur.execute(sql.UPSERT_RUN, rows.run_row(record, Jsonb))
            heads: rows.Heads = {}
            for extra in (*events, event):
                await pc.aappend(cur, extra, heads)
            if lease is not None:
                await pc.arelease(cur, lease, now)
            return record

    async def aretry_run(self, run_id: str, *, by: str) -> RunRecord:
        """Async twin of `PostgresStore.retry_run`."""
        now = self.clock.now()
        async with self._tx() as cur:
            await cur.execute(sql.LOCK_RUN, (run_id,))
            stored = await pc.aload_run(cur, run_id, lock=True)
            if stored is None:
                raise UnknownRun(run_id)
            current = await pc.aload_lease(cur, run_id)
            record, event, revoked = lifecycle.retry_run(stored, current, now, by)
            await cur.execute(sql.UPSERT_RUN, rows.run_row(record, Jsonb))
            await pc.aappend(cur, event, {})
            if revoked is not None:
                await pc.awrite_lease(cur, revoked)
            return record

    # -- the audit trail ------------------------------------------------------------

    async def aaudit(
        self,
        *,
        run_id: str | None = None,
        request_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """Async twin of `PostgresStore.audit`."""
        check_limit(limit)
        end = None
        if after is not None:
            end = await self._tail_end(after)
            if end <= after:
                return []
        query, params = sql.audit_query(run_id, request_id, after, limit, end)
        async with self._read() as cur:
            return rows.events_of(await (await cur.execute(query, params)).fetchall())

    async def _tail_end(self, after: int) -> int:
        """Async twin of `PostgresStore._tail_end`."""
        async with self._read() as cur:
            row = await (await cur.execute(sql.TAIL_END, (after,))).fetchone()
        assert row is not None
        end, writers = row
        wait = sql.TailWait(self.url, end, self.tail_wait)
        while writers:
            async with self._read() as cur:
                still = await (await cur.execute(sql.OPEN_WRITERS, (writers,))).fetchall()
            writers = [vxid for vxid, _ in still]
            if writers:
                await asyncio.sleep(wait.pause(still))
        return int(end)

    async def aaudit_heads(self, run_id: str | None = None) -> dict[str, AuditHead]:
        """Async twin of `PostgresStore.audit_heads`."""
        query, params = sql.heads_query(run_id)
        async with self._read() as cur:
            return rows.heads_of(await (await cur.execute(query, params)).fetchall())

    async def alast_audit_seq(self) -> int:
        """Async twin of `PostgresStore.last_audit_seq`."""
        end = await self._tail_end(0)
        async with self._read() as cur:
            return rows.scalar(await (await cur.execute(sql.LAST_STABLE_SEQ, (end,))).fetchone())

    async def aclose(self) -> None:
        """Async twin of `PostgresStore.close`."""
        await self.pool.close()
