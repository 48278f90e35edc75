"""`sqlite:///path.db`: the embedded durable store (WAL), safe across threads and processes.

Each thread gets its own connection; every write runs in ``BEGIN IMMEDIATE``, so SQLite
serializes writers and a request's status check and update can never interleave.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import AuditHead, link
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
from hitl_core.stores.base import (
    ExecutionRecord,
    Page,
    RunRecord,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from hitl_core.stores.deliveries import DeliveryRecord
from hitl_core.stores.leases import Claim

__all__ = ["MIGRATIONS", "SqliteStore"]

MIGRATIONS: list[str] = [
    # 1: requests, runs, executions and the append-only audit trail.
    """
    CREATE TABLE hitl_requests (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        doc TEXT NOT NULL
    );
    CREATE INDEX hitl_requests_status ON hitl_requests (status, created_at, id);
    CREATE INDEX hitl_requests_run ON hitl_requests (run_id, created_at, id);
    CREATE INDEX hitl_requests_due ON hitl_requests (status, expires_at)
        WHERE expires_at IS NOT NULL;
    CREATE TABLE hitl_runs (
        run_id TEXT PRIMARY KEY,
        adapter TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE TABLE hitl_executions (
        run_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (run_id, call_id)
    );
    CREATE TABLE hitl_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        request_id TEXT,
        doc TEXT NOT NULL
    );
    CREATE INDEX hitl_audit_run ON hitl_audit (run_id, seq);
    CREATE INDEX hitl_audit_request ON hitl_audit (request_id, seq);
    CREATE TRIGGER hitl_audit_no_update BEFORE UPDATE ON hitl_audit
        BEGIN SELECT RAISE(ABORT, 'hitl_audit is append-only'); END;
    CREATE TRIGGER hitl_audit_no_delete BEFORE DELETE ON hitl_audit
        BEGIN SELECT RAISE(ABORT, 'hitl_audit is append-only'); END;
    """,
    # 2: run leases for workers.
    """
    ALTER TABLE hitl_runs ADD COLUMN lease_owner TEXT;
    ALTER TABLE hitl_runs ADD COLUMN lease_until TEXT;
    CREATE INDEX hitl_requests_answered ON hitl_requests (run_id)
        WHERE status IN ('decided', 'expired');
    """,
    # 3: audit chain heads (only move forward), webhook cursors and delivery attempts.
    """
    CREATE TABLE hitl_audit_heads (
        run_id TEXT PRIMARY KEY,
        chain_index INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TRIGGER hitl_audit_heads_forward BEFORE UPDATE ON hitl_audit_heads
        WHEN NEW.chain_index <= OLD.chain_index
        BEGIN SELECT RAISE(ABORT, 'hitl_audit_heads only move forward'); END;
    CREATE TRIGGER hitl_audit_heads_no_delete BEFORE DELETE ON hitl_audit_heads
        BEGIN SELECT RAISE(ABORT, 'hitl_audit_heads only move forward'); END;
    CREATE TABLE hitl_webhook_cursors (
        endpoint TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    );
    CREATE TABLE hitl_webhook_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_id TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        event_seq INTEGER NOT NULL,
        status TEXT NOT NULL,
        at TEXT NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX hitl_webhook_deliveries_endpoint ON hitl_webhook_deliveries (endpoint, id);
    CREATE INDEX hitl_webhook_deliveries_event ON hitl_webhook_deliveries (event_seq, id);
    """,
]
"""Schema changes, append-only: entry N-1 takes the schema to version N."""

_WHERE = "sqlite"


def path_from_url(url: str) -> Path:
    """``sqlite:///approvals.db`` -> ``approvals.db``; ``sqlite:////var/x.db`` -> ``/var/x.db``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix:
        raise InvalidInput(
            f"Invalid SQLite URL {url!r}: use sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db."
        )
    path = url[len(prefix) :]
    if path == ":memory:":
        raise InvalidInput("sqlite:///:memory: is not shared between threads; use memory://.")
    return Path(path)


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
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One serialized write transaction; rolled back if anything raises."""
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise StoreError(f"Cannot start a transaction on {self.path}: {error}") from error
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

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
                for statement in _statements(MIGRATIONS[version - 1]):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO hitl_schema (version, applied_at) VALUES (?, ?)",
                    (version, self.clock.now().isoformat()),
                )

    def schema_version(self) -> int:
        row = self._connection().execute("SELECT MAX(version) FROM hitl_schema").fetchone()
        return int(row[0] or 0)

    # -- helpers --------------------------------------------------------------------

    def _load(self, conn: sqlite3.Connection, request_id: str) -> ApprovalRequest | None:
        row = conn.execute("SELECT doc FROM hitl_requests WHERE id = ?", (request_id,)).fetchone()
        return ApprovalRequest.model_validate_json(row[0]) if row else None

    def _require(self, conn: sqlite3.Connection, request_id: str) -> ApprovalRequest:
        request = self._load(conn, request_id)
        if request is None:
            raise UnknownRequest(request_id)
        return request

    def _apply(self, conn: sqlite3.Connection, transition: lifecycle.Transition) -> ApprovalRequest:
        request, event = transition
        if event is None:
            return request
        conn.execute(
            "INSERT INTO hitl_requests (id, run_id, tool, status, created_at, expires_at, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "status = excluded.status, doc = excluded.doc",
            (
                request.id,
                request.run_id,
                request.action.tool,
                request.status.value,
                _ts(request.created_at),
                _ts(request.expires_at) if request.expires_at else None,
                request.model_dump_json(),
            ),
        )
        self._append(conn, event)
        return request

    @staticmethod
    def _append(conn: sqlite3.Connection, event: AuditEvent) -> None:
        """Link `event` after its run's head, append it and move the head, in `conn`'s write.

        ``BEGIN IMMEDIATE`` already serializes writers, so the head read here is the latest.
        """
        row = conn.execute(
            "SELECT chain_index, hash FROM hitl_audit_heads WHERE run_id = ?", (event.run_id,)
        ).fetchone()
        head = AuditHead(run_id=event.run_id, chain_index=row[0], hash=row[1]) if row else None
        linked = link(event, head)
        # The row's seq is the event's; it is filled in when read, as rows never change.
        conn.execute(
            "INSERT INTO hitl_audit (run_id, request_id, doc) VALUES (?, ?, ?)",
            (event.run_id, event.request_id, linked.model_dump_json(exclude={"seq"})),
        )
        conn.execute(
            "INSERT INTO hitl_audit_heads (run_id, chain_index, hash) VALUES (?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET chain_index = excluded.chain_index, "
            "hash = excluded.hash",
            (event.run_id, linked.chain_index, linked.hash),
        )

    # -- the port -------------------------------------------------------------------

    def put(self, request: ApprovalRequest) -> ApprovalRequest:
        with self._write() as conn:
            return self._apply(conn, lifecycle.create(self._load(conn, request.id), request))

    def get(self, request_id: str) -> ApprovalRequest:
        return self._require(self._connection(), request_id)

    def list_requests(
        self,
        *,
        status: RequestStatus | None = RequestStatus.PENDING,
        run_id: str | None = None,
        tool: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("status", status.value if status else None),
            ("run_id", run_id),
            ("tool", tool),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if cursor:
            created, after_id = decode_cursor(cursor)
            clauses.append("(created_at, id) > (?, ?)")
            params += [_ts(created), after_id]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = (
            self._connection()
            .execute(
                f"SELECT doc FROM hitl_requests {where} ORDER BY created_at, id LIMIT ?",
                (*params, limit + 1),
            )
            .fetchall()
        )
        items = [ApprovalRequest.model_validate_json(row[0]) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, next_cursor=encode_cursor(items[-1]) if more else None)

    def decide(self, request_id: str, decision: DecisionInput) -> ApprovalRequest:
        with self._write() as conn:
            request = self._require(conn, request_id)
            return self._apply(conn, lifecycle.decide(request, decision, self.clock.now()))

    def expire_due(
        self, now: datetime | None = None, *, run_id: str | None = None, limit: int | None = None
    ) -> list[ApprovalRequest]:
        now = now or self.clock.now()
        run_filter = "AND run_id = ? " if run_id is not None else ""
        with self._write() as conn:
            rows = conn.execute(
                "SELECT doc FROM hitl_requests WHERE status = 'pending' AND expires_at IS NOT NULL "
                f"AND expires_at <= ? {run_filter}ORDER BY expires_at, id LIMIT ?",
                (
                    _ts(now),
                    *([run_id] if run_id is not None else []),
                    -1 if limit is None else limit,
                ),
            ).fetchall()
            return [
                self._apply(conn, lifecycle.expire(ApprovalRequest.model_validate_json(r[0]), now))
                for r in rows
            ]

    def mark_resumed(self, request_id: str) -> ApprovalRequest:
        with self._write() as conn:
            request = self._require(conn, request_id)
            return self._apply(conn, lifecycle.resume(request, self.clock.now()))

    def cancel_run(
        self, run_id: str, *, by: str, reason: str | None = None
    ) -> list[ApprovalRequest]:
        now = self.clock.now()
        with self._write() as conn:
            rows = conn.execute(
                "SELECT doc FROM hitl_requests WHERE run_id = ? AND status = 'pending' "
                "ORDER BY created_at, id",
                (run_id,),
            ).fetchall()
            cancelled = [
                self._apply(
                    conn,
                    lifecycle.cancel(ApprovalRequest.model_validate_json(r[0]), now, by, reason),
                )
                for r in rows
            ]
            stored = self._load_run(conn, run_id)
            if stored is not None:
                self._write_run(conn, lifecycle.cancel_run(stored, now))
            return cancelled

    @staticmethod
    def _load_run(conn: sqlite3.Connection, run_id: str) -> RunRecord | None:
        row = conn.execute("SELECT doc FROM hitl_runs WHERE run_id = ?", (run_id,)).fetchone()
        return RunRecord.model_validate_json(row[0]) if row else None

    @staticmethod
    def _write_run(conn: sqlite3.Connection, run: RunRecord) -> None:
        conn.execute(
            "INSERT INTO hitl_runs (run_id, adapter, status, version, doc) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET adapter = excluded.adapter, "
            "status = excluded.status, version = excluded.version, doc = excluded.doc",
            (run.run_id, run.adapter, run.status.value, run.version, run.model_dump_json()),
        )

    def save_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
    ) -> RunRecord:
        with self._write() as conn:
            saved = lifecycle.save_run(run, self._load_run(conn, run.run_id), expected_version)
            transitions = [lifecycle.create(self._load(conn, r.id), r) for r in requests]
            self._write_run(conn, saved)
            for transition in transitions:
                self._apply(conn, transition)
            for request_id in resumed:
                self._apply(
                    conn, lifecycle.resume(self._require(conn, request_id), self.clock.now())
                )
            return saved

    def load_run(self, run_id: str) -> RunRecord:
        run = self._load_run(self._connection(), run_id)
        if run is None:
            raise UnknownRun(run_id)
        return run

    def record_execution(self, record: ExecutionRecord) -> ExecutionRecord:
        with self._write() as conn:
            row = conn.execute(
                "SELECT doc FROM hitl_executions WHERE run_id = ? AND call_id = ?",
                (record.run_id, record.call_id),
            ).fetchone()
            if row:
                return ExecutionRecord.model_validate_json(row[0])
            conn.execute(
                "INSERT INTO hitl_executions (run_id, call_id, doc) VALUES (?, ?, ?)",
                (record.run_id, record.call_id, record.model_dump_json()),
            )
            self._append(conn, lifecycle.executed(record))
            return record

    def executions(self, run_id: str) -> dict[str, ExecutionRecord]:
        rows = (
            self._connection()
            .execute("SELECT call_id, doc FROM hitl_executions WHERE run_id = ?", (run_id,))
            .fetchall()
        )
        return {call_id: ExecutionRecord.model_validate_json(doc) for call_id, doc in rows}

    def audit(
        self,
        *,
        run_id: str | None = None,
        request_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        check_limit(limit)
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (("run_id = ?", run_id), ("request_id = ?", request_id)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if after is not None:
            clauses.append("seq > ?")
            params.append(after)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = (
            self._connection()
            .execute(
                f"SELECT seq, doc FROM hitl_audit {where} ORDER BY seq LIMIT ?",
                (*params, -1 if limit is None else limit),
            )
            .fetchall()
        )
        return [
            AuditEvent.model_validate_json(doc).model_copy(update={"seq": seq}) for seq, doc in rows
        ]

    def audit_heads(self, run_id: str | None = None) -> dict[str, AuditHead]:
        where, params = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        rows = (
            self._connection()
            .execute(f"SELECT run_id, chain_index, hash FROM hitl_audit_heads {where}", params)
            .fetchall()
        )
        return {r: AuditHead(run_id=r, chain_index=i, hash=h) for r, i, h in rows}

    def last_audit_seq(self) -> int:
        row = self._connection().execute("SELECT MAX(seq) FROM hitl_audit").fetchone()
        return int(row[0] or 0)

    # -- webhook deliveries ---------------------------------------------------------

    def delivery_cursor(self, endpoint: str) -> int:
        row = (
            self._connection()
            .execute("SELECT seq FROM hitl_webhook_cursors WHERE endpoint = ?", (endpoint,))
            .fetchone()
        )
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
            conn.execute(
                "INSERT INTO hitl_webhook_deliveries "
                "(delivery_id, endpoint, event_seq, status, at, doc) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.delivery_id,
                    record.endpoint,
                    record.event_seq,
                    record.status.value,
                    _ts(record.at),
                    record.model_dump_json(),
                ),
            )

    def deliveries(
        self, *, endpoint: str | None = None, event_seq: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        check_limit(limit)
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (("endpoint = ?", endpoint), ("event_seq = ?", event_seq)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = (
            self._connection()
            .execute(
                f"SELECT doc FROM hitl_webhook_deliveries {where} ORDER BY id LIMIT ?",
                (*params, limit),
            )
            .fetchall()
        )
        return [DeliveryRecord.model_validate_json(row[0]) for row in rows]

    def claim_ready(self, worker: str, *, lease: timedelta, limit: int = 10) -> list[Claim]:
        now = self.clock.now()
        until = now + lease
        with self._write() as conn:
            rows = conn.execute(
                "SELECT run_id, adapter FROM hitl_runs WHERE status = 'paused' "
                "AND (lease_until IS NULL OR lease_until <= ?) AND run_id IN "
                "(SELECT run_id FROM hitl_requests WHERE status IN ('decided', 'expired')) "
                "ORDER BY run_id LIMIT ?",
                (_ts(now), limit),
            ).fetchall()
            conn.executemany(
                "UPDATE hitl_runs SET lease_owner = ?, lease_until = ? WHERE run_id = ?",
                [(worker, _ts(until), run_id) for run_id, _ in rows],
            )
        return [Claim(run_id=r, adapter=a, worker=worker, until=until) for r, a in rows]

    def release(self, run_id: str, worker: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE hitl_runs SET lease_owner = NULL, lease_until = NULL "
                "WHERE run_id = ? AND lease_owner = ?",
                (run_id, worker),
            )

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections.values():
                conn.close()
            self._connections.clear()
        self._local = threading.local()


def _ts(value: datetime) -> str:
    """A sortable UTC timestamp: ISO 8601 with fixed width, so text order is time order."""
    from datetime import UTC

    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buffer: list[str] = []
    for line in script.strip().splitlines():
        buffer.append(line)
        text = "\n".join(buffer).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            statements.append(text)
            buffer = []
    if "\n".join(buffer).strip():
        statements.append("\n".join(buffer).strip())
    return statements
