"""The SQLite store's SQL, and the row helpers its transactions share.

Every helper takes the connection of a transaction `SqliteStore` opened: the store decides
when to read, lock and commit; this module only says how a model becomes a row and back.
Timestamps are stored as fixed-width UTC text (`ts`), so text order is time order.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import AuditHead, linked_document
from hitl_core.errors import InvalidInput, StoreError, StoreUnavailable
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores import lifecycle
from hitl_core.stores.calls import CallRecord
from hitl_core.stores.deliveries import DeliveryRecord
from hitl_core.stores.leases import Lease
from hitl_core.stores.records import RunRecord, RunStatus, decode_cursor

__all__ = [
    "PENDING_OF_RUN",
    "READY",
    "append",
    "apply",
    "audit_query",
    "calls_of",
    "deliveries_query",
    "due_query",
    "list_query",
    "load_call",
    "load_lease",
    "load_request",
    "load_run",
    "path_from_url",
    "runs_query",
    "store_error",
    "ts",
    "write_call",
    "write_delivery",
    "write_lease",
    "write_run",
]

PENDING_OF_RUN = (
    "SELECT doc FROM hitl_requests WHERE run_id = ? AND status = 'pending' ORDER BY created_at, id"
)
READY = (
    "SELECT r.run_id, r.adapter FROM hitl_runs r LEFT JOIN hitl_leases l ON l.run_id = r.run_id "
    "WHERE r.status = 'paused' AND (l.until IS NULL OR l.until <= ?) AND r.run_id IN "
    "(SELECT run_id FROM hitl_requests WHERE status IN ('decided', 'expired')) "
    "ORDER BY r.run_id LIMIT ?"
)
"""Paused runs with an answered request and no live lease, for `claim_ready`."""


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


def ts(value: datetime) -> str:
    """A sortable UTC timestamp: ISO 8601 with fixed width, so text order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def store_error(path: Path, error: sqlite3.Error) -> StoreError:
    """The hitl error for a driver error: `StoreUnavailable` when the file stayed locked."""
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text:
        return StoreUnavailable(
            f"SQLite store {path} is busy ({text}): another process held its write lock "
            "past the busy timeout. Nothing was written; retry."
        )
    return StoreError(f"SQLite store {path} failed: {text}")


# -- rows ---------------------------------------------------------------------------


def write_delivery(conn: sqlite3.Connection, record: DeliveryRecord) -> None:
    conn.execute(
        "INSERT INTO hitl_webhook_deliveries "
        "(delivery_id, endpoint, event_seq, status, at, doc) VALUES (?, ?, ?, ?, ?, ?)",
        (
            record.delivery_id,
            record.endpoint,
            record.event_seq,
            record.status.value,
            ts(record.at),
            record.model_dump_json(),
        ),
    )


def load_request(conn: sqlite3.Connection, request_id: str) -> ApprovalRequest | None:
    row = conn.execute("SELECT doc FROM hitl_requests WHERE id = ?", (request_id,)).fetchone()
    return ApprovalRequest.model_validate_json(row[0]) if row else None


def apply(conn: sqlite3.Connection, transition: lifecycle.Transition) -> ApprovalRequest:
    """Write a request transition and its audit event (nothing when there is no event)."""
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
            ts(request.created_at),
            ts(request.expires_at) if request.expires_at else None,
            request.model_dump_json(),
        ),
    )
    append(conn, event)
    return request


def append(conn: sqlite3.Connection, event: AuditEvent) -> None:
    """Link `event` after its run's head, append it and move the head, in `conn`'s write.

    ``BEGIN IMMEDIATE`` already serializes writers, so the head read here is the latest.
    """
    row = conn.execute(
        "SELECT chain_index, hash FROM hitl_audit_heads WHERE run_id = ?", (event.run_id,)
    ).fetchone()
    head = AuditHead(run_id=event.run_id, chain_index=row[0], hash=row[1]) if row else None
    doc, moved = linked_document(event, head)
    # The row's seq is the event's; it is filled in when read, as rows never change.
    conn.execute(
        "INSERT INTO hitl_audit (run_id, request_id, doc) VALUES (?, ?, ?)",
        (event.run_id, event.request_id, json.dumps(doc, separators=(",", ":"))),
    )
    conn.execute(
        "INSERT INTO hitl_audit_heads (run_id, chain_index, hash) VALUES (?, ?, ?) "
        "ON CONFLICT (run_id) DO UPDATE SET chain_index = excluded.chain_index, "
        "hash = excluded.hash",
        (event.run_id, moved.chain_index, moved.hash),
    )


def load_run(conn: sqlite3.Connection, run_id: str) -> RunRecord | None:
    row = conn.execute("SELECT doc FROM hitl_runs WHERE run_id = ?", (run_id,)).fetchone()
    return RunRecord.model_validate_json(row[0]) if row else None


def write_run(conn: sqlite3.Connection, run: RunRecord) -> None:
    conn.execute(
        "INSERT INTO hitl_runs (run_id, adapter, status, version, created_at, doc) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
        "adapter = excluded.adapter, status = excluded.status, version = excluded.version, "
        "created_at = excluded.created_at, doc = excluded.doc",
        (
            run.run_id,
            run.adapter,
            run.status.value,
            run.version,
            ts(run.created_at),
            run.model_dump_json(),
        ),
    )


