"""`sqlite:///path.db`: the embedded durable store (WAL), safe across threads and processes.

Each thread gets its own connection; every write runs in ``BEGIN IMMEDIATE``, so SQLite
serializes writers and a request's status check and update can never interleave. Polls
that usually find nothing (`expire_due`, `claim_ready`) read first and take the write
lock only when there is something to write. The schema is in `sqlite_schema`, the SQL
and row helpers in `sqlite_sql`; driver errors become `StoreError` (`StoreUnavailable`
when the file stayed locked past the busy timeout) at this module's boundary.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import AuditHead
from hitl_core.clock import Clock, SystemClock
from hitl_core.decisions import DecisionInput
from hitl_core.errors import SchemaVersionMismatch, UnknownRequest, UnknownRun
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores import call_rules, lease_rules, lifecycle
from hitl_core.stores import sqlite_sql as sql
from hitl_core.stores.calls import CallRecord
from hitl_core.stores.deliveries import DeliveryRecord
from hitl_core.stores.leases import Claim, Lease
from hitl_core.stores.records import (
    Page,
    RunPage,
    RunRecord,
    RunStatus,
    check_limit,
    encode_cursor,
    encode_run_cursor,
)
from hitl_core.stores.sqlite_schema import MIGRATIONS, statements
from hitl_core.stores.sqlite_sql import path_from_url as path_from_url

__all__ = ["MIGRATIONS", "SqliteStore", "path_from_url"]


class SqliteStore:
    """The `ApprovalStore` on one SQLite file: survives restarts, shared by processes."""

    def __init__(self, url: str, *, clock: Clock | None = None) -> None:
        self.url = url
        self.path = path_from_url(url)
        self.clock: Clock = clock or SystemClock()
        self._local = threading.local()
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        """Each thread's connection; a finished thread's is handed to the next new thread."""
        self._connections_lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.setup()

    # -- connections and transactions ------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, reusing one a finished thread left behind.

        Frameworks run tools on short-lived executor threads (LangGraph makes a pool per
        run); without reuse every such thread would leave an open connection behind.
        """
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._connections_lock:
                conn = self._adopt_orphan()
            if conn is None:
                conn = self._connect()
            self._local.conn = conn
            with self._connections_lock:
                self._connections[threading.current_thread()] = conn
        return conn

    def _adopt_orphan(self) -> sqlite3.Connection | None:
        """Take the connection of a thread that has ended (call with the lock held)."""
        for thread, conn in list(self._connections.items()):
            if not thread.is_alive():
                del self._connections[thread]
                if conn.in_transaction:  # cannot happen via _write; be safe anyway
                    conn.execute("ROLLBACK")
                return conn
        return None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        """Driver errors become hitl errors here, at the boundary."""
        try:
            yield
        except sqlite3.Error as error:
            raise sql.store_error(self.path, error) from error

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection for reads outside a transaction (each its own snapshot)."""
        with self._mapped():
            yield self._connection()

    @contextmanager
    def _write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One serialized write transaction; rolled back if anything raises (commit too).

        A write that need not survive a power cut on its own (`durable=False`: a lease, a
        run still running, a settled call) commits without waiting for the disk. The WAL
        is written in order, so the next durable commit makes it durable too; a process
        that dies (SIGKILL) loses none of it, only a power cut before such a commit can,
        and then nothing durable came after it (a lost settle is an unknown outcome).
        """
        with self._mapped():
            conn = self._connection()
            if not durable:
                conn.execute("PRAGMA synchronous=NORMAL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                if not durable:
                    conn.execute("PRAGMA synchronous=FULL")

    def setup(self) -> None:
        """Create or upgrade the schema. Idempotent; runs on open.

        Raises:
            SchemaVersionMismatch: the file was written by a newer hitl-kit.
        """
        with self._write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS hitl_schema "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            row = conn.execute("SELECT MAX(version) FROM hitl_schema").fetchone()
            current = int(row[0] or 0)
            if current > len(MIGRATIONS):
                raise SchemaVersionMismatch(f"SQLite store {self.path}", current, len(MIGRATIONS))
            for version in range(current + 1, len(MIGRATIONS) + 1):
                for statement in statements(MIGRATIONS[version - 1]):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO hitl_schema (version, applied_at) VALUES (?, ?)",
                    (version, self.clock.now().isoformat()),
                )

    def schema_version(self) -> int:
        with self._read() as conn:
            row = conn.execute("SELECT MAX(version) FROM hitl_schema").fetchone()
        return int(row[0] or 0)

    @staticmethod
    def _require(conn: sqlite3.Connection, request_id: str) -> ApprovalRequest:
        request = sql.load_request(conn, request_id)
        if request is None:
            raise UnknownRequest(request_id)
        return request

    @staticmethod
    def _require_run(conn: sqlite3.Connection, run_id: str) -> RunRecord:
        run = sql.load_run(conn, run_id)
        if run is None:
            raise UnknownRun(run_id)
        return run

    # -- requests -------------------------------------------------------------------

    def put(self, request: ApprovalRequest) -> ApprovalRequest:
        with self._write() as conn:
            return sql.apply(conn, lifecycle.create(sql.load_request(conn, request.id), request))

    def get(self, request_id: str) -> ApprovalRequest:
        with self._read() as conn:
            return self._require(conn, request_id)

    def list_requests(
        self,
        *,
        status: RequestStatus | None = RequestStatus.PENDING,
        run_id: str | None = None,
        tool: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        query, params = sql.list_query(status, run_id, tool, cursor, limit)
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        items = [ApprovalRequest.model_validate_json(row[0]) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, next_cursor=encode_cursor(items[-1]) if more else None)

    def decide(
        self, request_id: str, decision: DecisionInput, *, roles: Sequence[str] = ()
    ) -> ApprovalRequest:
        with self._write() as conn:
            request = self._require(conn, request_id)
            transition = lifecycle.decide(request, decision, self.clock.now(), roles)
            return sql.apply(conn, transition)

    def expire_due(
        self, now: datetime | None = None, *, run_id: str | None = None, limit: int | None = None
    ) -> list[ApprovalRequest]:
        now = now or self.clock.now()
        with self._read() as conn:  # most polls find nothing: no write lock for them
            if conn.execute(*sql.due_query(now, run_id, 1)).fetchone() is None:
                return []
        query, params = sql.due_query(now, run_id, limit)
        with self._write() as conn:  # read again: another expirer may have been first
            due = [ApprovalRequest.model_validate_json(r[0]) for r in conn.execute(query, params)]
            return [sql.apply(conn, lifecycle.expire(r, now)) for r in due]

    def mark_resumed(self, request_id: str) -> ApprovalRequest:
        with self._write() as conn:
            request = self._require(conn, request_id)
            return sql.apply(conn, lifecycle.resume(request, self.clock.now()))

    def cancel_run(
        self, run_id: str, *, by: str, reason: str | None = None
    ) -> list[ApprovalRequest]:
        now = self.clock.now()
        with self._write() as conn:
            rows = conn.execute(sql.PENDING_OF_RUN, (run_id,)).fetchall()
            pending = [ApprovalRequest.model_validate_json(r[0]) for r in rows]
            cancelled = [sql.apply(conn, lifecycle.cancel(r, now, by, reason)) for r in pending]
            stored = sql.load_run(conn, run_id)
            if stored is not None:
                sql.write_run(conn, lifecycle.cancel_run(stored, now))
                revoked = lease_rules.revoke(sql.load_lease(conn, run_id), run_id, by, now)
                sql.write_lease(conn, revoked)
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
        with self._write(durable=run.status is not RunStatus.RUNNING) as conn:
            lease_rules.check(sql.load_lease(conn, run.run_id), lease, run.run_id, now)
            saved = lifecycle.save_run(run, sql.load_run(conn, run.run_id), expected_version)
            transitions = [lifecycle.create(sql.load_request(conn, r.id), r) for r in requests]
            sql.write_run(conn, saved)
            for transition in transitions:
                sql.apply(conn, transition)
            for request_id in resumed:
                sql.apply(conn, lifecycle.resume(self._require(conn, request_id), now))
            if release and lease is not None:
                self._release(conn, lease, now)
            return saved

    def load_run(self, run_id: str) -> RunRecord:
        with self._read() as conn:
            return self._require_run(conn, run_id)

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
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        items = [RunRecord.model_validate_json(row[0]) for row in rows[:limit]]
        more = len(rows) > limit
        return RunPage(items=items, next_cursor=encode_run_cursor(items[-1]) if more else None)

    def fail_run(
        self,
        run_id: str,
        error: str,
        *,
        lease: Lease | None,
        events: Sequence[AuditEvent] = (),
    ) -> RunRecord:
        now = self.clock.now()
        with self._write() as conn:
            lease_rules.check(sql.load_lease(conn, run_id), lease, run_id, now)
            record, event = lifecycle.failed(self._require_run(conn, run_id), error, now)
            sql.write_run(conn, record)
            for extra in (*events, event):
                sql.append(conn, extra)
            if lease is not None:
                self._release(conn, lease, now)
            return record

    def retry_run(self, run_id: str, *, by: str) -> RunRecord:
        now = self.clock.now()
        with self._write() as conn:
            stored = self._require_run(conn, run_id)
            current = sql.load_lease(conn, run_id)
            record, event, revoked = lifecycle.retry_run(stored, current, now, by)
            sql.write_run(conn, record)
            sql.append(conn, event)
            if revoked is not None:
                sql.write_lease(conn, revoked)
            return record

    # -- the call ledger ------------------------------------------------------------

    def acquire_lease(self, run_id: str, holder: str, *, ttl: timedelta) -> Lease:
        now = self.clock.now()
        with self._write(durable=False) as conn:
            lease = lease_rules.acquire(sql.load_lease(conn, run_id), run_id, holder, now, ttl)
            sql.write_lease(conn, lease)
            return lease

    def renew_lease(self, lease: Lease, *, ttl: timedelta) -> Lease:
        now = self.clock.now()
        with self._write(durable=False) as conn:
            renewed = lease_rules.renew(sql.load_lease(conn, lease.run_id), lease, now, ttl)
            sql.write_lease(conn, renewed)
            return renewed

    def release_lease(self, lease: Lease) -> None:
        with self._write(durable=False) as conn:
            self._release(conn, lease, self.clock.now())

    @staticmethod
    def _release(conn: sqlite3.Connection, lease: Lease, now: datetime) -> None:
        released = lease_rules.release(sql.load_lease(conn, lease.run_id), lease, now)
        if released is not None:
            sql.write_lease(conn, released)

    def lease_of(self, run_id: str) -> Lease | None:
        with self._read() as conn:
            return sql.load_lease(conn, run_id)

    def claim_call(self, record: CallRecord, lease: Lease) -> CallRecord:
        now = self.clock.now()
        with self._write() as conn:
            lease_rules.check(sql.load_lease(conn, record.run_id), lease, record.run_id, now)
            existing = sql.load_call(conn, record.run_id, record.call_id)
            stored, event = call_rules.claim(existing, record)
            if event is not None:
                sql.write_call(conn, stored)
                sql.append(conn, event)
            return stored

    def settle_call(
        self, record: CallRecord, lease: Lease, requests: Sequence[ApprovalRequest] = ()
    ) -> CallRecord:
        now = self.clock.now()
        with self._write(durable=False) as conn:
            lease_rules.check(sql.load_lease(conn, record.run_id), lease, record.run_id, now)
            existing = sql.load_call(conn, record.run_id, record.call_id)
            stored, event = call_rules.settle(existing, record)
            if event is None:
                return stored
            transitions = [lifecycle.create(sql.load_request(conn, r.id), r) for r in requests]
            sql.write_call(conn, stored)
            sql.append(conn, event)
            for transition in transitions:
                sql.apply(conn, transition)
            return stored

    def calls(self, run_id: str) -> dict[str, CallRecord]:
        with self._read() as conn:
            return sql.calls_of(conn, run_id)

    def claim_ready(self, worker: str, *, lease: timedelta, limit: int = 10) -> list[Claim]:
        now = self.clock.now()
        with self._read() as conn:  # most polls find nothing: no write lock for them
            if conn.execute(sql.READY, (sql.ts(now), 1)).fetchone() is None:
                return []
        claims = []
        with self._write(durable=False) as conn:  # read again: another worker may have been first
            for run_id, adapter in conn.execute(sql.READY, (sql.ts(now), limit)).fetchall():
                existing = sql.load_lease(conn, run_id)
                granted = lease_rules.acquire(existing, run_id, worker, now, lease)
                sql.write_lease(conn, granted)
                claims.append(Claim(run_id=run_id, adapter=adapter, lease=granted))
        return claims

    # -- the audit trail ------------------------------------------------------------

    def audit(
        self,
        *,
        run_id: str | None = None,
        request_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        check_limit(limit)
        query, params = sql.audit_query(run_id, request_id, after, limit)
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        return [
            AuditEvent.model_validate_json(doc).model_copy(update={"seq": seq}) for seq, doc in rows
        ]

    def audit_heads(self, run_id: str | None = None) -> dict[str, AuditHead]:
        where, params = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        query = f"SELECT run_id, chain_index, hash FROM hitl_audit_heads {where}"
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        return {r: AuditHead(run_id=r, chain_index=i, hash=h) for r, i, h in rows}

    def last_audit_seq(self) -> int:
        with self._read() as conn:
            row = conn.execute("SELECT MAX(seq) FROM hitl_audit").fetchone()
        return int(row[0] or 0)

    # -- webhook deliveries ---------------------------------------------------------

    def delivery_cursor(self, endpoint: str) -> int:
        with self._read() as conn:
            row = conn.execute(
                "SELECT seq FROM hitl_webhook_cursors WHERE endpoint = ?", (endpoint,)
            ).fetchone()
        return int(row[0]) if row else 0

    def advance_delivery_cursor(self, endpoint: str, seq: int) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO hitl_webhook_cursors (endpoint, seq) VALUES (?, ?) "
                "ON CONFLICT (endpoint) DO UPDATE SET seq = MAX(seq, excluded.seq)",
                (endpoint, seq),
            )

    def record_delivery(self, record: DeliveryRecord) -> None:
        with self._write() as conn:
            sql.write_delivery(conn, record)

    def deliveries(
        self, *, endpoint: str | None = None, event_seq: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        check_limit(limit)
        query, params = sql.deliveries_query(endpoint, event_seq, limit)
        with self._read() as conn:
            rows = conn.execute(query, params).fetchall()
        return [DeliveryRecord.model_validate_json(row[0]) for row in rows]

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections.values():
                conn.close()
            self._connections.clear()
        self._local = threading.local()
