"""The SQL both PostgreSQL stores run (sync `postgres`, async `postgres_aio`), written once.

Parameters are psycopg ``%s`` placeholders; the helpers that build a statement from
optional filters return the text and its parameters together.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hitl_core.audit import AuditEvent
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores.base import Page, RunRecord, decode_cursor, encode_cursor

__all__ = [
    "CHANNEL",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "audit_query",
    "conninfo",
    "events_of",
    "masked_url",
    "page_of",
    "scalar",
    "expire_query",
    "list_query",
    "notify_payload",
    "request_row",
    "run_row",
]

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

MIGRATION_LOCK = 0x68_69_74_6C
"""Advisory lock ("hitl") serializing schema setup across processes."""

CREATE_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS hitl_schema "
    "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
)
SCHEMA_VERSION = "SELECT COALESCE(MAX(version), 0) FROM hitl_schema"
RECORD_VERSION = "INSERT INTO hitl_schema (version, applied_at) VALUES (%s, %s)"
LOCK = "SELECT pg_advisory_xact_lock(%s)"
LOCK_RUN = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
"""Serializes writers of one run's requests and snapshot, even before any row exists."""

SELECT_REQUEST = "SELECT doc FROM hitl_requests WHERE id = %s"
UPSERT_REQUEST = (
    "INSERT INTO hitl_requests (id, run_id, tool, status, created_at, expires_at, doc) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
    "status = EXCLUDED.status, doc = EXCLUDED.doc"
)
INSERT_AUDIT = "INSERT INTO hitl_audit (run_id, request_id, doc) VALUES (%s, %s, %s)"
NOTIFY = "SELECT pg_notify(%s, %s)"
SELECT_PENDING_OF_RUN = (
    "SELECT doc FROM hitl_requests WHERE run_id = %s AND status = 'pending' "
    "ORDER BY created_at, id FOR UPDATE"
)
SELECT_RUN = "SELECT doc FROM hitl_runs WHERE run_id = %s"
UPSERT_RUN = (
    "INSERT INTO hitl_runs (run_id, adapter, status, version, doc) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (run_id) DO UPDATE SET "
    "adapter = EXCLUDED.adapter, status = EXCLUDED.status, version = EXCLUDED.version, "
    "doc = EXCLUDED.doc"
)
INSERT_EXECUTION = (
    "INSERT INTO hitl_executions (run_id, call_id, doc) VALUES (%s, %s, %s) "
    "ON CONFLICT (run_id, call_id) DO NOTHING RETURNING call_id"
)
SELECT_EXECUTION = "SELECT doc FROM hitl_executions WHERE run_id = %s AND call_id = %s"
SELECT_EXECUTIONS = "SELECT call_id, doc FROM hitl_executions WHERE run_id = %s"
CLAIM_SELECT = (
    "SELECT run_id, adapter FROM hitl_runs WHERE status = 'paused' "
    "AND (lease_until IS NULL OR lease_until <= %s) AND run_id IN "
    "(SELECT run_id FROM hitl_requests WHERE status IN ('decided', 'expired')) "
    "ORDER BY run_id LIMIT %s FOR UPDATE SKIP LOCKED"
)
"""The lease lives on the locked row itself, so a claimer that waited re-checks it."""
CLAIM_UPDATE = "UPDATE hitl_runs SET lease_owner = %s, lease_until = %s WHERE run_id = ANY(%s)"
RELEASE = (
    "UPDATE hitl_runs SET lease_owner = NULL, lease_until = NULL "
    "WHERE run_id = %s AND lease_owner = %s"
)


def request_row(request: ApprovalRequest, jsonb: Any) -> tuple[Any, ...]:
    """Parameters of `UPSERT_REQUEST`; `jsonb` wraps a dict as a JSONB parameter."""
    return (
        request.id,
        request.run_id,
        request.action.tool,
        request.status.value,
        request.created_at,
        request.expires_at,
        jsonb(request.model_dump(mode="json")),
    )


def audit_row(event: AuditEvent, jsonb: Any) -> tuple[Any, ...]:
    """Parameters of `INSERT_AUDIT` (the row's seq is the event's; filled in when read)."""
    return (event.run_id, event.request_id, jsonb(event.model_dump(mode="json", exclude={"seq"})))


def run_row(run: RunRecord, jsonb: Any) -> tuple[Any, ...]:
    """Parameters of `UPSERT_RUN`."""
    return (
        run.run_id,
        run.adapter,
        run.status.value,
        run.version,
        jsonb(run.model_dump(mode="json")),
    )


def notify_payload(event: AuditEvent) -> str | None:
    """The NOTIFY payload for events workers and live views care about, else None."""
    if event.kind.value not in ("created", "decided", "expired"):
        return None
    return json.dumps(
        {"event": event.kind.value, "request_id": event.request_id, "run_id": event.run_id}
    )


def list_query(
    status: RequestStatus | None,
    run_id: str | None,
    tool: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """A page of requests in (created_at, id) order, one row more than `limit`."""
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
    # doc::text: one JSON parse (Pydantic's) instead of psycopg's json.loads and a dict walk.
    query = f"SELECT doc::text FROM hitl_requests {where} ORDER BY created_at, id LIMIT %s"
    return query, [*params, limit + 1]


def expire_query(now: datetime, run_id: str | None, limit: int | None) -> tuple[str, list[Any]]:
    """Due pending requests, oldest deadline first, skipping rows another expirer holds."""
    run_filter = "AND run_id = %s " if run_id is not None else ""
    return (
        "SELECT doc FROM hitl_requests WHERE status = 'pending' AND expires_at <= %s "
        f"{run_filter}ORDER BY expires_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
        [now, *([run_id] if run_id is not None else []), limit],
    )


def audit_query(run_id: str | None, request_id: str | None) -> tuple[str, list[Any]]:
    """The audit trail in write order, optionally filtered."""
    clauses: list[str] = []
    params: list[Any] = []
    if run_id is not None:
        clauses.append("run_id = %s")
        params.append(run_id)
    if request_id is not None:
        clauses.append("request_id = %s")
        params.append(request_id)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return f"SELECT seq, doc FROM hitl_audit {where} ORDER BY seq", params


def masked_url(url: str) -> str:
    """The URL without its password, for messages and `store.url`."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in credentials else url


def conninfo(url: str) -> str:
    """A libpq connection string from a store URL (``postgresql+psycopg://`` accepted)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def scalar(row: tuple[Any, ...] | None) -> int:
    return int(row[0]) if row else 0


def page_of(rows: list[tuple[Any, ...]], limit: int) -> Page:
    items = [ApprovalRequest.model_validate_json(row[0]) for row in rows[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1]) if len(rows) > limit else None)


def events_of(rows: list[tuple[Any, ...]]) -> list[AuditEvent]:
    return [AuditEvent.model_validate(doc).model_copy(update={"seq": seq}) for seq, doc in rows]
