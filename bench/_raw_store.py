"""The baseline for `store_ops`: the store's own SQL on one plain psycopg connection.

Each method runs, in one transaction, exactly the statements `PostgresStore` runs for
that operation, taken from the store's own SQL module (`bench.store_ops` also records
what each side sends and compares), but its documents are plain dicts: no Pydantic
models, no lifecycle functions, no pool. What the store costs on top of this is what
hitl-kit adds to the database's own work.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from hitl_core.audit_chain import GENESIS
from hitl_core.identity import canonical_json
from hitl_core.requests import RequestStatus
from hitl_core.stores import postgres_sql as sql

__all__ = ["RawStore", "Doc"]

Doc = dict[str, Any]

LOAD_FOR_UPDATE = sql.SELECT_REQUEST + " FOR UPDATE"
"""As the store's `_load(..., lock=True)` builds it."""


def _iso(moment: datetime) -> str:
    """A UTC time as Pydantic writes it in JSON mode (``...Z``)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _event(kind: str, doc: Doc, at: str, actor: str | None, decision: Doc | None) -> Doc:
    """The audit document the store would append, written out as a dict."""
    return {
        "schema_version": 1,
        "kind": kind,
        "at": at,
        "run_id": doc["run_id"],
        "request_id": doc["id"],
        "call_id": doc["action"]["call_id"],
        "tool": doc["action"]["tool"],
        "actor": actor,
        "decision": decision["type"] if decision else None,
        "args": dict(doc["action"]["args"]),
        "edited_args": None,
        "feedback": decision.get("feedback") if decision else None,
        "detail": {"reason": doc["reason"]} if kind == "created" else {},
    }


def _by_value(value: Any) -> Any:
    """Integral floats as ints: the chain hashes numbers by value, as JSONB gives them back."""
    if isinstance(value, float) and value.is_integer():
        return int(Decimal(repr(value)))
    if isinstance(value, dict):
        return {k: _by_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_by_value(v) for v in value]
    return value


def _link(event: Doc, head: tuple[int, str] | None) -> Doc:
    """The event with its chain fields, hashed as the store hashes it (plain dicts)."""
    index, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    placed = {**event, "chain_index": index, "prev_hash": prev}
    digest = hashlib.sha256((prev + canonical_json(_by_value(placed))).encode()).hexdigest()
    return {**placed, "hash": "sha256:" + digest}


class RawStore:
    """Put, get, decide, list and expire with hand-written dicts on one connection."""

    def __init__(self, url: str) -> None:
        # Autocommit, like the store's pool: reads are one statement; writes open a transaction.
        self.conn = psycopg.connect(url, autocommit=True)

    def close(self) -> None:
        self.conn.close()

    def _write(
        self,
        cur: psycopg.Cursor[Any],
        doc: Doc,
        event: Doc,
        head: tuple[int, str] | None,
        read_head: bool = False,
    ) -> None:
        """Upsert the request row, append its linked audit event and head, notify listeners."""
        cur.execute(
            sql.UPSERT_REQUEST,
            (
                doc["id"],
                doc["run_id"],
                doc["action"]["tool"],
                doc["status"],
                datetime.fromisoformat(doc["created_at"]),
                datetime.fromisoformat(doc["expires_at"]) if doc["expires_at"] else None,
                Jsonb(doc),
            ),
        )
        if read_head:
            cur.execute(sql.SELECT_HEAD, (doc["run_id"],))
            row = cur.fetchone()
            head = (row[0], row[1]) if row else None
        linked = _link(event, head)
        payload = {"event": event["kind"], "request_id": doc["id"], "run_id": doc["run_id"]}
        cur.execute(
            sql.APPEND_AUDIT_NOTIFY,
            (
                doc["run_id"],
                doc["id"],
                Jsonb(linked),
                doc["run_id"],
                linked["chain_index"],
                linked["hash"],
                sql.CHANNEL,
                json.dumps(payload),
            ),
        )
        if (cur.fetchone() or (0,))[0] != 1:
            raise RuntimeError(sql.head_moved(doc["run_id"]))

    def put(self, request: Doc) -> Doc:
        """Store a new pending request (an existing one is returned unchanged)."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(sql.LOCK_RUN, (request["run_id"],))
            cur.execute(LOAD_FOR_UPDATE, (request["id"],))
            row = cur.fetchone()
            if row is not None:
                existing: Doc = row[0]
                return existing
            fresh = {**request, "status": "pending", "decision": None, "resumed_at": None}
            event = _event("created", fresh, fresh["created_at"], fresh["adapter"], None)
            self._write(cur, fresh, event, None, read_head=True)
            return fresh

    def get(self, request_id: str) -> Doc:
        with self.conn.cursor() as cur:
            cur.execute(sql.SELECT_REQUEST, (request_id,))
            row = cur.fetchone()
        if row is None:
            raise KeyError(request_id)
        doc: Doc = row[0]
        return doc

    def first_page(self, limit: int) -> list[Doc]:
        """The oldest `limit` pending requests (fetching one more, as the store does)."""
        return self.page(limit, None)

    def page(self, limit: int, cursor: str | None) -> list[Doc]:
        """`limit` pending requests after `cursor`, with the store's query and parameters."""
        query, params = sql.list_query(RequestStatus.PENDING, None, None, cursor, limit)
        with self.conn.cursor() as cur:
            cur.execute(query, params)
            rows = cur.fetchall()
        # The query returns doc::text; the raw side parses it as plain JSON.
        return [json.loads(row[0]) for row in rows[:limit]]

    def approve(self, request_id: str, by: str) -> Doc:
        """Record an approval on a pending request."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(sql.LOCK_RUN_OF_REQUEST, (request_id,))
            cur.execute(sql.SELECT_REQUEST_AND_HEAD, (request_id,))
            row = cur.fetchone()
            if row is None:
                raise KeyError(request_id)
            doc: Doc = row[0]
            head = (row[1], row[2]) if row[1] is not None else None
            if doc["status"] != "pending":
                raise ValueError(f"{request_id} is {doc['status']}")
            at = _iso(datetime.now(UTC))
            decision = {
                "by": by,
                "at": at,
                "feedback": None,
                "request_id": request_id,
                "args_digest": doc["args_digest"],
                "type": "approve",
            }
            decided = {**doc, "status": "decided", "decision": decision}
            self._write(cur, decided, _event("decided", decided, at, by, decision), head)
            return decided

    def expire_due(self, now: datetime, limit: int) -> list[Doc]:
        """Expire up to `limit` due pending requests with their expiry outcome."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            query, params = sql.expire_query(now, None, limit)
            cur.execute(query, params)
            due = cur.fetchall()
            if not due:  # as the store: no run locks or heads to read
                return []
            cur.execute(sql.TRY_LOCK_RUNS, (sorted({d["run_id"] for (d,) in due}),))
            runs = [r[0] for r in cur.fetchall()]
            cur.execute(sql.SELECT_HEADS, (runs,))
            heads = {r: (i, h) for r, i, h in cur.fetchall()}
            expired = []
            at = _iso(now)
            for (doc,) in due:
                if doc["run_id"] not in runs:
                    continue
                outcome = {
                    **doc["on_expiry"],
                    "at": at,
                    "request_id": doc["id"],
                    "args_digest": doc["args_digest"],
                }
                done = {**doc, "status": "expired", "decision": outcome}
                event = _event("expired", done, at, outcome["by"], outcome)
                self._write(cur, done, event, heads.get(doc["run_id"]))
                expired.append(done)
            return expired
