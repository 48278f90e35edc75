"""The SQL both PostgreSQL stores run (sync `postgres`, async `postgres_aio`), written once.

Parameters are psycopg ``%s`` placeholders; the helpers that build a statement from
optional filters return the text and its parameters together. The schema is in
`postgres_schema` (re-exported here), the row conversions in `postgres_rows`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hitl_core.errors import StoreError
from hitl_core.requests import RequestStatus
from hitl_core.stores.postgres_schema import CREATE_SCHEMA_TABLE as CREATE_SCHEMA_TABLE
from hitl_core.stores.postgres_schema import MIGRATION_LOCK as MIGRATION_LOCK
from hitl_core.stores.postgres_schema import MIGRATIONS as MIGRATIONS
from hitl_core.stores.postgres_schema import RECORD_VERSION as RECORD_VERSION
from hitl_core.stores.postgres_schema import SCHEMA_VERSION as SCHEMA_VERSION
from hitl_core.stores.records import RunStatus, decode_cursor

__all__ = [
    "CHANNEL",
    "CREATE_SCHEMA_TABLE",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "RECORD_VERSION",
    "SCHEMA_VERSION",
    "TAIL_WAIT",
    "TailWait",
    "audit_query",
    "conninfo",
    "deliveries_query",
    "due_probe",
    "expire_query",
    "head_moved",
    "heads_query",
    "list_query",
    "masked_url",
    "runs_query",
]

CHANNEL = "hitl_events"
"""The NOTIFY channel; payloads are ``{"event": ..., "request_id": ..., "run_id": ...}``."""

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
    "INSERT INTO hitl_runs (run_id, adapter, status, version, created_at, doc) "
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (run_id) DO UPDATE SET "
    "adapter = EXCLUDED.adapter, status = EXCLUDED.status, version = EXCLUDED.version, "
    "created_at = EXCLUDED.created_at, doc = EXCLUDED.doc"
)
SELECT_LEASE = "SELECT holder, fence, until FROM hitl_leases WHERE run_id = %s"
UPSERT_LEASE = (
    "INSERT INTO hitl_leases (run_id, holder, fence, until) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (run_id) DO UPDATE SET holder = EXCLUDED.holder, fence = EXCLUDED.fence, "
    "until = EXCLUDED.until"
)
"""The run's one lease row: never deleted, so its fence only grows (see `lease_rules`)."""
SELECT_CALL = "SELECT doc FROM hitl_calls WHERE run_id = %s AND call_id = %s"
UPSERT_CALL = (
    "INSERT INTO hitl_calls (run_id, call_id, status, attempt, doc) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (run_id, call_id) DO UPDATE SET "
    "status = EXCLUDED.status, attempt = EXCLUDED.attempt, doc = EXCLUDED.doc"
)
SELECT_CALLS = "SELECT call_id, doc::text FROM hitl_calls WHERE run_id = %s"
READY_RUNS = (
    "SELECT r.run_id FROM hitl_runs r WHERE r.status = 'paused' AND NOT EXISTS "
    "(SELECT 1 FROM hitl_leases l WHERE l.run_id = r.run_id AND l.until > %s) AND r.run_id IN "
    "(SELECT run_id FROM hitl_requests WHERE status IN ('decided', 'expired')) "
    "ORDER BY r.run_id LIMIT %s FOR UPDATE OF r SKIP LOCKED"
)
"""Paused runs with an answered request and no live lease, locked, skipping runs being saved."""
READY_LOCKED = (
    "SELECT r.run_id, r.adapter, l.holder, l.fence, l.until FROM hitl_runs r "
    "LEFT JOIN hitl_leases l ON l.run_id = r.run_id WHERE r.run_id = ANY(%s) "
    "AND r.status = 'paused' AND (l.until IS NULL OR l.until <= %s) AND EXISTS "
    "(SELECT 1 FROM hitl_requests q WHERE q.run_id = r.run_id "
    "AND q.status IN ('decided', 'expired')) ORDER BY r.run_id"
)
"""`READY_RUNS` checked again once their run locks are held, with each run's lease row.

A lease granted (`acquire_lease` holds the run lock, not the row) or a request resumed
between the two statements shows here, so a live lease is never granted over."""


def head_moved(run_id: str) -> str:
    """The error when a run's head moved under a writer holding its lock."""
    return (
        f"The audit chain of run {run_id} moved while this transaction held the run's lock: "
        "something appends without it. Nothing was written; retry, and check for writers "
        "older than hitl-kit's schema version 3."
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


def runs_query(
    status: RunStatus | None, adapter: str | None, cursor: str | None, limit: int
) -> tuple[str, list[Any]]:
    """A page of runs in (created_at, run_id) order, one row more than `limit`."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("status", status.value if status else None), ("adapter", adapter)):
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    if cursor:
        created, after_id = decode_cursor(cursor)
        clauses.append("(created_at, run_id) > (%s, %s)")
        params += [created, after_id]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    query = f"SELECT doc::text FROM hitl_runs {where} ORDER BY created_at, run_id LIMIT %s"
    return query, [*params, limit + 1]


def due_probe(now: datetime, run_id: str | None) -> tuple[str, list[Any]]:
    """Whether any pending request is due: read before `expire_query`'s transaction."""
    if run_id is None:
        return (
            "SELECT 1 FROM hitl_requests WHERE status = 'pending' AND expires_at <= %s LIMIT 1",
            [now],
        )
    return (
        "SELECT 1 FROM hitl_requests WHERE status = 'pending' AND expires_at <= %s "
        "AND run_id = %s LIMIT 1",
        [now, run_id],
    )


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
