"""The PostgreSQL stores' schema: numbered, append-only migrations, recorded in ``hitl_schema``.

`setup` (sync and async) applies the entries past the highest recorded version under
`MIGRATION_LOCK`, so processes starting together upgrade once.
"""

from __future__ import annotations

__all__ = [
    "CREATE_SCHEMA_TABLE",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "RECORD_VERSION",
    "SCHEMA_VERSION",
]

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
    # 4: the call ledger (executions become executed calls), one lease row per run with its
    # fencing token (unreleased leases carried over as fence 1), and runs listed by age.
    # hitl_executions and hitl_runs.lease_owner/lease_until are no longer written.
    """
    CREATE TABLE hitl_calls (
        run_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        status TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        doc JSONB NOT NULL,
        PRIMARY KEY (run_id, call_id)
    );
    INSERT INTO hitl_calls (run_id, call_id, status, attempt, doc)
        SELECT run_id, call_id, 'executed', 1, doc FROM hitl_executions;
    CREATE TABLE hitl_leases (
        run_id TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        fence BIGINT NOT NULL,
        until TIMESTAMPTZ NOT NULL
    );
    INSERT INTO hitl_leases (run_id, holder, fence, until)
        SELECT run_id, lease_owner, 1, lease_until FROM hitl_runs
        WHERE lease_owner IS NOT NULL AND lease_until IS NOT NULL;
    ALTER TABLE hitl_runs ADD COLUMN created_at TIMESTAMPTZ;
    UPDATE hitl_runs SET created_at = (doc->>'created_at')::timestamptz;
    ALTER TABLE hitl_runs ALTER COLUMN created_at SET NOT NULL;
    CREATE INDEX hitl_runs_status ON hitl_runs (status, created_at, run_id);
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
