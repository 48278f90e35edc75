"""`postgresql://...`: the store for many workers on many machines (psycopg 3 + psycopg-pool).

Every operation is one transaction. A write first takes its run's advisory lock, then
reads what it changes, so concurrent deciders get one winner and `AlreadyDecided` for the
rest, each run's audit chain grows one link at a time, and a lease check and the write it
guards can never interleave with a takeover. Expiry and `claim_ready` take rows with
``FOR UPDATE SKIP LOCKED`` and only the run locks no one holds, so several workers work
side by side and never wait on each other. New requests, decisions, expiries and resumes
also ``NOTIFY hitl_events``, so a listening worker wakes within milliseconds instead of
polling. Reading the audit trail ``after`` a seq waits for the transactions still writing
below the newest seq, so a tail never skips an event that commits late. The SQL is
shared with the async twin (`postgres_aio.AsyncPostgresStore`); driver errors become
`StoreError` (`StoreUnavailable` when the server or pool cannot be reached) here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
from hitl_core.stores.deliveries import DeliveryRecord
from hitl_core.stores.leases import Lease
from hitl_core.stores.postgres_ledger import PostgresLedger
from hitl_core.stores.records import Page, RunPage, RunRecord, RunStatus, check_limit

try:
    import psycopg
    from psycopg.types.json import Jsonb
    from psycopg_pool import ConnectionPool
except ModuleNotFoundError as error:  # pragma: no cover - exercised without the extra
    raise MissingDependency(error.name or "psycopg", "postgres") from error

__all__ = ["CHANNEL", "MIGRATIONS", "PostgresStore"]

CHANNEL = sql.CHANNEL
MIGRATIONS = sql.MIGRATIONS

Cursor = pc.Cursor


class PostgresStore(PostgresLedger):
    """The `ApprovalStore` on PostgreSQL, shared by any number of processes and machines."""

    def __init__(
        self, url: str, *, clock: Clock | None = None, min_size: int = 1, max_size: int = 10
    ) -> None:
        self.url = sql.masked_url(url)
        self.clock: Clock = clock or SystemClock()
        self.tail_wait = sql.TAIL_WAIT
        """Seconds `audit(after=...)` waits for open audit writers below its end (`TailWait`)."""
        self._conninfo = sql.conninfo(url)
        self._listener: psycopg.Connection[Any] | None = None
        try:
            # Fail fast (and clearly) on a wrong URL, instead of in the pool's retry loop.
            psycopg.connect(self._conninfo, connect_timeout=10).close()
            # Autocommit connections: reads take one round trip; writes open a transaction.
            self.pool = ConnectionPool(
                self._conninfo,
                min_size=min_size,
                max_size=max_size,
                open=True,
                timeout=30,
                kwargs={"autocommit": True},
            )
        except Exception as error:  # psycopg's errors and the pool's own timeout
            kind = StoreUnavailable if isinstance(error, psycopg.OperationalError) else StoreError
            raise kind(f"Cannot connect to {self.url}: {error}") from None
        try:
            self.setup()
        except BaseException:
            self.pool.close()  # a refused schema must not leave a pool behind
            raise

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        """One transaction; driver errors become hitl errors here, at the boundary."""
        try:
            with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as error:
            transient = isinstance(error, psycopg.OperationalError)
            raise rows.store_error(self.url, error, transient=transient) from error

    @contextmanager
    def _read(self) -> Iterator[Cursor]:
        """One statement outside a transaction (a snapshot of its own, one round trip)."""
        try:
            with self.pool.connection() as conn, conn.cursor() as cur:
                yield cur
        except psycopg.Error as error:
            transient = isinstance(error, psycopg.OperationalError)
            raise rows.store_error(self.url, error, transient=transient) from error

    def setup(self) -> None:
        """Create or upgrade the schema. Idempotent; runs on open; safe from many processes.

        Raises:
            SchemaVersionMismatch: the database was written by a newer hitl-kit.
        """
        with self._tx() as cur:
            cur.execute(sql.LOCK, (sql.MIGRATION_LOCK,))
            cur.execute(sql.CREATE_SCHEMA_TABLE)
            current = rows.scalar(cur.execute(sql.SCHEMA_VERSION).fetchone())
            if current > len(MIGRATIONS):
                raise SchemaVersionMismatch(
                    f"PostgreSQL store {self.url}", current, len(MIGRATIONS)
                )
            for version in range(current + 1, len(MIGRATIONS) + 1):
                cur.execute(MIGRATIONS[version - 1].encode())
                cur.execute(sql.RECORD_VERSION, (version, self.clock.now()))

    def schema_version(self) -> int:
        with self._read() as cur:
            return rows.scalar(cur.execute(sql.SCHEMA_VERSION).fetchone())

    _apply = staticmethod(pc.apply)
    """`postgres_cursor.apply`: a request transition written in an open transaction."""

    # -- requests -------------------------------------------------------------------

    def put(self, request: ApprovalRequest) -> ApprovalRequest:
        with self._tx() as cur:
            cur.execute(sql.LOCK_RUN, (request.run_id,))
            existing = pc.load_request(cur, request.id, lock=True)
            return pc.apply(cur, lifecycle.create(existing, request), {})

    def get(self, request_id: str) -> ApprovalRequest:
        with self._read() as cur:
            request = pc.load_request(cur, request_id, lock=False)
        if request is None:
            raise UnknownRequest(request_id)
        return request

    def list_requests(
        self,
        *,
        status: RequestStatus | None = RequestStatus.PENDING,
        run_id: str | None = None,
        tool: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        check_limit(limit)
        query, params = sql.list_query(status, run_id, tool, cursor, limit)
        with self._read() as cur:
            found = cur.execute(query, params).fetchall()
        return rows.page_of(found, limit)

    def decide(
        self, request_id: str, decision: DecisionInput, *, roles: Sequence[str] = ()
    ) -> ApprovalRequest:
        with self._tx() as cur:
            heads: rows.Heads = {}
            cur.execute(sql.LOCK_RUN_OF_REQUEST, (request_id,))
            request = pc.require(cur, request_id, heads)
            transition = lifecycle.decide(request, decision, self.clock.now(), roles)
            return pc.apply(cur, transition, heads)

    def expire_due(
        self, now: datetime | None = None, *, run_id: str | None = None, limit: int | None = None
    ) -> list[ApprovalRequest]:
        """Expire due requests, as `ApprovalStore.expire_due` says.

        It looks first, outside any transaction, and opens one only when something is
        due. Without `run_id`, a request whose run another transaction holds (maybe
        deciding it) is left for the next call rather than waited for, so expirers never
        block.
        """
        now = now or self.clock.now()
        with self._read() as cur:
            if cur.execute(*sql.due_probe(now, run_id)).fetchone() is None:
                return []
        query, params = sql.expire_query(now, run_id, limit)
        with self._tx() as cur:
            heads: rows.Heads = {}
            if run_id is not None:
                cur.execute(sql.LOCK_RUN, (run_id,))
            due = [ApprovalRequest.model_validate(r[0]) for r in cur.execute(query, params)]
            if run_id is None and due:
                locked = cur.execute(sql.TRY_LOCK_RUNS, (rows.due_runs(due),)).fetchall()
                found = cur.execute(sql.SELECT_HEADS, ([r[0] for r in locked],)).fetchall()
                due, heads = rows.lockable(due, locked, found)
            return [pc.apply(cur, lifecycle.expire(r, now), heads) for r in due]

    def mark_resumed(self, request_id: str) -> ApprovalRequest:
        with self._tx() as cur:
            heads: rows.Heads = {}
            cur.execute(sql.LOCK_RUN_OF_REQUEST, (request_id,))
            request = pc.require(cur, request_id, heads)
            return pc.apply(cur, lifecycle.resume(request, self.clock.now()), heads)

    def cancel_run(
        self, run_id: str, *, by: str, reason: str | None = None
    ) -> list[ApprovalRequest]:
        now = self.clock.now()
        with self._tx() as cur:
            cur.execute(sql.LOCK_RUN, (run_id,))
            found = cur.execute(sql.SELECT_PENDING_OF_RUN, (run_id,)).fetchall()
            pending = [ApprovalRequest.model_validate(r[0]) for r in found]
            heads: rows.Heads = {}
            cancelled = [
                pc.apply(cur, lifecycle.cancel(r, now, by, reason), heads) for r in pending
            ]
            stored = pc.load_run(cur, run_id, lock=True)
            if stored is not None:
                cur.execute(sql.UPSERT_RUN, rows.run_row(lifecycle.cancel_run(stored, now), Jsonb))
                revoked = lease_rules.revoke(pc.load_lease(cur, run_id), run_id, by, now)
                pc.write_lease(cur, revoked)
            return cancelled

    # -- runs -----------------------------------------------------------------------

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
        with self._tx() as cur:
            locked = rows.runs_to_lock(run.run_id, requests)
            pc.lock_runs(cur, locked)
            lease_rules.check(pc.load_lease(cur, run.run_id), lease, run.run_id, now)
            stored = pc.load_run(cur, run.run_id, lock=True)
            saved = lifecycle.save_run(run, stored, expected_version)
            transitions = [
                lifecycle.create(pc.load_request(cur, r.id, lock=True), r) for r in requests
            ]
            cur.execute(sql.UPSERT_RUN, rows.run_row(saved, Jsonb))
            heads: rows.Heads = {}
            for transition in transitions:
                pc.apply(cur, transition, heads)
            for request_id in resumed:
                request = pc.require(cur, request_id, heads)
                if request.run_id not in locked:  # another run's request: lock it, read again
                    cur.execute(sql.LOCK_RUN, (request.run_id,))
                    locked.append(request.run_id)
                    del heads[request.run_id]
                    request = pc.require(cur, request_id, heads)
                pc.apply(cur, lifecycle.resume(request, now), heads)
            if release and lease is not None:
                pc.release(cur, lease, now)
            return saved

    def load_run(self, run_id: str) -> RunRecord:
        with self._read() as cur:
            run = pc.load_run(cur, run_id, lock=False)
        if run is None:
            raise UnknownRun(run_id)
        return run

    def list_runs(
        self,
        *,
        status: RunStatus | None = None,
        adapter: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> RunPage:
        check_limit(limit)
        query, params = sql.runs_query(status, adapter, cursor, limit)
        with self._read() as cur:
            return rows.run_page_of(cur.execute(query, params).fetchall(), limit)

    def fail_run(
        self,
        run_id: str,
        error: str,
        *,
        lease: Lease | None,
        events: Sequence[AuditEvent] = (),
    ) -> RunRecord:
        now = self.clock.now()
        with self._tx() as cur:
            cur.execute(sql.LOCK_RUN, (run_id,))
            lease_rules.check(pc.load_lease(cur, run_id), lease, run_id, now)
            stored = pc.load_run(cur, run_id, lock=True)
            if stored is None:
                raise UnknownRun(run_id)
            record, event = lifecycle.failed(stored, error, now)
            cur.execute(sql.UPSERT_RUN, rows.run_row(record, Jsonb))
            heads: rows.Heads = {}
            for extra in (*events, event):
                pc.append(cur, extra, heads)
            if lease is not None:
                pc.release(cur, lease, now)
            return record

    def retry_run(self, run_id: str, *, by: str) -> RunRecord:
        now = self.clock.now()
        with self._tx() as cur:
            cur.execute(sql.LOCK_RUN, (run_id,))
            stored = pc.load_run(cur, run_id, lock=True)
            if stored is None:
                raise UnknownRun(run_id)
            current = pc.load_lease(cur, run_id)
            record, event, revoked = lifecycle.retry_run(stored, current, now, by)
            cur.execute(sql.UPSERT_RUN, rows.run_row(record, Jsonb))
            pc.append(cur, event, {})
            if revoked is not None:
                pc.write_lease(cur, revoked)
            return record

    # -- the audit trail ------------------------------------------------------------

    def audit(
        self,
        *,
        run_id: str | None = None,
        request_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """The audit trail, as `ApprovalStore.audit` says; with `after`, a tail that skips none.

        With `after`, it reads up to the highest seq no open transaction can still add an
        event below (`sql.TAIL_END`), waiting for the audit writers open at that moment
        (milliseconds) first. Without it, it returns everything committed.

        Raises:
            StoreError: with `after`, a writer stayed open over `tail_wait` seconds.
        """
        check_limit(limit)
        end = None
        if after is not None:
            end = self._tail_end(after)
            if end <= after:
                return []
        query, params = sql.audit_query(run_id, request_id, after, limit, end)
        with self._read() as cur:
            return rows.events_of(cur.execute(query, params).fetchall())

    def _tail_end(self, after: int) -> int:
        """The highest seq at or below which no event can still appear.

        When nothing was handed out past `after`, it is at most `after` and nothing is waited for.

        Raises:
            StoreError: an audit writer open at the time stayed open over `tail_wait` seconds.
        """
        with self._read() as cur:
            row = cur.execute(sql.TAIL_END, (after,)).fetchone()
        assert row is not None
        end, writers = row
        wait = sql.TailWait(self.url, end, self.tail_wait)
        while writers:
            with self._read() as cur:
                still = cur.execute(sql.OPEN_WRITERS, (writers,)).fetchall()
            writers = [vxid for vxid, _ in still]
            if writers:
                time.sleep(wait.pause(still))
        return int(end)

    def audit_heads(self, run_id: str | None = None) -> dict[str, AuditHead]:
        query, params = sql.heads_query(run_id)
        with self._read() as cur:
            return rows.heads_of(cur.execute(query, params).fetchall())

    def last_audit_seq(self) -> int:
        """The highest seq with no event still able to appear below it (see `audit`).

        Raises:
            StoreError: a writer stayed open over `tail_wait` seconds.
        """
        end = self._tail_end(0)
        with self._read() as cur:
            return rows.scalar(cur.execute(sql.LAST_STABLE_SEQ, (end,)).fetchone())

    # -- webhook deliveries ---------------------------------------------------------

    def delivery_cursor(self, endpoint: str) -> int:
        with self._read() as cur:
            return rows.scalar(cur.execute(sql.SELECT_CURSOR, (endpoint,)).fetchone())

    def advance_delivery_cursor(self, endpoint: str, seq: int) -> None:
        with self._tx() as cur:
            cur.execute(sql.ADVANCE_CURSOR, (endpoint, seq))

    def record_delivery(self, record: DeliveryRecord) -> None:
        with self._tx() as cur:
            cur.execute(sql.INSERT_DELIVERY, rows.delivery_row(record, Jsonb))

    def deliveries(
        self, *, endpoint: str | None = None, event_seq: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        check_limit(limit)
        query, params = sql.deliveries_query(endpoint, event_seq, limit)
        with self._read() as cur:
            return rows.deliveries_of(cur.execute(query, params).fetchall())

    def wait_for_events(
        self, timeout: float, events: tuple[str, ...] = ("decided", "expired")
    ) -> bool:
        """Block until one of `events` is notified or `timeout` seconds pass.

        Returns whether such an event arrived. Uses one dedicated LISTEN connection; if
        it drops, the wait sleeps instead and the next call reconnects. Every note of a
        batch is looked at: one that arrives with another (a run's own ``resumed``
        before someone's ``decided``) still wakes the caller.
        """
        deadline = time.monotonic() + timeout
        try:
            if self._listener is None:
                self._listener = psycopg.connect(self._conninfo, autocommit=True)
                self._listener.execute(f"LISTEN {CHANNEL}")
            remaining = max(deadline - time.monotonic(), 0.0)
            for note in self._listener.notifies(timeout=remaining):
                if json.loads(note.payload).get("event") in events:
                    return True
            return False
        except psycopg.Error:
            if self._listener is not None:
                self._listener.close()
            self._listener = None
            time.sleep(max(deadline - time.monotonic(), 0))
            return False

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self.pool.close()
