"""The SQL both PostgreSQL stores run (sync `postgres`, async `postgres_aio`), written once.

Parameters are psycopg ``%s`` placeholders; the helpers that build a statement from
optional filters return the text and its parameters together.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import AuditHead
from hitl_core.errors import StoreError
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores.base import Page, RunRecord, decode_cursor, encode_cursor
from hitl_core.stores.deliveries import DeliveryRecord

__all__ = [
    "CHANNEL",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "TAIL_WAIT",
    "Heads",
    "TailWait",
    "append_audit",
    "audit_query",
    "conninfo",
    "deliveries_of",
    "deliveries_query",
    "delivery_row",
    "due_runs",
    "events_of",
    "expire_query",
    "head_moved",
    "head_of",
    "heads_of",
    "heads_query",
    "list_query",
    "lockable",
    "masked_url",
    "notify_payload",
    "page_of",
    "request_row",
    "run_row",
    "runs_to_lock",
    "scalar",
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
    # 3: audit chain heads (only move forward), webhook cursors and delivery attempts.
    """
    CREATE TABLE hitl_audit_heads (
        run_id TEXT PRIMARY KEY,
        chain_index BIGINT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE FUNCTION hitl_audit_heads_forward() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR NEW.chain_index <= OLD.chain_index THEN
                RAISE EXCEPTION 'hitl_audit_heads only move forward';
            END IF;
            RETURN NEW;
        END $$;
    CREATE TRIGGER hitl_audit_heads_forward BEFORE UPDATE OR DELETE ON hitl_audit_heads
        FOR EACH ROW EXECUTE FUNCTION hitl_audit_heads_forward();
    CREATE TABLE hitl_webhook_cursors (
        endpoint TEXT PRIMARY KEY,
        seq BIGINT NOT NULL
    );
    CREATE TABLE hitl_webhook_deliveries (
        id BIGSERIAL PRIMARY KEY,
        delivery_id TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        event_seq BIGINT NOT NULL,
        status TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        doc JSONB NOT NULL
    );
    CREATE INDEX hitl_webhook_deliveries_endpoint ON hitl_webhook_deliveries (endpoint, id);
    CREATE INDEX hitl_webhook_deliveries_event ON hitl_webhook_deliveries (event_seq, id);
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
"""Serializes writers of one run's requests, snapshot and audit chain, even before any row
exists. Every transaction takes it before the rows it changes, so locks never cross."""
LOCK_RUN_OF_REQUEST = (
    "SELECT pg_advisory_xact_lock(hashtextextended(run_id, 0)) FROM hitl_requests WHERE id = %s"
)
"""`LOCK_RUN` for the run a request belongs to (a request never changes run)."""
TRY_LOCK_RUNS = (
    "SELECT run_id FROM unnest(%s::text[]) AS runs (run_id) "
    "WHERE pg_try_advisory_xact_lock(hashtextextended(run_id, 0))"
)
"""`LOCK_RUN` for each run given that no one else holds (pass them sorted); the ones taken."""

SELECT_REQUEST = "SELECT doc FROM hitl_requests WHERE id = %s"
SELECT_REQUEST_AND_HEAD = (
    "SELECT r.doc, h.chain_index, h.hash FROM hitl_requests r "
    "LEFT JOIN hitl_audit_heads h ON h.run_id = r.run_id WHERE r.id = %s FOR UPDATE OF r"
)
"""A request, locked, with its run's audit head: read after `LOCK_RUN`, so the head is current."""
UPSERT_REQUEST = (
    "INSERT INTO hitl_requests (id, run_id, tool, status, created_at, expires_at, doc) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
    "status = EXCLUDED.status, doc = EXCLUDED.doc"
)
INSERT_AUDIT = "INSERT INTO hitl_audit (run_id, request_id, doc) VALUES (%s, %s, %s)"
"""One audit row as written before the chain (version 2); the stores use `APPEND_AUDIT`."""
NOTIFY = "SELECT pg_notify(%s, %s)"
SELECT_HEAD = "SELECT chain_index, hash FROM hitl_audit_heads WHERE run_id = %s"
SELECT_HEADS = "SELECT run_id, chain_index, hash FROM hitl_audit_heads WHERE run_id = ANY(%s)"
_APPEND = (
    "WITH appended AS (INSERT INTO hitl_audit (run_id, request_id, doc) VALUES (%s, %s, %s)), "
    "head AS (INSERT INTO hitl_audit_heads AS h (run_id, chain_index, hash) VALUES (%s, %s, %s) "
    "ON CONFLICT (run_id) DO UPDATE SET chain_index = EXCLUDED.chain_index, hash = EXCLUDED.hash "
    "WHERE h.chain_index = EXCLUDED.chain_index - 1 RETURNING 1) "
)
APPEND_AUDIT = _APPEND + "SELECT count(*) FROM head"
"""Append a linked event and move its run's head, in one statement; 1 if the head moved.

The head moves only from the index the event was linked after: 0 means someone appended
without the run's lock, and the transaction must roll back rather than fork the chain."""
APPEND_AUDIT_NOTIFY = _APPEND + "SELECT count(*), pg_notify(%s, %s) FROM head"
"""`APPEND_AUDIT` that also notifies `CHANNEL` (delivered only if the transaction commits)."""
TAIL_END = (
    "SELECT d.seq, CASE WHEN d.seq > %s THEN ARRAY("
    "SELECT l.virtualtransaction FROM pg_locks l WHERE l.locktype = 'relation' AND l.granted "
    "AND l.mode = 'RowExclusiveLock' AND l.relation = 'hitl_audit'::regclass AND l.database = "
    "(SELECT oid FROM pg_database WHERE datname = current_database()) AND d.seq IS NOT NULL"
    ") END FROM (SELECT COALESCE(pg_sequence_last_value("
    "pg_get_serial_sequence('hitl_audit', 'seq')::regclass), 0) AS seq) AS d"
)
"""Where a tailing read may end: the highest seq handed out, and the audit writers open now.

PostgreSQL draws a seq when a row is inserted, not when it commits, so a later seq can
be visible while an earlier one is still in flight. Every writer holds its
``RowExclusiveLock`` on ``hitl_audit`` from before it draws a seq (an INSERT or COPY
takes it first) until its commit is visible (locks go after that), so once the
transactions listed here have ended, no event at or below the seq can still appear.
Readers and autovacuum take other modes and are not waited for. The list is read after
the seq (it depends on it), and only when the seq is past the reader's ``after`` (else
nothing is new: None). It relies on the seq's default cache of 1, so that every seq
below it was handed out."""
OPEN_WRITERS = (
    "SELECT virtualtransaction, pid FROM pg_locks WHERE locktype = 'relation' AND granted "
    "AND mode = 'RowExclusiveLock' AND relation = 'hitl_audit'::regclass "
    "AND virtualtransaction = ANY(%s)"
)
"""Those of the given audit writers (virtual transaction ids) still open, with their pids."""
LAST_STABLE_SEQ = "SELECT COALESCE(MAX(seq), 0) FROM hitl_audit WHERE seq <= %s"
TAIL_WAIT = 10.0
"""Seconds a tailing read waits for audit writers still open below its end before failing."""
SELECT_CURSOR = "SELECT seq FROM hitl_webhook_cursors WHERE endpoint = %s"
ADVANCE_CURSOR = (
    "INSERT INTO hitl_webhook_cursors AS c (endpoint, seq) VALUES (%s, %s) "
    "ON CONFLICT (endpoint) DO UPDATE SET seq = GREATEST(c.seq, EXCLUDED.seq)"
)
INSERT_DELIVERY = (
    "INSERT INTO hitl_webhook_deliveries (delivery_id, endpoint, event_seq, status, at, doc) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
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


Heads = dict[str, AuditHead | None]
"""The audit heads one transaction has read (None: the run has none yet) and advanced."""


def append_audit(
    event: AuditEvent, doc: dict[str, Any], head: AuditHead, jsonb: Any
) -> tuple[str, tuple[Any, ...]]:
    """The statement appending `event` as linked (`doc`) and moving its run to `head`.

    The row's seq is the event's; it is filled in when read, as rows never change.
    """
    params = (event.run_id, event.request_id, jsonb(doc), head.run_id, head.chain_index, head.hash)
    if (payload := notify_payload(event)) is None:
        return APPEND_AUDIT, params
    return APPEND_AUDIT_NOTIFY, (*params, CHANNEL, payload)


def head_of(run_id: str, row: tuple[Any, ...] | None) -> AuditHead | None:
    """The head in a (chain_index, hash) row, None when the run has none (or no row)."""
    if row is None or row[0] is None:
        return None
    return AuditHead(run_id=run_id, chain_index=row[0], hash=row[1])


def runs_to_lock(run: RunRecord, requests: Sequence[ApprovalRequest]) -> list[str]:
    """The runs a save writes audit for, sorted (so two savers never lock in opposite order)."""
    return sorted({run.run_id, *(r.run_id for r in requests)})


def due_runs(due: list[ApprovalRequest]) -> list[str]:
    """The runs of due requests, sorted: the order `TRY_LOCK_RUNS` takes their locks in."""
    return sorted({r.run_id for r in due})


def lockable(
    due: list[ApprovalRequest], locked: list[tuple[Any, ...]], heads_rows: list[tuple[Any, ...]]
) -> tuple[list[ApprovalRequest], Heads]:
    """The due requests whose run lock was taken, and those runs' heads (None: no head yet).

    The others stay pending for the next pass: their run is busy, maybe deciding them.
    """
    runs = {row[0] for row in locked}
    heads: Heads = dict.fromkeys(runs)
    heads.update(heads_of(heads_rows))
    return [r for r in due if r.run_id in runs], heads


def head_moved(run_id: str) -> str:
    """The error when a run's head moved under a writer holding its lock."""
    return (
        f"The audit chain of run {run_id} moved while this transaction held the run's lock: "
        "something appends without it. Nothing was written; retry, and check for writers "
        "older than hitl-kit's schema version 3."
    )


def delivery_row(record: DeliveryRecord, jsonb: Any) -> tuple[Any, ...]:
    """Parameters of `INSERT_DELIVERY`."""
    return (
        record.delivery_id,
        record.endpoint,
        record.event_seq,
        record.status.value,
        record.at,
        jsonb(record.model_dump(mode="json")),
    )


def deliveries_query(
    endpoint: str | None, event_seq: int | None, limit: int
) -> tuple[str, list[Any]]:
    """Delivery attempts, oldest first, optionally filtered."""
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (("endpoint = %s", endpoint), ("event_seq = %s", event_seq)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    query = f"SELECT doc::text FROM hitl_webhook_deliveries {where} ORDER BY id LIMIT %s"
    return query, [*params, limit]


def heads_query(run_id: str | None) -> tuple[str, list[Any]]:
    """Every run's audit head, or one run's."""
    if run_id is None:
        return "SELECT run_id, chain_index, hash FROM hitl_audit_heads", []
    return "SELECT run_id, chain_index, hash FROM hitl_audit_heads WHERE run_id = %s", [run_id]


def heads_of(rows: list[tuple[Any, ...]]) -> dict[str, AuditHead]:
    return {r: AuditHead(run_id=r, chain_index=i, hash=h) for r, i, h in rows}


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
    if event.kind.value not in ("created", "decided", "expired", "resumed"):
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
    """Due pending requests, oldest deadline first, locked.

    Across runs it skips rows another expirer holds; for one run, whose lock the caller
    already holds, it waits for them (their holder never waits, so it commits soon).
    """
    if run_id is None:
        return (
            "SELECT doc FROM hitl_requests WHERE status = 'pending' AND expires_at <= %s "
            "ORDER BY expires_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
            [now, limit],
        )
    return (
        "SELECT doc FROM hitl_requests WHERE status = 'pending' AND expires_at <= %s "
        "AND run_id = %s ORDER BY expires_at, id LIMIT %s FOR UPDATE",
        [now, run_id, limit],
    )


def audit_query(
    run_id: str | None,
    request_id: str | None,
    after: int | None,
    limit: int | None,
    end: int | None = None,
) -> tuple[str, list[Any]]:
    """The audit trail in seq order, optionally filtered, in (`after`, `end`], `limit` rows.

    The page is read as without `end` and cut at it outside: a range on seq inside would
    let the planner read the whole range and sort it when statistics are missing.
    """
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("run_id = %s", run_id),
        ("request_id = %s", request_id),
        ("seq > %s", after),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    # doc::text: one JSON parse (Pydantic's) instead of psycopg's json.loads and a dict walk.
    page = f"SELECT seq, doc::text FROM hitl_audit {where} ORDER BY seq LIMIT %s"
    if end is None:
        return page, [*params, limit]
    return (
        f"SELECT seq, doc FROM ({page}) AS page WHERE seq <= %s ORDER BY seq",
        [*params, limit, end],
    )


class TailWait:
    """How a tailing read waits for the audit writers open at its end: short, growing pauses.

    They are the store's own transactions, a few milliseconds long, so the first pauses
    are a millisecond; one still open after `limit` seconds is reported, not waited out.
    """

    def __init__(self, url: str, end: int, limit: float = TAIL_WAIT) -> None:
        self.url = url
        self.end = end
        self.limit = limit
        self.deadline = time.monotonic() + limit
        self.delay = 0.001

    def pause(self, writers: Sequence[tuple[Any, ...]]) -> float:
        """Seconds to sleep before looking at `writers` (vxid, pid rows) again.

        Raises:
            StoreError: they are still open after `limit` seconds.
        """
        if time.monotonic() >= self.deadline:
            pids = ", ".join(sorted({str(row[1]) for row in writers}))
            raise StoreError(
                f"PostgreSQL store {self.url}: the audit trail cannot be read past seq "
                f"{self.end} yet, because a transaction that may still add an event at or "
                f"below it (backend pid {pids}) has been open for over {self.limit:g} s. "
                "Nothing was skipped; read again once it ends (the server's "
                "idle_in_transaction_session_timeout bounds how long an abandoned one stays)."
            )
        delay, self.delay = self.delay, min(self.delay * 2, 0.05)
        return delay


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
    return [
        AuditEvent.model_validate_json(doc).model_copy(update={"seq": seq}) for seq, doc in rows
    ]


def deliveries_of(rows: list[tuple[Any, ...]]) -> list[DeliveryRecord]:
    return [DeliveryRecord.model_validate_json(row[0]) for row in rows]
