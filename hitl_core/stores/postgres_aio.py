"""The async twin of `PostgresStore`: same SQL, same rules, awaited I/O.

Open it with ``store = await AsyncPostgresStore.open(url)``; every method is the sync
store's name with an ``a`` prefix (`adecide`, `asave_run`...). Use it from async
frameworks (the OpenAI Agents SDK, LangGraph's ``ainvoke``) so store calls never block
the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import AuditHead, linked_document
from hitl_core.clock import Clock, SystemClock
from hitl_core.decisions import DecisionInput
from hitl_core.errors import (
    InvalidInput,
    SchemaVersionMismatch,
    StoreError,
    UnknownRequest,
    UnknownRun,
)
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores import lifecycle
from hitl_core.stores import postgres_sql as sql
from hitl_core.stores.base import ExecutionRecord, Page, RunRecord, check_limit
from hitl_core.stores.leases import Claim

try:
    import psycopg
    from psycopg.types.json import Jsonb
    from psycopg_pool import AsyncConnectionPool
except ModuleNotFoundError as error:  # pragma: no cover - exercised without the extra
    from hitl_core.errors import MissingDependency

    raise MissingDependency(error.name or "psycopg", "postgres") from error

__all__ = ["AsyncPostgresStore"]

Cursor = psycopg.AsyncCursor[Any]


class AsyncPostgresStore:
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
            raise StoreError(f"Cannot connect to {sql.masked_url(url)}: {error}") from None
        store = cls(url, pool, clock or SystemClock())
        try:
            await store.asetup()
        except BaseException:
            await pool.close()  # a refused schema must not leave a pool behind
            raise
        return store

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Cursor]:
        try:
            async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as error:
            raise StoreError(f"PostgreSQL store {self.url} failed: {error}") from error

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Cursor]:
        """One statement outside a transaction (a snapshot of its own, one round trip)."""
        try:
            async with self.pool.connection() as conn, conn.cursor() as cur:
                yield cur
        except psycopg.Error as error:
            raise StoreError(f"PostgreSQL store {self.url} failed: {error}") from error

    async def asetup(self) -> None:
        """Async twin of `PostgresStore.setup`."""
        async with self._tx() as cur:
            await cur.execute(sql.LOCK, (sql.MIGRATION_LOCK,))
            await cur.execute(sql.CREATE_SCHEMA_TABLE)
            current = sql.scalar(await (await cur.execute(sql.SCHEMA_VERSION)).fetchone())
            if current > len(sql.MIGRATIONS):
                raise SchemaVersionMismatch(
                    f"PostgreSQL store {self.url}", current, len(sql.MIGRATIONS)
                )
            for version in range(current + 1, len(sql.MIGRATIONS) + 1):
                await cur.execute(sql.MIGRATIONS[version - 1].encode())
                await cur.execute(sql.RECORD_VERSION, (version, self.clock.now()))

    # -- helpers --------------------------------------------------------------------

    @staticmethod
    async def _load(cur: Cursor, request_id: str, *, lock: bool) -> ApprovalRequest | None:
        query = sql.SELECT_REQUEST + (" FOR UPDATE" if lock else "")
        row = await (await cur.execute(query, (request_id,))).fetchone()
        return ApprovalRequest.model_validate(row[0]) if row else None

    @staticmethod
    async def _require(cur: Cursor, request_id: str, heads: sql.Heads) -> ApprovalRequest:
        """Async twin of `PostgresStore._require`."""
        row = await (await cur.execute(sql.SELECT_REQUEST_AND_HEAD, (request_id,))).fetchone()
        if row is None:
            raise UnknownRequest(request_id)
        request = ApprovalRequest.model_validate(row[0])
        heads.setdefault(request.run_id, sql.head_of(request.run_id, row[1:]))
        return request

    @classmethod
    async def _apply(
        cls, cur: Cursor, transition: lifecycle.Transition, heads: sql.Heads
    ) -> ApprovalRequest:
        request, event = transition
        if event is None:
            return request
        await cur.execute(sql.UPSERT_REQUEST, sql.request_row(request, Jsonb))
        await cls._append(cur, event, heads)
        return request

    @staticmethod
    async def _append(cur: Cursor, event: AuditEvent, heads: sql.Heads) -> None:
        """Async twin of `PostgresStore._append`."""
        run_id = event.run_id
        if run_id not in heads:
            row = await (await cur.execute(sql.SELECT_HEAD, (run_id,))).fetchone()
            heads[run_id] = sql.head_of(run_id, row)
        doc, head = linked_document(event, heads[run_id])
        query, params = sql.append_audit(event, doc, head, Jsonb)
        if sql.scalar(await (await cur.execute(query, params)).fetchone()) != 1:
            raise StoreError(sql.head_moved(run_id))
        heads[run_id] = head

    @staticmethod
    async def _load_run(cur: Cursor, run_id: str, *, lock: bool) -> RunRecord | None:
        query = sql.SELECT_RUN + (" FOR UPDATE" if lock else "")
        row = await (await cur.execute(query, (run_id,))).fetchone()
        return RunRecord.model_validate(row[0]) if row else None

    # -- the port, awaited ----------------------------------------------------------

    async def aput(self, request: ApprovalRequest) -> ApprovalRequest:
        """Async twin of `PostgresStore.put`."""
        async with self._tx() as cur:
            await cur.execute(sql.LOCK_RUN, (request.run_id,))
            existing = await self._load(cur, request.id, lock=True)
            return await self._apply(cur, lifecycle.create(existing, request), {})

    async def aget(self, request_id: str) -> ApprovalRequest:
        """Async twin of `PostgresStore.get`."""
        async with self._read() as cur:
            request = await self._load(cur, request_id, lock=False)
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
        if limit < 1:
            raise InvalidInput(f"limit must be at least 1, not {limit}.")
        query, params = sql.list_query(status, run_id, tool, cursor, limit)
        async with self._read() as cur:
            rows = await (await cur.execute(query, params)).fetchall()
        return sql.page_of(rows, limit)

    async def adecide(self, request_id: str, decision: DecisionInput) -> ApprovalRequest:
        """Async twin of `PostgresStore.decide`."""
        async with self._tx() as cur:
            heads: sql.Heads = {}
            await cur.execute(sql.LOCK_RUN_OF_REQUEST, (request_id,))
            request = await self._require(cur, request_id, heads)
            transition = lifecycle.decide(request, decision, self.clock.now())
            return await self._apply(cur, transition, heads)

    async def aexpire_due(
        self, now: datetime | None = None, *, run_id: str | None = None, limit: int | None = None
    ) -> list[ApprovalRequest]:
        """Async twin of `PostgresStore.expire_due`."""
        now = now or self.clock.now()
        query, params = sql.expire_query(now, run_id, limit)
        async with self._tx() as cur:
            heads: sql.Heads = {}
            if run_id is not None:
                await cur.execute(sql.LOCK_RUN, (run_id,))
            rows = await (await cur.execute(query, params)).fetchall()
            due = [ApprovalRequest.model_validate(r[0]) for r in rows]
            if run_id is None and due:
                locked = await (
                    await cur.execute(sql.TRY_LOCK_RUNS, (sql.due_runs(due),))
                ).fetchall()
                runs = [r[0] for r in locked]
                head_rows = await (await cur.execute(sql.SELECT_HEADS, (runs,))).fetchall()
                due, heads = sql.lockable(due, locked, head_rows)
            return [await self._apply(cur, lifecycle.expire(r, now), heads) for r in due]

    async def amark_resumed(self, request_id: str) -> ApprovalRequest:
        """Async twin of `PostgresStore.mark_resumed`."""
        async with self._tx() as cur:
            heads: sql.Heads = {}
            await cur.execute(sql.LOCK_RUN_OF_REQUEST, (request_id,))
            request = await self._require(cur, request_id, heads)
            return await self._apply(cur, lifecycle.resume(request, self.clock.now()), heads)

    async def acancel_run(
        self, run_id: str, *, by: str, reason: str | None = None
    ) -> list[ApprovalRequest]:
        """Async twin of `PostgresStore.cancel_run`."""
        now = self.clock.now()
        async with self._tx() as cur:
            await cur.execute(sql.LOCK_RUN, (run_id,))
            rows = await (await cur.execute(sql.SELECT_PENDING_OF_RUN, (run_id,))).fetchall()
            pending = [ApprovalRequest.model_validate(r[0]) for r in rows]
            heads: sql.Heads = {}
            cancelled = [
                await self._apply(cur, lifecycle.cancel(r, now, by, reason), heads) for r in pending
            ]
            stored = await self._load_run(cur, run_id, lock=True)
            if stored is not None:
                await cur.execute(
                    sql.UPSERT_RUN, sql.run_row(lifecycle.cancel_run(stored, now), Jsonb)
                )
            return cancelled

    async def asave_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
    ) -> RunRecord:
        """Async twin of `PostgresStore.save_run`."""
        async with self._tx() as cur:
            locked = sql.runs_to_lock(run, requests)
            for run_id in locked:
                await cur.execute(sql.LOCK_RUN, (run_id,))
            stored = await self._load_run(cur, run.run_id, lock=True)
            saved = lifecycle.save_run(run, stored, expected_version)
            transitions = [
                lifecycle.create(await self._load(cur, r.id, lock=True), r) for r in requests
            ]
            await cur.execute(sql.UPSERT_RUN, sql.run_row(saved, Jsonb))
            heads: sql.Heads = {}
            for transition in transitions:
                await self._apply(cur, transition, heads)
            for request_id in resumed:
                request = await self._require(cur, request_id, heads)
                if request.run_id not in locked:  # another run's request: lock it, read again
                    await cur.execute(sql.LOCK_RUN, (request.run_id,))
                    locked.append(request.run_id)
                    del heads[request.run_id]
                    request = await self._require(cur, request_id, heads)
                await self._apply(cur, lifecycle.resume(request, self.clock.now()), heads)
            return saved

    async def aload_run(self, run_id: str) -> RunRecord:
        """Async twin of `PostgresStore.load_run`."""
        async with self._read() as cur:
            run = await self._load_run(cur, run_id, lock=False)
        if run is None:
            raise UnknownRun(run_id)
        return run

    async def arecord_execution(self, record: ExecutionRecord) -> ExecutionRecord:
        """Async twin of `PostgresStore.record_execution`."""
        async with self._tx() as cur:
            await cur.execute(sql.LOCK_RUN, (record.run_id,))
            doc = Jsonb(record.model_dump(mode="json"))
            inserted = await (
                await cur.execute(sql.INSERT_EXECUTION, (record.run_id, record.call_id, doc))
            ).fetchone()
            if inserted:
                await self._append(cur, lifecycle.executed(record), {})
                return record
            row = await (
                await cur.execute(sql.SELECT_EXECUTION, (record.run_id, record.call_id))
            ).fetchone()
            assert row is not None
            return ExecutionRecord.model_validate(row[0])

    async def aexecutions(self, run_id: str) -> dict[str, ExecutionRecord]:
        """Async twin of `PostgresStore.executions`."""
        async with self._read() as cur:
            rows = await (await cur.execute(sql.SELECT_EXECUTIONS, (run_id,))).fetchall()
        return {call_id: ExecutionRecord.model_validate(doc) for call_id, doc in rows}

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
            rows = await (await cur.execute(query, params)).fetchall()
        return sql.events_of(rows)

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
            return sql.heads_of(await (await cur.execute(query, params)).fetchall())

    async def alast_audit_seq(self) -> int:
        """Async twin of `PostgresStore.last_audit_seq`."""
        end = await self._tail_end(0)
        async with self._read() as cur:
            return sql.scalar(await (await cur.execute(sql.LAST_STABLE_SEQ, (end,))).fetchone())

    async def aclaim_ready(self, worker: str, *, lease: timedelta, limit: int = 10) -> list[Claim]:
        """Async twin of `PostgresStore.claim_ready`."""
        now = self.clock.now()
        async with self._tx() as cur:
            rows = await (await cur.execute(sql.CLAIM_SELECT, (now, limit))).fetchall()
            await cur.execute(sql.CLAIM_UPDATE, (worker, now + lease, [r[0] for r in rows]))
        return [Claim(run_id=r, adapter=a, worker=worker, until=now + lease) for r, a in rows]

    async def arelease(self, run_id: str, worker: str) -> None:
        """Async twin of `PostgresStore.release`."""
        async with self._tx() as cur:
            await cur.execute(sql.RELEASE, (run_id, worker))

    async def aclose(self) -> None:
        """Async twin of `PostgresStore.close`."""
        await self.pool.close()
