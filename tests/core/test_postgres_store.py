"""What only the PostgreSQL store must show: many writers, bulk expiry, migrations."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import psycopg
import pytest

from hitl_core import (
    AuditKind,
    Decision,
    ManualClock,
    RequestStatus,
    RunRecord,
    RunStatus,
    open_store,
)
from hitl_core.errors import SchemaVersionMismatch, StoreError
from hitl_core.stores import postgres
from hitl_core.stores.postgres import MIGRATIONS, PostgresStore
from tests.factories import payment_request, race_decisions


def test_sixteen_concurrent_decisions_leave_one(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, max_size=16)
    request = store.put(payment_request())
    wins, conflicts = race_decisions(store, request.id, 16)
    assert len(wins) == 1
    assert conflicts == 15
    assert [e.actor for e in store.audit() if e.kind is AuditKind.DECIDED] == wins
    store.close()


def test_ten_thousand_due_requests_expire_once(postgres_url: str) -> None:
    clock = ManualClock()
    store = PostgresStore(postgres_url, clock=clock)
    now = clock.now()
    requests = [
        payment_request(run_id="run_bulk", call_id=f"c{i}", now=now, expires_in=timedelta(hours=1))
        for i in range(10_000)
    ]
    record = RunRecord(
        run_id="run_bulk",
        adapter="test",
        status=RunStatus.PAUSED,
        state="{}",
        created_at=now,
        updated_at=now,
    )
    store.save_run(record, requests)
    clock.advance(timedelta(hours=2))
    halves: list[list[str]] = [[], []]

    def expire(i: int) -> None:
        while batch := store.expire_due(limit=500):
            halves[i] += [r.id for r in batch]

    workers = [threading.Thread(target=expire, args=(i,)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    expired = halves[0] + halves[1]
    assert len(expired) == 10_000
    assert len(set(expired)) == 10_000
    assert store.list_requests(status=RequestStatus.PENDING, limit=1).items == []
    kinds = [e.kind for e in store.audit(run_id="run_bulk")]
    assert kinds.count(AuditKind.EXPIRED) == 10_000
    store.close()


def test_audit_rows_cannot_be_changed_or_deleted(postgres_url: str) -> None:
    store = open_store(postgres_url)
    store.put(payment_request())
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE hitl_audit SET doc = '{}'::jsonb")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM hitl_audit")
    assert len(store.audit()) == 1
    store.close()


def test_a_newer_schema_is_refused_untouched(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    request = store.put(payment_request())
    store.close()
    future = len(MIGRATIONS) + 1
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO hitl_schema VALUES (%s, now())", (future,))
    with pytest.raises(SchemaVersionMismatch, match=f"version {future}"):
        PostgresStore(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DELETE FROM hitl_schema WHERE version = %s", (future,))
    reopened = PostgresStore(postgres_url)
    assert reopened.get(request.id) == request
    reopened.close()


def test_an_upgrade_keeps_every_pending_request(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = PostgresStore(postgres_url)
    pending = [old.put(payment_request(call_id=f"c{i}")) for i in range(5)]
    old.close()
    monkeypatch.setattr(
        postgres, "MIGRATIONS", [*MIGRATIONS, "ALTER TABLE hitl_requests ADD COLUMN note TEXT;"]
    )
    upgraded = PostgresStore(postgres_url)
    assert upgraded.schema_version() == len(MIGRATIONS) + 1
    assert sorted(r.id for r in upgraded.list_requests().items) == sorted(r.id for r in pending)
    again = PostgresStore(postgres_url)  # setup is idempotent
    assert again.schema_version() == len(MIGRATIONS) + 1
    upgraded.close()
    again.close()


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        PostgresStore("postgresql://hitl:s3cret@127.0.0.1:1/nowhere?connect_timeout=1", min_size=1)
    assert "s3cret" not in str(caught.value)
    assert "hitl:***@127.0.0.1:1" in str(caught.value)


def test_resumes_are_notified_but_do_not_wake_workers(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    request = store.put(payment_request())
    store.decide(request.id, Decision.approve(by="ana"))
    assert store.wait_for_events(0.1) is False  # the store's listener is now LISTENing
    with psycopg.connect(postgres_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {postgres.CHANNEL}")
        store.mark_resumed(request.id)
        notes = list(listener.notifies(timeout=5, stop_after=1))
    assert [json.loads(n.payload) for n in notes] == [
        {"event": "resumed", "request_id": request.id, "run_id": request.run_id}
    ]
    assert store.wait_for_events(0.3) is False  # a worker waits for decided / expired only
    other = store.put(payment_request())
    store.decide(other.id, Decision.approve(by="ana"))
    assert store.wait_for_events(5) is True
    store.close()