def load_lease(conn: sqlite3.Connection, run_id: str) -> Lease | None:
    row = conn.execute(
        "SELECT holder, fence, until FROM hitl_leases WHERE run_id = ?", (run_id,)
    ).fetchone()
    if row is None:
        return None
    return Lease(run_id=run_id, holder=row[0], fence=row[1], until=datetime.fromisoformat(row[2]))


def write_lease(conn: sqlite3.Connection, lease: Lease) -> None:
    """Store the run's lease row (one per run, never deleted, so its fence only grows)."""
    conn.execute(
        "INSERT INTO hitl_leases (run_id, holder, fence, until) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (run_id) DO UPDATE SET holder = excluded.holder, "
        "fence = excluded.fence, until = excluded.until",
        (lease.run_id, lease.holder, lease.fence, ts(lease.until)),
    )


def load_call(conn: sqlite3.Connection, run_id: str, call_id: str) -> CallRecord | None:
    row = conn.execute(
        "SELECT doc FROM hitl_calls WHERE run_id = ? AND call_id = ?", (run_id, call_id)
    ).fetchone()
    return CallRecord.model_validate_json(row[0]) if row else None


def write_call(conn: sqlite3.Connection, record: CallRecord) -> None:
    conn.execute(
        "INSERT INTO hitl_calls (run_id, call_id, status, attempt, doc) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id, call_id) DO UPDATE SET status = excluded.status, "
        "attempt = excluded.attempt, doc = excluded.doc",
        (
            record.run_id,
            record.call_id,
            record.status.value,
            record.attempt,
            record.model_dump_json(),
        ),
    )


def calls_of(conn: sqlite3.Connection, run_id: str) -> dict[str, CallRecord]:
    rows = conn.execute("SELECT call_id, doc FROM hitl_calls WHERE run_id = ?", (run_id,))
    return {call_id: CallRecord.model_validate_json(doc) for call_id, doc in rows.fetchall()}


# -- queries --------------------------------------------------------------------------


def _where(filters: list[tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    """``WHERE`` over the (clause, parameters) pairs that have parameters."""
    given = [(clause, params) for clause, params in filters if params]
    if not given:
        return "", []
    return f"WHERE {' AND '.join(c for c, _ in given)}", [p for _, ps in given for p in ps]


def _given(value: object) -> list[Any]:
    """A filter's one parameter, or none when the filter is not given."""
    return [] if value is None else [value]


def _after(cursor: str | None) -> list[Any]:
    """The (created_at, key) parameters of a page cursor, none without one."""
    if not cursor:
        return []
    created, key = decode_cursor(cursor)
    return [ts(created), key]


def list_query(
    status: RequestStatus | None,
    run_id: str | None,
    tool: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """A page of requests in (created_at, id) order, one row more than `limit`."""
    where, params = _where(
        [
            ("status = ?", _given(status.value if status else None)),
            ("run_id = ?", _given(run_id)),
            ("tool = ?", _given(tool)),
            ("(created_at, id) > (?, ?)", _after(cursor)),
        ]
    )
    query = f"SELECT doc FROM hitl_requests {where} ORDER BY created_at, id LIMIT ?"
    return query, [*params, limit + 1]


def runs_query(
    status: RunStatus | None, adapter: str | None, cursor: str | None, limit: int
) -> tuple[str, list[Any]]:
    """A page of runs in (created_at, run_id) order, one row more than `limit`."""
    where, params = _where(
        [
            ("status = ?", _given(status.value if status else None)),
            ("adapter = ?", _given(adapter)),
            ("(created_at, run_id) > (?, ?)", _after(cursor)),
        ]
    )
    query = f"SELECT doc FROM hitl_runs {where} ORDER BY created_at, run_id LIMIT ?"
    return query, [*params, limit + 1]


def due_query(now: datetime, run_id: str | None, limit: int | None) -> tuple[str, list[Any]]:
    """Pending requests due at `now`, oldest deadline first."""
    run_filter = "AND run_id = ? " if run_id is not None else ""
    query = (
        "SELECT doc FROM hitl_requests WHERE status = 'pending' AND expires_at IS NOT NULL "
        f"AND expires_at <= ? {run_filter}ORDER BY expires_at, id LIMIT ?"
    )
    return query, [ts(now), *_given(run_id), -1 if limit is None else limit]


def audit_query(
    run_id: str | None, request_id: str | None, after: int | None, limit: int | None
) -> tuple[str, list[Any]]:
    """The audit trail in seq order, optionally filtered."""
    where, params = _where(
        [
            ("run_id = ?", _given(run_id)),
            ("request_id = ?", _given(request_id)),
            ("seq > ?", _given(after)),
        ]
    )
    query = f"SELECT seq, doc FROM hitl_audit {where} ORDER BY seq LIMIT ?"
    return query, [*params, -1 if limit is None else limit]


def deliveries_query(
    endpoint: str | None, event_seq: int | None, limit: int
) -> tuple[str, list[Any]]:
    """Delivery attempts, oldest first, optionally filtered."""
    where, params = _where(
        [
            ("endpoint = ?", _given(endpoint)),
            ("event_seq = ?", _given(event_seq)),
        ]
    )
    query = f"SELECT doc FROM hitl_webhook_deliveries {where} ORDER BY id LIMIT ?"
    return query, [*params, limit]
