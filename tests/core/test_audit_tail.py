"""Tailing the audit trail: a reader that moves its cursor past what `audit(after=...)`
returned never skips an event, on PostgreSQL too, where seqs are drawn before commit.

The PostgreSQL scenarios hold a transaction open on a connection of its own, writing
through the store's own statements (`PostgresStore._apply`), and commit it later.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from hitl_core import ApprovalRequest, ApprovalStore, AuditEvent, RunRecord, RunStatus
from hitl_core.clock import utcnow
from hitl_core.errors import StoreError
from hitl_core.stores import lifecycle
from hitl_core.stores import postgres_sql as pg
from hitl_core.stores.postgres import PostgresStore
from hitl_core.stores.postgres_aio import AsyncPostgresStore
from tests.factories import payment_request


class OpenTransaction:
    """A store write on a connection of its own, left open until `commit` or `rollback`."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url)
        self.cur = self.conn.cursor()

    def take_id(self, run_id: str) -> None:
        """Lock `run_id` and get a transaction id now, before drawing any seq."""
        self.cur.execute(pg.LOCK_RUN, (run_id,))
        self.cur.execute("SELECT pg_current_xact_id()")

    def put(self, request: ApprovalRequest) -> None:
        """What `PostgresStore.put` runs for a new request: its row and `created` event."""
        self.cur.execute(pg.LOCK_RUN, (request.run_id,))
        PostgresStore._apply(self.cur, lifecycle.create(None, request), {})

    def commit(self) -> None:
        self.conn.commit()
        self.conn.close()

    def rollback(self) -> None:
        self.conn.rollback()
        self.conn.close()


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[PostgresStore]:
    store = PostgresStore(postgres_url, max_size=4)
    yield store
    store.close()


@pytest.fixture
def open_tx(postgres_url: str) -> Iterator[Callable[[], OpenTransaction]]:
    """Open transactions on demand; any left open are rolled back at the end."""
    opened: list[OpenTransaction] = []

    def make() -> OpenTransaction:
        opened.append(OpenTransaction(postgres_url))
        return opened[-1]

    yield make
    for tx in opened:
        if not tx.conn.closed:
            tx.rollback()


class InThread:
    """A call running in a thread of its own: is it still waiting, and what did it return?"""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self.thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self.result = call()
        except BaseException as error:  # raised again by `join`
            self.error = error

    def waiting_after(self, seconds: float) -> bool:
        self.thread.join(seconds)
        return self.thread.is_alive()

    def join(self) -> Any:
        """What the call returned (or raise what it raised)."""
        self.thread.join(10)
        assert not self.thread.is_alive(), "the call did not return after the commit"
        if self.error is not None:
            raise self.error
        return self.result


def created(request: ApprovalRequest, events: list[AuditEvent]) -> AuditEvent:
    return next(e for e in events if e.request_id == request.id)


def test_an_event_in_flight_holds_back_a_later_committed_one(
    pg_store: PostgresStore, open_tx: Callable[[], OpenTransaction]
) -> None:
    """A committed event after an open transaction's event waits with it, then both come."""
    pg_store.put(payment_request(run_id="run_before"))
    cursor = pg_store.last_audit_seq()
    a, b = payment_request(run_id="run_a"), payment_request(run_id="run_b")
    held = open_tx()
    held.put(a)
    pg_store.put(b)
    assert pg_store.audit()[-1].request_id == b.id  # b is committed, a is not

    tail = InThread(lambda: pg_store.audit(after=cursor))
    now = InThread(pg_store.last_audit_seq)
    assert tail.waiting_after(0.5)
    assert now.waiting_after(0.0)
    held.commit()

    events = tail.join()
    assert [e.request_id for e in events] == [a.id, b.id]
    assert [e.seq for e in events] == sorted(e.seq or 0 for e in events)
    assert now.join() == events[-1].seq == pg_store.last_audit_seq()


def test_a_younger_transaction_with_the_lower_seq_holds_back_an_older_one(
    pg_store: PostgresStore, open_tx: Callable[[], OpenTransaction]
) -> None:
    """An older transaction's event committed above a younger one's open event waits for it.

    A filter on transaction ids (``txid < pg_snapshot_xmin``) lets the older one through
    alone, and a reader moving past it never sees the younger one's event.
    """
    cursor = pg_store.last_audit_seq()
    older, younger = open_tx(), open_tx()
    t, i = payment_request(run_id="run_t"), payment_request(run_id="run_i")
    older.take_id("run_t")
    younger.put(i)  # draws the lower seq
    older.put(t)  # draws the higher seq
    older.commit()

    tail = InThread(lambda: pg_store.audit(after=cursor))
    tail.waiting_after(0.5)  # whatever it returns before the commit is checked below
    younger.commit()
    assert [e.request_id for e in tail.join()] == [i.id, t.id]
    assert pg_store.last_audit_seq() == created(t, pg_store.audit()).seq


def test_a_writer_open_too_long_is_reported_not_skipped(
    pg_store: PostgresStore, open_tx: Callable[[], OpenTransaction]
) -> None:
    """Past `tail_wait`, the read fails naming the seq and the writer; nothing moves on."""
    cursor = pg_store.last_audit_seq()
    held = open_tx()
    held.put(payment_request(run_id="run_slow"))
    later = pg_store.put(payment_request(run_id="run_later"))
    pg_store.tail_wait = 0.3
    with pytest.raises(StoreError, match="Nothing was skipped") as caught:
        pg_store.audit(after=cursor)
    assert f"past seq {created(later, pg_store.audit()).seq}" in str(caught.value)
    assert str(held.conn.info.backend_pid) in str(caught.value)
    with pytest.raises(StoreError, match="pid"):
        pg_store.last_audit_seq()
    held.rollback()
    assert [e.request_id for e in pg_store.audit(after=cursor)] == [later.id]


