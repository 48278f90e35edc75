"""`postgresql://...`: the store for many workers on many machines (psycopg 3 + psycopg-pool).

Every operation is one transaction. A request's status check and update happen under
``SELECT ... FOR UPDATE``, so concurrent deciders get one winner and `AlreadyDecided`
for the rest; expiry takes due rows with ``FOR UPDATE SKIP LOCKED`` so several workers
can expire side by side. Each decision and expiry also sends ``NOTIFY hitl_events``, so
a listening worker wakes within milliseconds instead of polling.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from hitl_core.audit import AuditEvent
from hitl_core.clock import Clock, SystemClock
from hitl_core.decisions import DecisionInput
from hitl_core.errors import (
    InvalidInput,
    MissingDependency,
    RunChanged,
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
    RunStatus,
    decode_cursor,
    encode_cursor,
)
from hitl_core.stores.leases import Claim

try:
    import psycopg
    from psycopg.types.json import Jsonb
    from psycopg_pool import ConnectionPool
except ModuleNotFoundError as error:  # pragma: no cover - exercised without the extra
    raise MissingDependency(error.name or "psycopg", "postgres") from error

__all__ = ["CHANNEL", "MIGRATIONS", "PostgresStore"]

CHANNEL = "hitl_events"
"""The NOTIFY channel; payloads are ``{"event": ..., "request_id": ..., "run_id": ...}``."""

MIGRATIONS: list[str] = [
    # 1: requests, runs, executions and the append-only audit trail.
    """
    CREATE TABLE hitl_requests (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        tool TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ,
        doc JSONB NOT NULL
    );
    CREATE INDEX hitl_requests_status ON hitl_requests (status, created_at, id);
    CREATE INDEX hitl_requests_run ON hitl_requests (run_id, created_at, id);
    CREATE INDEX hitl_requests_due ON hitl_requests (expires_at) WHERE status = 'pending';
    CREATE TABLE hitl_runs (
        run_id TEXT PRIMARY KEY,
        adapter TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc JSONB NOT NULL
    );
    CREATE TABLE hitl_executions (
        run_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        doc JSONB NOT NULL,
        PRIMARY KEY (run_id, call_id)
    );
    CREATE TABLE hitl_audit (
        seq BIGSERIAL PRIMARY KEY,
        run_id TEXT NOT NULL,
        request_id TEXT,
        doc JSONB NOT NULL
    );
    CREATE INDEX hitl_audit_run ON hitl_audit (run_id, seq);
    CREATE INDEX hitl_audit_request ON hitl_audit (request_id, seq);
    CREATE FUNCTION hitl_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'hitl_audit is append-only'; END $$;
    CREATE TRIGGER hitl_audit_no_change BEFORE UPDATE OR DELETE ON hitl_audit
        FOR EACH ROW EXECUTE FUNCTION hitl_audit_append_only();
    """,
    # 2: run leases for workers.
    """
    ALTER TABLE hitl_runs ADD COLUMN lease_owner TEXT, ADD COLUMN lease_until TIMESTAMPTZ;
    CREATE INDEX hitl_requests_answered ON hitl_requests (run_id)
        WHERE status IN ('decided', 'expired');
    """,
]
"""Schema changes, append-only: entry N-1 takes the schema to version N."""

_MIGRATION_LOCK = 0x68_69_74_6C  # "hitl": serializes setup across processes


def _masked(url: str) -> str:
    """The URL without its password, for messages and `store.url`."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in credentials else url


