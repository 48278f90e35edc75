"""What only the SQLite store must show: races, crashes, schema versions and upgrades,
append-only audit, driver errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hitl_conformance.stores.builders import claim_of
from hitl_core import (
    AuditKind,
    CallStatus,
    Decision,
    Lease,
    ManualClock,
    RequestStatus,
    open_store,
)
from hitl_core.errors import RunBusy, SchemaVersionMismatch, StoreError, StoreUnavailable
from hitl_core.stores.calls import idempotency_key
from hitl_core.stores.sqlite import MIGRATIONS, SqliteStore
from hitl_core.stores.sqlite_schema import statements
from tests.factories import payment_request, race_decisions


def test_eight_threads_racing_one_request_leave_one_decision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    store = open_store(url)
    request = store.put(payment_request())
    wins, conflicts = race_decisions(store, request.id, 8)
    assert len(wins) == 1
    assert conflicts == 7
    stored = store.get(request.id)
    assert stored.decision is not None
    assert stored.decision.by == wins[0]
    decided = [e for e in store.audit() if e.kind is AuditKind.DECIDED]
    assert [e.actor for e in decided] == wins


_CRASH = """
import os, sys
from hitl_core import open_store
from tests.factories import payment_request, race_decisions
store = open_store(sys.argv[1])
store.put(payment_request(run_id="run_crash", call_id="call_7"))
os._exit(137)  # die without closing anything, as a killed worker would
"""


def test_put_again_after_a_crash_keeps_one_request(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    done = subprocess.run(
        [sys.executable, "-c", _CRASH, url], cwd=Path(__file__).parents[2], check=False
    )
    assert done.returncode == 137
    store = open_store(url)
    again = store.put(payment_request(run_id="run_crash", call_id="call_7"))
    assert [r.id for r in store.list_requests().items] == [again.id]
    assert [e.kind for e in store.audit()] == [AuditKind.CREATED]
    assert again.status is RequestStatus.PENDING


def test_audit_rows_cannot_be_changed_or_deleted(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    store = open_store(f"sqlite:///{path}")
    store.put(payment_request())
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE hitl_audit SET doc = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM hitl_audit")
    assert len(store.audit()) == 1


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    store = open_store(f"sqlite:///{path}")
    request = store.put(payment_request())
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO hitl_schema VALUES (?, 'later')", (len(MIGRATIONS) + 1,))
    conn.commit()
    with pytest.raises(
        SchemaVersionMismatch, match=f"version {len(MIGRATIONS) + 1}.*Upgrade hitl-kit"
    ):
        open_store(f"sqlite:///{path}")
    conn.execute("DELETE FROM hitl_schema WHERE version = ?", (len(MIGRATIONS) + 1,))
    conn.commit()
    assert open_store(f"sqlite:///{path}").get(request.id) == request


def test_reopening_keeps_pending_requests_and_the_schema_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'again.db'}"
    first = SqliteStore(url)
    request = first.put(payment_request())
    first.close()
    second = SqliteStore(url)
    assert second.schema_version() == len(MIGRATIONS)
    assert second.list_requests().items == [request]


# -- upgrading a version 3 file ---------------------------------------------------


def _v3_file(path: Path) -> None:
    """A file as hitl-kit's schema version 3 left it: an execution, a leased run, another run."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE hitl_schema (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for version, script in enumerate(MIGRATIONS[:3], start=1):
        for statement in statements(script):
            conn.execute(statement)
        conn.execute("INSERT INTO hitl_schema VALUES (?, 'then')", (version,))
    conn.execute(
        "INSERT INTO hitl_executions (run_id, call_id, doc) VALUES (?, ?, ?)",
        ("run_old", "c1", json.dumps(V3_EXECUTION)),
    )
    for run_id, created, owner, until in (
        ("run_old", "2025-03-01T12:00:00.123456Z", "worker-1", "2025-03-01T12:05:00.000000Z"),
        ("run_east", "2025-03-01T13:00:00.5+02:00", None, None),
    ):
        doc = {**V3_RUN, "run_id": run_id, "created_at": created}
        conn.execute(
            "INSERT INTO hitl_runs (run_id, adapter, status, version, doc, lease_owner, "
            "lease_until) VALUES (?, 'test', 'paused', 3, ?, ?, ?)",
            (run_id, json.dumps(doc), owner, until),
        )
    conn.commit()
    conn.close()


V3_EXECUTION = {
    "schema_version": 1,
    "run_id": "run_old",
    "call_id": "c1",
    "tool": "send_payment",
    "args": {"amount": 4200, "recipient": "Acme Corp"},
    "output": "paid",
    "is_error": False,
    "at": "2025-03-01T12:00:01Z",
    "request_id": None,
    "adapter": "hitl_loop",
}
"""An `ExecutionRecord` document, as schema version 3 wrote it."""
V3_RUN = {
    "schema_version": 1,
    "adapter": "test",
    "status": "paused",
    "state": "{}",
    "version": 3,
    "updated_at": "2025-03-01T12:00:02Z",
}
UPGRADED_AT = datetime(2025, 3, 1, 12, 1, tzinfo=UTC)


def test_a_version_3_file_upgrades_its_executions_and_leases(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    _v3_file(path)
    clock = ManualClock(UPGRADED_AT)
    store = SqliteStore(f"sqlite:///{path}", clock=clock)
    assert store.schema_version() == len(MIGRATIONS) == 4
    (executed,) = store.calls("run_old").values()
    assert (executed.call_id, executed.status, executed.attempt) == ("c1", CallStatus.EXECUTED, 1)
    assert (executed.output, executed.adapter) == ("paid", "hitl_loop")
    assert executed.idempotency_key == idempotency_key("run_old", "c1")
    until = datetime(2025, 3, 1, 12, 5, tzinfo=UTC)
    assert store.lease_of("run_old") == Lease(
        run_id="run_old", holder="worker-1", fence=1, until=until
    )
    assert store.lease_of("run_east") is None
    with pytest.raises(RunBusy, match="worker-1"):
        store.acquire_lease("run_old", "w2", ttl=timedelta(minutes=1))
    clock.advance(timedelta(minutes=4))
    lease = store.acquire_lease("run_old", "w2", ttl=timedelta(minutes=1))
    assert lease.fence == 2
    again = claim_of(lease, "c1", clock)
    assert store.claim_call(again, lease) == executed  # it ran before the upgrade: never again
    assert [r.run_id for r in store.list_runs().items] == ["run_east", "run_old"]
    with sqlite3.connect(path) as conn:
        created = dict(conn.execute("SELECT run_id, created_at FROM hitl_runs").fetchall())
    assert created == {
        "run_old": "2025-03-01T12:00:00.123456Z",
        "run_east": "2025-03-01T11:00:00.500000Z",
    }
    store.close()


# -- driver errors and polls ------------------------------------------------------


def test_a_file_locked_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    """A write that cannot get the file's lock raises `StoreUnavailable`; polls that find
    nothing to do take no lock, so they return at once."""
    path = tmp_path / "busy.db"
    store = SqliteStore(f"sqlite:///{path}")
    request = store.put(payment_request())
    store._connection().execute("PRAGMA busy_timeout=50")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="busy") as caught:
            store.decide(request.id, Decision.approve(by="ana"))
        assert isinstance(caught.value, StoreError)
        assert store.expire_due() == []
        assert store.claim_ready("w1", lease=timedelta(seconds=5)) == []
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.get(request.id).is_pending
    store.close()