def test_a_rolled_back_event_leaves_a_gap_the_tail_does_not_wait_on(
    pg_store: PostgresStore, open_tx: Callable[[], OpenTransaction]
) -> None:
    """A seq drawn by a transaction that rolled back is passed over at once."""
    cursor = pg_store.last_audit_seq()
    doomed = open_tx()
    doomed.put(payment_request(run_id="run_doomed"))
    doomed.rollback()
    kept = pg_store.put(payment_request(run_id="run_kept"))
    started = time.monotonic()
    events = pg_store.audit(after=cursor)
    assert time.monotonic() - started < 0.5
    assert [e.request_id for e in events] == [kept.id]
    assert (events[0].seq or 0) > cursor + 1  # the rolled-back seq is a gap


def test_readers_and_other_lock_modes_do_not_hold_the_tail(
    pg_store: PostgresStore, postgres_url: str
) -> None:
    """Only writers (``RowExclusiveLock``) are waited for, not readers or maintenance."""
    cursor = pg_store.last_audit_seq()
    kept = pg_store.put(payment_request(run_id="run_kept"))
    with psycopg.connect(postgres_url) as other:
        other.execute("SELECT count(*) FROM hitl_audit")  # AccessShareLock, held open
        other.execute("LOCK TABLE hitl_audit IN SHARE UPDATE EXCLUSIVE MODE")  # as VACUUM
        pg_store.tail_wait = 0.3
        assert [e.request_id for e in pg_store.audit(after=cursor)] == [kept.id]
        assert pg_store.last_audit_seq() == created(kept, pg_store.audit()).seq


def test_plain_audit_reads_committed_events_without_waiting(
    pg_store: PostgresStore, open_tx: Callable[[], OpenTransaction]
) -> None:
    """Without `after`, the open transaction's event is not waited for (read your writes)."""
    held = open_tx()
    held.put(payment_request(run_id="run_held"))
    mine = pg_store.put(payment_request(run_id="run_mine"))
    pg_store.tail_wait = 0.1
    assert [e.request_id for e in pg_store.audit()] == [mine.id]
    held.commit()


def test_the_async_store_waits_for_the_event_in_flight(
    postgres_url: str, open_tx: Callable[[], OpenTransaction]
) -> None:
    """`aaudit(after=...)` and `alast_audit_seq` wait like their sync twins."""

    async def scenario() -> None:
        store = await AsyncPostgresStore.open(postgres_url, max_size=4)
        cursor = await store.alast_audit_seq()
        a, b = payment_request(run_id="run_a"), payment_request(run_id="run_b")
        held = open_tx()
        held.put(a)
        await store.aput(b)
        tail = asyncio.create_task(store.aaudit(after=cursor))
        now = asyncio.create_task(store.alast_audit_seq())
        await asyncio.sleep(0.5)
        assert not tail.done()
        assert not now.done()
        held.commit()
        events = await asyncio.wait_for(tail, 10)
        assert [e.request_id for e in events] == [a.id, b.id]
        assert await asyncio.wait_for(now, 10) == events[-1].seq
        store.tail_wait = 0.2
        later = open_tx()
        later.put(payment_request(run_id="run_later"))
        await store.aput(payment_request(run_id="run_after"))
        with pytest.raises(StoreError, match="Nothing was skipped"):
            await store.aaudit(after=events[-1].seq or 0)
        later.rollback()
        await store.aclose()

    asyncio.run(scenario())


# -- every store: a tail read while two threads write sees each event once, in order -----


def _run(run_id: str) -> RunRecord:
    now = utcnow()
    return RunRecord(
        run_id=run_id,
        adapter="test",
        status=RunStatus.PAUSED,
        state="{}",
        created_at=now,
        updated_at=now,
    )


def _write(store: ApprovalStore, writer: int, runs: int, per_run: int) -> None:
    """`runs` saves of `per_run` new requests each: several appends per transaction."""
    for n in range(runs):
        run_id = f"run_w{writer}_{n}"
        requests = [payment_request(run_id=run_id, call_id=f"c{i}") for i in range(per_run)]
        store.save_run(_run(run_id), requests)


def test_a_tail_read_during_concurrent_writes_sees_every_event_once_in_order(
    store: ApprovalStore,
) -> None:
    """Two writers append 500 events while a reader tails: each event once, in seq order."""
    writers = [threading.Thread(target=_write, args=(store, w, 50, 5), daemon=True) for w in (1, 2)]
    seen: list[int] = []
    cursor = store.last_audit_seq()
    for thread in writers:
        thread.start()
    while any(t.is_alive() for t in writers) or len(seen) < 500:
        batch = store.audit(after=cursor, limit=37)
        seen += [e.seq or 0 for e in batch]
        if batch:
            cursor = batch[-1].seq or cursor
        assert len(seen) <= 500, "an event came twice"
        if not any(t.is_alive() for t in writers) and not batch:
            break
    for thread in writers:
        thread.join()
    assert seen == sorted(set(seen)), "out of order or repeated"
    assert seen == [e.seq for e in store.audit()], "an event was skipped"
    assert len(seen) == 500
