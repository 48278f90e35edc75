"""What a PostgreSQL store's transaction does with its cursor, sync and async side by side.

Each helper runs inside a transaction the store opened, after the run locks it needs
(`postgres_sql.LOCK_RUN`): reading a request or run (locked or not), appending an event
to its run's chain, reading and writing the run's lease row and a call's ledger line.
The async twin of each is the same name with an ``a`` prefix, and differs only in the
awaits, so the two stores cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import linked_document
from hitl_core.errors import MissingDependency, StoreError, UnknownRequest
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import lease_rules, lifecycle
from hitl_core.stores import postgres_rows as rows
from hitl_core.stores import postgres_sql as sql
from hitl_core.stores.calls import CallRecord
from hitl_core.stores.leases import Lease
from hitl_core.stores.records import RunRecord

try:
    import psycopg
    from psycopg.types.json import Jsonb
except ModuleNotFoundError as error:  # pragma: no cover - exercised without the extra
    raise MissingDependency(error.name or "psycopg", "postgres") from error

__all__ = [
    "ACursor",
    "Cursor",
    "aappend",
    "aapply",
    "aload_call",
    "aload_lease",
    "aload_request",
    "aload_run",
    "alock_runs",
    "append",
    "apply",
    "arelease",
    "arequire",
    "awrite_call",
    "awrite_lease",
    "load_call",
    "load_lease",
    "load_request",
    "load_run",
    "lock_runs",
    "release",
    "require",
    "write_call",
    "write_lease",
]

Cursor = psycopg.Cursor[Any]
ACursor = psycopg.AsyncCursor[Any]


def _for_update(query: str, lock: bool) -> str:
    return query + (" FOR UPDATE" if lock else "")


def lock_runs(cur: Cursor, run_ids: Sequence[str]) -> None:
    """Take the run locks, in the order given (sorted, so two writers never cross)."""
    for run_id in run_ids:
        cur.execute(sql.LOCK_RUN, (run_id,))


async def alock_runs(cur: ACursor, run_ids: Sequence[str]) -> None:
    for run_id in run_ids:
        await cur.execute(sql.LOCK_RUN, (run_id,))


# -- requests and the audit chain -----------------------------------------------------


def load_request(cur: Cursor, request_id: str, *, lock: bool) -> ApprovalRequest | None:
    row = cur.execute(_for_update(sql.SELECT_REQUEST, lock), (request_id,)).fetchone()
    return ApprovalRequest.model_validate(row[0]) if row else None


async def aload_request(cur: ACursor, request_id: str, *, lock: bool) -> ApprovalRequest | None:
    row = await (await cur.execute(_for_update(sql.SELECT_REQUEST, lock), (request_id,))).fetchone()
    return ApprovalRequest.model_validate(row[0]) if row else None


def require(cur: Cursor, request_id: str, heads: rows.Heads) -> ApprovalRequest:
    """The request, locked, noting its run's head; call it holding the run's lock."""
    row = cur.execute(sql.SELECT_REQUEST_AND_HEAD, (request_id,)).fetchone()
    if row is None:
        raise UnknownRequest(request_id)
    request = ApprovalRequest.model_validate(row[0])
    heads.setdefault(request.run_id, rows.head_of(request.run_id, row[1:]))
    return request


async def arequire(cur: ACursor, request_id: str, heads: rows.Heads) -> ApprovalRequest:
    row = await (await cur.execute(sql.SELECT_REQUEST_AND_HEAD, (request_id,))).fetchone()
    if row is None:
        raise UnknownRequest(request_id)
    request = ApprovalRequest.model_validate(row[0])
    heads.setdefault(request.run_id, rows.head_of(request.run_id, row[1:]))
    return request


def apply(cur: Cursor, transition: lifecycle.Transition, heads: rows.Heads) -> ApprovalRequest:
    """Write a request transition and append its event (nothing when there is no event)."""
    request, event = transition
    if event is None:
        return request
    cur.execute(sql.UPSERT_REQUEST, rows.request_row(request, Jsonb))
    append(cur, event, heads)
    return request


async def aapply(
    cur: ACursor, transition: lifecycle.Transition, heads: rows.Heads
) -> ApprovalRequest:
    request, event = transition
    if event is None:
        return request
    await cur.execute(sql.UPSERT_REQUEST, rows.request_row(request, Jsonb))
    await aappend(cur, event, heads)
    return request


def append(cur: Cursor, event: AuditEvent, heads: rows.Heads) -> None:
    """Link `event` after its run's head, append it, move the head (and notify).

    The caller holds the run's lock, so the head read here stays the head until commit.

    Raises:
        StoreError: the head moved anyway (a writer without the lock); roll back.
    """
    run_id = event.run_id
    if run_id not in heads:
        heads[run_id] = rows.head_of(run_id, cur.execute(sql.SELECT_HEAD, (run_id,)).fetchone())
    doc, head = linked_document(event, heads[run_id])
    query, params = rows.append_audit(event, doc, head, Jsonb)
    if rows.scalar(cur.execute(query, params).fetchone()) != 1:
        raise StoreError(sql.head_moved(run_id))
    heads[run_id] = head


async def aappend(cur: ACursor, event: AuditEvent, heads: rows.Heads) -> None:
    run_id = event.run_id
    if run_id not in heads:
        row = await (await cur.execute(sql.SELECT_HEAD, (run_id,))).fetchone()
        heads[run_id] = rows.head_of(run_id, row)
    doc, head = linked_document(event, heads[run_id])
    query, params = rows.append_audit(event, doc, head, Jsonb)
    if rows.scalar(await (await cur.execute(query, params)).fetchone()) != 1:
        raise StoreError(sql.head_moved(run_id))
    heads[run_id] = head


# -- runs, leases and calls -----------------------------------------------------------


def load_run(cur: Cursor, run_id: str, *, lock: bool) -> RunRecord | None:
    row = cur.execute(_for_update(sql.SELECT_RUN, lock), (run_id,)).fetchone()
    return RunRecord.model_validate(row[0]) if row else None


async def aload_run(cur: ACursor, run_id: str, *, lock: bool) -> RunRecord | None:
    row = await (await cur.execute(_for_update(sql.SELECT_RUN, lock), (run_id,))).fetchone()
    return RunRecord.model_validate(row[0]) if row else None


def load_lease(cur: Cursor, run_id: str) -> Lease | None:
    return rows.lease_of(run_id, cur.execute(sql.SELECT_LEASE, (run_id,)).fetchone())


async def aload_lease(cur: ACursor, run_id: str) -> Lease | None:
    return rows.lease_of(run_id, await (await cur.execute(sql.SELECT_LEASE, (run_id,))).fetchone())


def write_lease(cur: Cursor, lease: Lease) -> None:
    cur.execute(sql.UPSERT_LEASE, rows.lease_row(lease))


async def awrite_lease(cur: ACursor, lease: Lease) -> None:
    await cur.execute(sql.UPSERT_LEASE, rows.lease_row(lease))


def release(cur: Cursor, lease: Lease, now: datetime) -> None:
    """Hand `lease` back (its row keeps holder and fence); a no-op once it was taken over."""
    released = lease_rules.release(load_lease(cur, lease.run_id), lease, now)
    if released is not None:
        write_lease(cur, released)


async def arelease(cur: ACursor, lease: Lease, now: datetime) -> None:
    released = lease_rules.release(await aload_lease(cur, lease.run_id), lease, now)
    if released is not None:
        await awrite_lease(cur, released)


def load_call(cur: Cursor, record: CallRecord) -> CallRecord | None:
    """The stored line of `record`'s call, None before its first claim."""
    row = cur.execute(sql.SELECT_CALL, (record.run_id, record.call_id)).fetchone()
    return CallRecord.model_validate(row[0]) if row else None


async def aload_call(cur: ACursor, record: CallRecord) -> CallRecord | None:
    row = await (await cur.execute(sql.SELECT_CALL, (record.run_id, record.call_id))).fetchone()
    return CallRecord.model_validate(row[0]) if row else None


def write_call(cur: Cursor, record: CallRecord) -> None:
    cur.execute(sql.UPSERT_CALL, rows.call_row(record, Jsonb))


async def awrite_call(cur: ACursor, record: CallRecord) -> None:
    await cur.execute(sql.UPSERT_CALL, rows.call_row(record, Jsonb))
