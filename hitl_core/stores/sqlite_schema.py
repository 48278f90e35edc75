"""The SQLite store's schema: numbered, append-only migrations, recorded in ``hitl_schema``."""

from __future__ import annotations

import sqlite3

__all__ = ["MIGRATIONS", "statements"]

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
    # 4: the call ledger (executions become executed calls), one lease row per run with its
    # fencing token (unreleased leases carried over as fence 1), and runs listed by age.
    # hitl_executions and hitl_runs.lease_owner/lease_until are no longer written.
    # created_at is rebuilt from the doc in `ts` form: whole seconds through strftime
    # (which converts any offset to UTC), then the fraction's digits padded to six.
    """
    CREATE TABLE hitl_calls (
        run_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        status TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (run_id, call_id)
    );
    INSERT INTO hitl_calls (run_id, call_id, status, attempt, doc)
        SELECT run_id, call_id, 'executed', 1, doc FROM hitl_executions;
    CREATE TABLE hitl_leases (
        run_id TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        fence INTEGER NOT NULL,
        until TEXT NOT NULL
    );
    INSERT INTO hitl_leases (run_id, holder, fence, until)
        SELECT run_id, lease_owner, 1, lease_until FROM hitl_runs
        WHERE lease_owner IS NOT NULL AND lease_until IS NOT NULL;
    ALTER TABLE hitl_runs ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
    UPDATE hitl_runs SET created_at = (
        SELECT strftime('%Y-%m-%dT%H:%M:%S', substr(t, 1, 19) || zone) || '.'
            || substr(ltrim(substr(rest, 1, length(rest) - length(zone)), '.') || '000000', 1, 6)
            || 'Z'
        FROM (SELECT t, rest, ltrim(rest, '.0123456789') AS zone
              FROM (SELECT t, substr(t, 20) AS rest
                    FROM (SELECT json_extract(hitl_runs.doc, '$.created_at') AS t)))
    );
    CREATE INDEX hitl_runs_status ON hitl_runs (status, created_at, run_id);
    """,
]
"""Schema changes, append-only: entry N-1 takes the schema to version N."""


def statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    found: list[str] = []
    buffer: list[str] = []
    for line in script.strip().splitlines():
        buffer.append(line)
        text = "\n".join(buffer).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            found.append(text)
            buffer = []
    if "\n".join(buffer).strip():
        found.append("\n".join(buffer).strip())
    return found