class PostgresStore:
    """The `ApprovalStore` on PostgreSQL, shared by any number of processes and machines."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        self.url = _masked(url)
        self.clock: Clock = clock or SystemClock()
        self._conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._listener: psycopg.Connection[Any] | None = None
        try:
            # Fail fast (and clearly) on a wrong URL, instead of in the pool's retry loop.
            psycopg.connect(self._conninfo, connect_timeout=10).close()
            self.pool = ConnectionPool(
                self._conninfo, min_size=min_size, max_size=max_size, open=True, timeout=30
            )
            self.pool.wait(timeout=30)
        except psycopg.Error as error:
            raise StoreError(f"Cannot connect to {self.url}: {error}") from error
        except Exception as error:  # the pool's own timeout
            raise StoreError(f"Cannot connect to {self.url}: {error}") from error
        self.setup()

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction; driver errors become `StoreError` here, at the boundary."""
        try:
            with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as error:
            raise StoreError(f"PostgreSQL store {self.url} failed: {error}") from error

    def setup(self) -> None:
        """Create or upgrade the schema. Idempotent; runs on open; safe from many processes.

        Raises:
            SchemaVersionMismatch: the database was written by a newer hitl-kit.
        """
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS hitl_schema "
                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
            )
            cur.execute("SELECT COALESCE(MAX(version), 0) FROM hitl_schema")
            row = cur.fetchone()
            current = int(row[0]) if row else 0
            if current > len(MIGRATIONS):
                raise SchemaVersionMismatch(
                    f"PostgreSQL store {self.url}", current, len(MIGRATIONS)
                )
            for version in range(current + 1, len(MIGRATIONS) + 1):
                cur.execute(MIGRATIONS[version - 1].encode())
                cur.execute(
                    "INSERT INTO hitl_schema (version, applied_at) VALUES (%s, %s)",
                    (version, self.clock.now()),
                )

    def schema_version(self) -> int:
        with self._tx() as cur:
            cur.execute("SELECT COALESCE(MAX(version), 0) FROM hitl_schema")
            row = cur.fetchone()
            return int(row[0]) if row else 0

    # -- helpers --------------------------------------------------------------------

    @staticmethod
    def _load(cur: psycopg.Cursor[Any], request_id: str, *, lock: bool) -> ApprovalRequest | None:
        cur.execute(
            "SELECT doc FROM hitl_requests WHERE id = %s" + (" FOR UPDATE" if lock else ""),
            (request_id,),
        )
        row = cur.fetchone()
        return ApprovalRequest.model_validate(row[0]) if row else None

    def _require(self, cur: psycopg.Cursor[Any], request_id: str) -> ApprovalRequest:
        request = self._load(cur, request_id, lock=True)
        if request is None:
            raise UnknownRequest(request_id)
        return request

    def _apply(self, cur: psycopg.Cursor[Any], transition: lifecycle.Transition) -> ApprovalRequest:
        request, event = transition
        if event is None:
            return request
        cur.execute(
            "INSERT INTO hitl_requests (id, run_id, tool, status, created_at, expires_at, doc) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "status = EXCLUDED.status, doc = EXCLUDED.doc",
            (
                request.id,
                request.run_id,
                request.action.tool,
                request.status.value,
                request.created_at,
                request.expires_at,
                Jsonb(request.model_dump(mode="json")),
            ),
        )
        self._append(cur, event)
        if event.kind.value in ("decided", "expired", "created"):
            payload = {
                "event": event.kind.value,
                "request_id": request.id,
                "run_id": request.run_id,
            }
            cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, json.dumps(payload)))
        return request

    @staticmethod
    def _append(cur: psycopg.Cursor[Any], event: AuditEvent) -> None:
        cur.execute(
            "INSERT INTO hitl_audit (run_id, request_id, doc) VALUES (%s, %s, %s)",
            (event.run_id, event.request_id, Jsonb(event.model_dump(mode="json", exclude={"seq"}))),
        )

    # -- the port -------------------------------------------------------------------

    @staticmethod
    def _lock_run(cur: psycopg.Cursor[Any], run_id: str) -> None:
        """Serialize writers of one run's requests and snapshot, even before rows exist."""
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (run_id,))

    def put(self, request: ApprovalRequest) -> ApprovalRequest:
        with self._tx() as cur:
            self._lock_run(cur, request.run_id)
            return self._apply(
                cur, lifecycle.create(self._load(cur, request.id, lock=True), request)
            )

    def get(self, request_id: str) -> ApprovalRequest:
        with self._tx() as cur:
            request = self._load(cur, request_id, lock=False)
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
        if limit < 1:
            raise InvalidInput(f"limit must be at least 1, not {limit}.")
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("status", status.value if status else None),
            ("run_id", run_id),
            ("tool", tool),
        ):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        if cursor:
            created, after_id = decode_cursor(cursor)
            clauses.append("(created_at, id) > (%s, %s)")
            params += [created, after_id]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._tx() as cur:
            cur.execute(
                f"SELECT doc FROM hitl_requests {where} ORDER BY created_at, id LIMIT %s",
                (*params, limit + 1),
            )
            rows = cur.fetchall()
        items = [ApprovalRequest.model_validate(row[0]) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, next_cursor=encode_cursor(items[-1]) if more else None)

    def decide(self, request_id: str, decision: DecisionInput) -> ApprovalRequest:
        with self._tx() as cur:
            request = self._require(cur, request_id)
            return self._apply(cur, lifecycle.decide(request, decision, self.clock.now()))

    def expire_due(
        self, now: datetime | None = None, *, run_id: str | None = None, limit: int | None = None
    ) -> list[ApprovalRequest]:
        now = now or self.clock.now()
        run_filter = "AND run_id = %s " if run_id is not None else ""
        with self._tx() as cur:
            cur.execute(
                "SELECT doc FROM hitl_requests WHERE status = 'pending' AND expires_at <= %s "
                f"{run_filter}ORDER BY expires_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
                (now, *([run_id] if run_id is not None else []), limit),
            )
            rows = cur.fetchall()
            return [
                self._apply(cur, lifecycle.expire(ApprovalRequest.model_validate(r[0]), now))
                for r in rows
            ]

    def mark_resumed(self, request_id: str) -> ApprovalRequest:
        with self._tx() as cur:
            request = self._require(cur, request_id)
            return self._apply(cur, lifecycle.resume(request, self.clock.now()))

    def cancel_run(
        self, run_id: str, *, by: str, reason: str | None = None
    ) -> list[ApprovalRequest]:
        now = self.clock.now()
        with self._tx() as cur:
            cur.execute(
                "SELECT doc FROM hitl_requests WHERE run_id = %s AND status = 'pending' "
                "ORDER BY created_at, id FOR UPDATE",
                (run_id,),
            )
            pending = [ApprovalRequest.model_validate(r[0]) for r in cur.fetchall()]
            cancelled = [self._apply(cur, lifecycle.cancel(r, now, by, reason)) for r in pending]
            stored = self._load_run(cur, run_id, lock=True)
            if stored is not None:
                update = {
                    "status": RunStatus.CANCELLED,
                    "version": stored.version + 1,
                    "updated_at": now,
                }
                self._write_run(cur, stored.model_copy(update=update))
            return cancelled

    @staticmethod
    def _load_run(cur: psycopg.Cursor[Any], run_id: str, *, lock: bool) -> RunRecord | None:
        cur.execute(
            "SELECT doc FROM hitl_runs WHERE run_id = %s" + (" FOR UPDATE" if lock else ""),
            (run_id,),
        )
        row = cur.fetchone()
        return RunRecord.model_validate(row[0]) if row else None

    @staticmethod
    def _write_run(cur: psycopg.Cursor[Any], run: RunRecord) -> None:
        cur.execute(
            "INSERT INTO hitl_runs (run_id, adapter, status, version, doc) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (run_id) DO UPDATE SET "
            "adapter = EXCLUDED.adapter, status = EXCLUDED.status, version = EXCLUDED.version, "
            "doc = EXCLUDED.doc",
            (
                run.run_id,
                run.adapter,
                run.status.value,
                run.version,
                Jsonb(run.model_dump(mode="json")),
            ),
        )

    def save_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
    ) -> RunRecord:
        with self._tx() as cur:
            self._lock_run(cur, run.run_id)
            stored = self._load_run(cur, run.run_id, lock=True)
            found = stored.version if stored else 0
            if expected_version is not None and expected_version != found:
                raise RunChanged(run.run_id, expected_version, found)
            transitions = [lifecycle.create(self._load(cur, r.id, lock=True), r) for r in requests]
            saved = run.model_copy(
                update={
                    "version": found + 1,
                    "created_at": stored.created_at if stored else run.created_at,
                }
            )
            self._write_run(cur, saved)
            for transition in transitions:
                self._apply(cur, transition)
            for request_id in resumed:
                self._apply(cur, lifecycle.resume(self._require(cur, request_id), self.clock.now()))
            return saved

    def load_run(self, run_id: str) -> RunRecord:
        with self._tx() as cur:
            run = self._load_run(cur, run_id, lock=False)
        if run is None:
            raise UnknownRun(run_id)
        return run

    def record_execution(self, record: ExecutionRecord) -> ExecutionRecord:
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO hitl_executions (run_id, call_id, doc) VALUES (%s, %s, %s) "
                "ON CONFLICT (run_id, call_id) DO NOTHING RETURNING call_id",
                (record.run_id, record.call_id, Jsonb(record.model_dump(mode="json"))),
            )
            if cur.fetchone() is None:
                cur.execute(
                    "SELECT doc FROM hitl_executions WHERE run_id = %s AND call_id = %s",
                    (record.run_id, record.call_id),
                )
                row = cur.fetchone()
                assert row is not None
                return ExecutionRecord.model_validate(row[0])
            self._append(cur, lifecycle.executed(record))
            return record

    def executions(self, run_id: str) -> dict[str, ExecutionRecord]:
        with self._tx() as cur:
            cur.execute("SELECT call_id, doc FROM hitl_executions WHERE run_id = %s", (run_id,))
            rows = cur.fetchall()
        return {call_id: ExecutionRecord.model_validate(doc) for call_id, doc in rows}

    def audit(
        self, *, run_id: str | None = None, request_id: str | None = None
    ) -> list[AuditEvent]:
        clauses: list[str] = []
        params: list[Any] = []
        if run_id is not None:
            clauses.append("run_id = %s")
            params.append(run_id)
        if request_id is not None:
            clauses.append("request_id = %s")
            params.append(request_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._tx() as cur:
            cur.execute(f"SELECT seq, doc FROM hitl_audit {where} ORDER BY seq", params)
            rows = cur.fetchall()
        return [AuditEvent.model_validate(doc).model_copy(update={"seq": seq}) for seq, doc in rows]

    def claim_ready(self, worker: str, *, lease: timedelta, limit: int = 10) -> list[Claim]:
        now = self.clock.now()
        until = now + lease
        with self._tx() as cur:
            # The lease lives on the locked row itself, so a concurrent claimer that waited
            # re-checks it; SKIP LOCKED lets it take other runs meanwhile.
            cur.execute(
                "SELECT run_id, adapter FROM hitl_runs WHERE status = 'paused' "
                "AND (lease_until IS NULL OR lease_until <= %s) AND run_id IN "
                "(SELECT run_id FROM hitl_requests WHERE status IN ('decided', 'expired')) "
                "ORDER BY run_id LIMIT %s FOR UPDATE SKIP LOCKED",
                (now, limit),
            )
            rows = cur.fetchall()
            cur.execute(
                "UPDATE hitl_runs SET lease_owner = %s, lease_until = %s WHERE run_id = ANY(%s)",
                (worker, until, [r[0] for r in rows]),
            )
        return [Claim(run_id=r, adapter=a, worker=worker, until=until) for r, a in rows]

    def release(self, run_id: str, worker: str) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE hitl_runs SET lease_owner = NULL, lease_until = NULL "
                "WHERE run_id = %s AND lease_owner = %s",
                (run_id, worker),
            )

    def wait_for_events(self, timeout: float) -> bool:
        """Block until a request event is notified or `timeout` seconds pass.

        Returns whether an event arrived. Uses a dedicated LISTEN connection.
        """
        if self._listener is None:
            self._listener = psycopg.connect(self._conninfo, autocommit=True)
            self._listener.execute(f"LISTEN {CHANNEL}")
        for _ in self._listener.notifies(timeout=timeout, stop_after=1):
            return True
        return False

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self.pool.close()
