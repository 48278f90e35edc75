"""What only the SQLite store must show: races, crashes, schema versions, append-only audit."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hitl_core import AuditKind, RequestStatus, open_store
from hitl_core.errors import SchemaVersionMismatch
from hitl_core.stores.sqlite import MIGRATIONS, SqliteStore
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
