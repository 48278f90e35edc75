"""What only the PostgreSQL store must show: many writers, bulk expiry, migrations and
upgrades, driver errors."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb

from hitl_conformance.stores.builders import claim_of
from hitl_core import (
    AuditKind,
    CallStatus,
    Decision,
    Lease,
    ManualClock,
    RequestStatus,
    RunRecord,
    RunStatus,
    open_store,
)
from hitl_core.errors import RunBusy, SchemaVersionMismatch, StoreError, StoreUnavailable
from hitl_core.stores import postgres
from hitl_core.stores import postgres_sql as pg
from hitl_core.stores.calls import idempotency_key
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


def test_an_unreachable_server_is_unavailable_without_the_password() -> None:
    with pytest.raises(StoreUnavailable) as caught:
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


# -- upgrading a version 3 schema -------------------------------------------------

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
UPGRADED_AT = datetime(2025, 3, 1, 12, 1, tzinfo=UTC)


def _v3_schema(url: str) -> None:
    """A schema as hitl-kit's version 3 left it: an execution, a leased run, another run."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(pg.CREATE_SCHEMA_TABLE)
        for version, script in enumerate(pg.MIGRATIONS[:3], start=1):
            conn.execute(script.encode())
            conn.execute(pg.RECORD_VERSION, (version, UPGRADED_AT))
        conn.execute(
            "INSERT INTO hitl_executions (run_id, call_id, doc) VALUES (%s, %s, %s)",
            ("run_old", "c1", Jsonb(V3_EXECUTION)),
        )
        for run_id, created, owner, until in (
            ("run_old", "2025-03-01T12:00:00.123456Z", "worker-1", UPGRADED_AT.replace(minute=5)),
            ("run_east", "2025-03-01T13:00:00.5+02:00", None, None),
        ):
            doc = {
                "schema_version": 1,
                "run_id": run_id,
                "adapter": "test",
                "status": "paused",
                "state": "{}",
                "version": 3,
                "created_at": created,
                "updated_at": "2025-03-01T12:00:02Z",
            }
            conn.execute(
                "INSERT INTO hitl_runs (run_id, adapter, status, version, doc, lease_owner, "
                "lease_until) VALUES (%s, 'test', 'paused', 3, %s, %s, %s)",
                (run_id, Jsonb(doc), owner, until),
            )


def test_a_version_3_schema_upgrades_its_executions_and_leases(postgres_url: str) -> None:
    _v3_schema(postgres_url)
    clock = ManualClock(UPGRADED_AT)
    store = PostgresStore(postgres_url, clock=clock)
    assert store.schema_version() == len(MIGRATIONS) == 4
    (executed,) = store.calls("run_old").values()
    assert (executed.call_id, executed.status, executed.attempt) == ("c1", CallStatus.EXECUTED, 1)
    assert (executed.output, executed.adapter) == ("paid", "hitl_loop")
    assert executed.idempotency_key == idempotency_key("run_old", "c1")
    assert store.lease_of("run_old") == Lease(
        run_id="run_old", holder="worker-1", fence=1, until=UPGRADED_AT.replace(minute=5)
    )
    assert store.lease_of("run_east") is None
    with pytest.raises(RunBusy, match="worker-1"):
        store.acquire_lease("run_old", "w2", ttl=timedelta(minutes=1))
    clock.advance(timedelta(minutes=4))
    lease = store.acquire_lease("run_old", "w2", ttl=timedelta(minutes=1))
    assert lease.fence == 2
    assert store.claim_call(claim_of(lease, "c1", clock), lease) == executed  # never again
    assert [r.run_id for r in store.list_runs().items] == ["run_east", "run_old"]
    store.close()


# -- driver errors and polls ------------------------------------------------------


def test_polls_that_find_nothing_take_no_lock(postgres_url: str) -> None:
    """`expire_due` with nothing due returns at once, even while its run's lock is held."""
    store = PostgresStore(postgres_url)
    store.put(payment_request(run_id="run_held"))
    with psycopg.connect(postgres_url) as other:
        other.execute(pg.LOCK_RUN, ("run_held",))
        done: list[object] = []
        poll = threading.Thread(target=lambda: done.append(store.expire_due(run_id="run_held")))
        poll.start()
        poll.join(timeout=5)
        stuck = poll.is_alive()
        other.rollback()
    poll.join()
    assert not stuck
    assert done == [[]]
    store.close()


def test_a_dropped_connection_is_unavailable_and_the_pool_recovers(postgres_url: str) -> None:
    """A connection the server dropped raises `StoreUnavailable`; the next call reconnects."""
    victim = f"{postgres_url}&application_name=hitl_victim"
    store = PostgresStore(victim, min_size=1, max_size=1)
    request = store.put(payment_request())
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        find = "SELECT pid FROM pg_stat_activity WHERE application_name = 'hitl_victim'"
        pids = [row[0] for row in admin.execute(find).fetchall()]
        assert pids
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 5
        while admin.execute(find).fetchall() and time.monotonic() < deadline:
            time.sleep(0.01)
    with pytest.raises(StoreUnavailable, match="unavailable") as caught:
        store.get(request.id)
    assert isinstance(caught.value, StoreError)
    assert store.get(request.id) == request
    store.close()
