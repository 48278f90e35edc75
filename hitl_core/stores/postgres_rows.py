"""How the PostgreSQL stores turn models into statement parameters and rows into models.

Shared by the sync store (`postgres`) and its async twin (`postgres_aio`), with the SQL
in `postgres_sql`; nothing here does I/O. `jsonb` parameters are psycopg's ``Jsonb``,
passed in so this module needs no driver.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import AuditHead
from hitl_core.errors import StoreError, StoreUnavailable
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import lease_rules
from hitl_core.stores import postgres_sql as sql
from hitl_core.stores.calls import CallRecord
from hitl_core.stores.deliveries import DeliveryRecord
from hitl_core.stores.leases import Claim, Lease
from hitl_core.stores.records import (
    Page,
    RunPage,
    RunRecord,
    encode_cursor,
    encode_run_cursor,
)

__all__ = [
    "Heads",
    "append_audit",
    "call_row",
    "calls_of",
    "deliveries_of",
    "delivery_row",
    "due_runs",
    "events_of",
    "grants",
    "head_of",
    "heads_of",
    "lease_of",
    "lease_row",
    "lockable",
    "notify_payload",
    "page_of",
    "request_row",
    "run_page_of",
    "run_row",
    "runs_to_lock",
    "scalar",
    "store_error",
]


def store_error(url: str, error: Exception, *, transient: bool) -> StoreError:
    """The hitl error for a driver error; `transient`: the server or pool is unreachable."""
    if transient:
        return StoreUnavailable(
            f"PostgreSQL store {url} is unavailable ({error}). Retry once it is back (the "
            "pool reconnects); a write it interrupted was rolled back, unless the connection "
            "dropped while committing it."
        )
    return StoreError(f"PostgreSQL store {url} failed: {error}")


# -- requests and the audit chain --------------------------------------------------


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


def page_of(rows: list[tuple[Any, ...]], limit: int) -> Page:
    items = [ApprovalRequest.model_validate_json(row[0]) for row in rows[:limit]]
    return Page(items=items, next_cursor=encode_cursor(items[-1]) if len(rows) > limit else None)


Heads = dict[str, AuditHead | None]
"""The audit heads one transaction has read (None: the run has none yet) and advanced."""


def head_of(run_id: str, row: tuple[Any, ...] | None) -> AuditHead | None:
    """The head in a (chain_index, hash) row, None when the run has none (or no row)."""
    if row is None or row[0] is None:
        return None
    return AuditHead(run_id=run_id, chain_index=row[0], hash=row[1])


def heads_of(rows: list[tuple[Any, ...]]) -> dict[str, AuditHead]:
    return {r: AuditHead(run_id=r, chain_index=i, hash=h) for r, i, h in rows}


def append_audit(
    event: AuditEvent, doc: dict[str, Any], head: AuditHead, jsonb: Any
) -> tuple[str, tuple[Any, ...]]:
    """The statement appending `event` as linked (`doc`) and moving its run to `head`.

    The row's seq is the event's; it is filled in when read, as rows never change.
    """
    params = (event.run_id, event.request_id, jsonb(doc), head.run_id, head.chain_index, head.hash)
    if (payload := notify_payload(event)) is None:
        return sql.APPEND_AUDIT, params
    return sql.APPEND_AUDIT_NOTIFY, (*params, sql.CHANNEL, payload)


def notify_payload(event: AuditEvent) -> str | None:
    """The NOTIFY payload for events workers and live views care about, else None."""
    if event.kind.value not in ("created", "decided", "expired", "resumed"):
        return None
    return json.dumps(
        {"event": event.kind.value, "request_id": event.request_id, "run_id": event.run_id}
    )


def events_of(rows: list[tuple[Any, ...]]) -> list[AuditEvent]:
    return [
        AuditEvent.model_validate_json(doc).model_copy(update={"seq": seq}) for seq, doc in rows
    ]


def runs_to_lock(run_id: str, requests: Sequence[ApprovalRequest]) -> list[str]:
    """The runs a write puts requests in, sorted (so two writers never lock in opposite order)."""
    return sorted({run_id, *(r.run_id for r in requests)})


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


# -- runs --------------------------------------------------------------------------


def run_row(run: RunRecord, jsonb: Any) -> tuple[Any, ...]:
    """Parameters of `UPSERT_RUN`."""
    return (
        run.run_id,
        run.adapter,
        run.status.value,
        run.version,
        run.created_at,
        jsonb(run.model_dump(mode="json")),
    )


def run_page_of(rows: list[tuple[Any, ...]], limit: int) -> RunPage:
    items = [RunRecord.model_validate_json(row[0]) for row in rows[:limit]]
    more = len(rows) > limit
    return RunPage(items=items, next_cursor=encode_run_cursor(items[-1]) if more else None)


# -- the call ledger ---------------------------------------------------------------


def lease_row(lease: Lease) -> tuple[Any, ...]:
    """Parameters of `UPSERT_LEASE`."""
    return (lease.run_id, lease.holder, lease.fence, lease.until)


def lease_of(run_id: str, row: tuple[Any, ...] | None) -> Lease | None:
    """The lease in a (holder, fence, until) row, None when the run never had one."""
    if row is None or row[0] is None:
        return None
    return Lease(run_id=run_id, holder=row[0], fence=row[1], until=row[2])


def grants(rows: list[tuple[Any, ...]], worker: str, now: datetime, ttl: timedelta) -> list[Claim]:
    """The claims `claim_ready` grants over `READY_LOCKED` rows: each a fresh lease grant."""
    claims = []
    for run_id, adapter, *lease in rows:
        granted = lease_rules.acquire(lease_of(run_id, tuple(lease)), run_id, worker, now, ttl)
        claims.append(Claim(run_id=run_id, adapter=adapter, lease=granted))
    return claims


def call_row(record: CallRecord, jsonb: Any) -> tuple[Any, ...]:
    """Parameters of `UPSERT_CALL`."""
    return (
        record.run_id,
        record.call_id,
        record.status.value,
        record.attempt,
        jsonb(record.model_dump(mode="json")),
    )


def calls_of(rows: list[tuple[Any, ...]]) -> dict[str, CallRecord]:
    return {call_id: CallRecord.model_validate_json(doc) for call_id, doc in rows}


# -- webhook deliveries ------------------------------------------------------------


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


def deliveries_of(rows: list[tuple[Any, ...]]) -> list[DeliveryRecord]:
    return [DeliveryRecord.model_validate_json(row[0]) for row in rows]


def scalar(row: tuple[Any, ...] | None) -> int:
    return int(row[0]) if row else 0
