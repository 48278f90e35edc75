"""The audit hash chain: every store links what it appends; verify finds what was changed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from hitl_conformance.stores.audit import busy_history
from hitl_core import (
    ApprovalRequest,
    ApprovalStore,
    AuditEvent,
    AuditHead,
    AuditKind,
    Decision,
    InvalidInput,
    ManualClock,
    RunRecord,
    RunStatus,
    open_store,
    verify_chain,
    verify_store,
)
from hitl_core.audit_chain import GENESIS, averify_store, event_hash, link
from hitl_core.errors import RequestExpired
from hitl_core.stores import lifecycle
from hitl_core.stores import postgres_rows as rows
from hitl_core.stores import postgres_sql as pg
from hitl_core.stores.postgres import PostgresStore
from hitl_core.stores.postgres_aio import AsyncPostgresStore
from hitl_core.stores.sqlite import MIGRATIONS, SqliteStore
from tests.factories import payment_request

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _chain(run_id: str, n: int, first_seq: int = 1) -> list[AuditEvent]:
    """`n` linked events of one run, with consecutive seqs."""
    events, head = [], None
    for i in range(n):
        event = AuditEvent(kind=AuditKind.CREATED, at=NOW, run_id=run_id, tool="t", call_id=f"c{i}")
        linked = link(event, head)
        head = AuditHead.of(linked)
        events.append(linked.model_copy(update={"seq": first_seq + i}))
    return events


def _heads(*chains: list[AuditEvent]) -> dict[str, AuditHead]:
    return {c[-1].run_id: AuditHead.of(c[-1]) for c in chains}


def _kinds(events: list[AuditEvent], heads: dict[str, AuditHead]) -> list[tuple[str, int | None]]:
    return [(p.kind, p.seq) for p in verify_chain(events, heads).problems]


def test_link_places_each_event_after_the_head() -> None:
    first, second = _chain("run_1", 2)
    assert (first.chain_index, first.prev_hash) == (1, GENESIS)
    assert (second.chain_index, second.prev_hash) == (2, first.hash)
    assert second.hash == event_hash(second, second.prev_hash or "")
    with pytest.raises(InvalidInput, match="run_2"):
        link(second, AuditHead(run_id="run_2", chain_index=1, hash=GENESIS))


def test_the_hash_covers_everything_but_seq() -> None:
    (event,) = _chain("run_1", 1)
    assert event_hash(event.model_copy(update={"seq": 99}), GENESIS) == event.hash
    for change in ({"actor": "mallory"}, {"chain_index": 2}, {"detail": {"x": 1}}):
        assert event_hash(event.model_copy(update=change), GENESIS) != event.hash
    assert event_hash(event, "sha256:other") != event.hash


def test_numbers_hash_by_value_as_postgres_gives_them_back() -> None:
    (event,) = _chain("run_1", 1)
    as_float = event.model_copy(update={"args": {"amount": 1e20, "fee": 4200.0, "rate": 0.1}})
    as_read = event.model_copy(update={"args": {"amount": 10**20, "fee": 4200, "rate": 0.1}})
    assert event_hash(as_float, GENESIS) == event_hash(as_read, GENESIS)
    assert event_hash(as_float, GENESIS) != event_hash(
        event.model_copy(update={"args": {"amount": 1e20, "fee": 4200.5, "rate": 0.1}}), GENESIS
    )


def test_an_intact_chain_verifies() -> None:
    a, b = _chain("run_a", 3), _chain("run_b", 2, first_seq=4)
    report = verify_chain([*a, *b], _heads(a, b))
    assert (report.ok, report.events, report.runs, report.unchained) == (True, 5, 2, 0)


def test_each_kind_of_break_is_named() -> None:
    run = _chain("run_1", 5)
    heads = _heads(run)
    edited = run[1].model_copy(update={"actor": "mallory"})
    assert _kinds([run[0], edited, *run[2:]], heads) == [("edited", 2)]
    assert _kinds([*run[:2], *run[3:]], heads) == [("missing", 4)]
    assert _kinds(run[:4], heads) == [("truncated", 4)]
    assert _kinds([], heads) == [("truncated", None)]
    swapped = [
        run[0],
        run[2].model_copy(update={"seq": 2}),
        run[1].model_copy(update={"seq": 3}),
        *run[3:],
    ]
    assert _kinds(swapped, heads) == [("reordered", 3)]
    copied = run[2].model_copy(update={"seq": 6})
    assert _kinds([*run, copied], heads) == [("forked", 6)]
    stray = AuditEvent(kind=AuditKind.EXECUTED, at=NOW, run_id="run_1", tool="t", seq=6)
    assert _kinds([*run, stray], heads) == [("unchained", 6)]
    assert _kinds(run, {}) == [("truncated", 5)]  # a chain without a head
    assert _kinds(run, {"run_1": AuditHead.of(run[2])}) == [("forked", 5)]


def test_events_older_than_the_chain_are_counted_not_failed() -> None:
    old = AuditEvent(kind=AuditKind.CREATED, at=NOW, run_id="run_1", tool="t", seq=1)
    chained = _chain("run_1", 2, first_seq=2)
    report = verify_chain([old, *chained], _heads(chained))
    assert (report.ok, report.events, report.unchained) == (True, 3, 1)


# -- every store links what it appends ---------------------------------------------


def _run(run_id: str, clock: ManualClock, status: RunStatus = RunStatus.PAUSED) -> RunRecord:
    now = clock.now()
    return RunRecord(
        run_id=run_id, adapter="test", status=status, state="{}", created_at=now, updated_at=now
    )


def test_a_busy_history_verifies(store: ApprovalStore, clock: ManualClock) -> None:
    busy_history(store, clock)
    events = store.audit()
    report = verify_store(store)
    assert report.ok, report.problems
    assert (report.events, report.runs, report.unchained) == (len(events), 5, 0)
    assert verify_store(store, page=2) == report
    heads = store.audit_heads()
    for run_id in ("run_a", "run_b", "run_c", "run_d", "run_e"):
        chain = store.audit(run_id=run_id)
        assert [e.chain_index for e in chain] == list(range(1, len(chain) + 1))
        assert [e.prev_hash for e in chain] == [GENESIS, *(e.hash for e in chain[:-1])]
        assert heads[run_id] == AuditHead.of(chain[-1])
        assert store.audit_heads(run_id) == {run_id: heads[run_id]}
        assert verify_store(store, run_id=run_id).events == len(chain)
    assert store.audit_heads("run_nope") == {}


def test_audit_pages_after_a_seq(store: ApprovalStore, clock: ManualClock) -> None:
    assert store.last_audit_seq() == 0
    assert store.audit(after=0, limit=10) == []
    busy_history(store, clock)
    events = store.audit()
    seqs = [e.seq or 0 for e in events]
    assert seqs == sorted(set(seqs))
    assert store.last_audit_seq() == seqs[-1]
    assert store.audit(after=seqs[2], limit=3) == events[3:6]
    assert store.audit(after=seqs[-1]) == []
    assert store.audit(limit=2) == events[:2]
    run_a = store.audit(run_id="run_a")
    assert store.audit(run_id="run_a", after=run_a[1].seq, limit=2) == run_a[2:4]
    request_id = run_a[0].request_id
    assert store.audit(request_id=request_id, after=run_a[0].seq) == [
        e for e in run_a[1:] if e.request_id == request_id
    ]
    with pytest.raises(InvalidInput, match="limit"):
        store.audit(limit=0)


# -- tampering, as someone with write access to the database ------------------------


@dataclass
class Durable:
    """A durable store, and SQL run on its database by someone who dropped the triggers."""

    store: ApprovalStore
    kind: str
    sqlite: sqlite3.Connection | None = None
    postgres: psycopg.Connection[tuple[object, ...]] | None = None

    def execute(self, query: str, params: tuple[object, ...]) -> None:
        if self.sqlite is not None:
            self.sqlite.execute(query.replace("%s", "?"), params)
        elif self.postgres is not None:
            self.postgres.execute(query.encode(), params)

    def set_json(self, path: str, value: str) -> str:
        """The SQL for `doc` with the field at dotted `path` set to JSON `value`."""
        if self.kind == "sqlite":
            return f"json_set(doc, '$.{path}', json('{value}'))"
        return f"jsonb_set(doc, '{{{path.replace('.', ',')}}}', '{value}')"


@pytest.fixture(params=["sqlite", "postgres"])
def durable(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> Iterator[Durable]:
    if request.param == "sqlite":
        path = tmp_path / "tamper.db"
        found = Durable(open_store(f"sqlite:///{path}", clock=clock), "sqlite")
        found.sqlite = sqlite3.connect(path, isolation_level=None)
        found.execute("DROP TRIGGER hitl_audit_no_update", ())
        found.execute("DROP TRIGGER hitl_audit_no_delete", ())
    else:
        url: str = request.getfixturevalue("postgres_url")
        found = Durable(open_store(url, clock=clock), "postgres")
        found.postgres = psycopg.connect(url, autocommit=True)
        found.execute("DROP TRIGGER hitl_audit_no_change ON hitl_audit", ())
    yield found
    for conn in (found.sqlite, found.postgres):
        if conn is not None:
            conn.close()
    found.store.close()


@pytest.mark.parametrize(
    ("path", "value"), [("actor", '"mallory"'), ("edited_args.amount", "40000")]
)
def test_an_edited_row_is_one_edited_problem(
    durable: Durable, clock: ManualClock, path: str, value: str
) -> None:
    busy_history(durable.store, clock)
    target = [e for e in durable.store.audit(run_id="run_a") if e.kind is AuditKind.DECIDED][-1]
    assert (target.actor, target.edited_args) == ("bob", {"amount": 4000, "recipient": "Acme Corp"})
    durable.execute(
        f"UPDATE hitl_audit SET doc = {durable.set_json(path, value)} WHERE seq = %s",
        (target.seq,),
    )
    report = verify_store(durable.store)
    assert [(p.kind, p.seq, p.run_id) for p in report.problems] == [("edited", target.seq, "run_a")]
    assert "changed" in report.problems[0].message
    assert verify_store(durable.store, run_id="run_b").ok


def test_a_deleted_middle_row_is_missing(durable: Durable, clock: ManualClock) -> None:
    busy_history(durable.store, clock)
    chain = durable.store.audit(run_id="run_a")
    durable.execute("DELETE FROM hitl_audit WHERE seq = %s", (chain[3].seq,))
    report = verify_store(durable.store)
    assert [(p.kind, p.run_id, p.chain_index, p.seq) for p in report.problems] == [
        ("missing", "run_a", 4, chain[4].seq)
    ]
    assert "deleted" in report.problems[0].message
    assert all(verify_store(durable.store, run_id=r).ok for r in ("run_b", "run_c", "run_d"))


def test_a_deleted_last_row_is_truncated(durable: Durable, clock: ManualClock) -> None:
    busy_history(durable.store, clock)
    last = durable.store.audit(run_id="run_b")[-1]
    durable.execute("DELETE FROM hitl_audit WHERE seq = %s", (last.seq,))
    report = verify_store(durable.store)
    assert [(p.kind, p.run_id) for p in report.problems] == [("truncated", "run_b")]
    assert "deleted" in report.problems[0].message
    assert verify_store(durable.store, run_id="run_a").ok


def test_heads_only_move_forward(durable: Durable, clock: ManualClock) -> None:
    busy_history(durable.store, clock)
    for statement in (
        "UPDATE hitl_audit_heads SET chain_index = 1 WHERE run_id = %s",
        "DELETE FROM hitl_audit_heads WHERE run_id = %s",
    ):
        with pytest.raises((sqlite3.IntegrityError, psycopg.errors.RaiseException)):
            durable.execute(statement, ("run_a",))
    assert verify_store(durable.store).ok


# -- upgrading a version 2 store --------------------------------------------------


def _v2_rows(run_id: str) -> tuple[ApprovalRequest, AuditEvent]:
    """A new request as version 2 stored it, and its `created` event (no chain fields)."""
    fresh, event = lifecycle.create(None, payment_request(run_id=run_id))
    assert event is not None
    return fresh, event


_PRE_CHAIN = {"seq", "chain_index", "prev_hash", "hash"}


def _check_upgraded(store: ApprovalStore, request_id: str) -> None:
    store.decide(request_id, Decision.approve(by="ana"))
    store.mark_resumed(request_id)
    report = verify_store(store)
    assert report.ok, report.problems
    assert (report.events, report.unchained) == (3, 1)
    assert [e.chain_index for e in store.audit()] == [None, 1, 2]


def test_a_version_2_sqlite_file_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE hitl_schema (version INTEGER PRIMARY KEY, applied_at TEXT)")
    for version, script in enumerate(MIGRATIONS[:2], start=1):
        conn.executescript(script)
        conn.execute("INSERT INTO hitl_schema VALUES (?, 'then')", (version,))
    fresh, event = _v2_rows("run_old")
    conn.execute(
        "INSERT INTO hitl_requests (id, run_id, tool, status, created_at, doc) "
        "VALUES (?, ?, ?, 'pending', '2025-01-01T00:00:00.000000Z', ?)",
        (fresh.id, "run_old", "send_payment", fresh.model_dump_json()),
    )
    conn.execute(
        "INSERT INTO hitl_audit (run_id, request_id, doc) VALUES (?, ?, ?)",
        ("run_old", fresh.id, event.model_dump_json(exclude=_PRE_CHAIN)),
    )
    conn.commit()
    conn.close()
    store = SqliteStore(f"sqlite:///{path}")
    assert store.schema_version() == len(MIGRATIONS) == 4
    _check_upgraded(store, fresh.id)


def test_a_version_2_postgres_schema_upgrades_in_place(postgres_url: str) -> None:
    fresh, event = _v2_rows("run_old")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(pg.CREATE_SCHEMA_TABLE)
        for version, script in enumerate(pg.MIGRATIONS[:2], start=1):
            conn.execute(script.encode())
            conn.execute(pg.RECORD_VERSION, (version, NOW))
        conn.execute(pg.UPSERT_REQUEST, rows.request_row(fresh, Jsonb))
        doc = Jsonb(event.model_dump(mode="json", exclude=_PRE_CHAIN))
        conn.execute(pg.INSERT_AUDIT, (event.run_id, event.request_id, doc))
    store = PostgresStore(postgres_url)
    assert store.schema_version() == len(pg.MIGRATIONS) == 4
    _check_upgraded(store, fresh.id)
    store.close()


# -- concurrent writers on PostgreSQL ---------------------------------------------


def _at_once(calls: Sequence[Callable[[], object]]) -> list[BaseException]:
    """Run every call in its own thread, released together; the exceptions they raised."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as error:  # collected and asserted on by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_sixteen_decisions_in_one_run_at_once_keep_one_chain(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, max_size=16)
    requests = [payment_request(run_id="run_busy", call_id=f"c{i}") for i in range(16)]
    store.save_run(_run("run_busy", ManualClock()), requests)
    calls = [
        partial(store.decide, r.id, Decision.approve(by=f"r{i}")) for i, r in enumerate(requests)
    ]
    assert _at_once(calls) == []
    report = verify_store(store)
    assert report.ok, report.problems
    decided = [e for e in store.audit(run_id="run_busy") if e.kind is AuditKind.DECIDED]
    assert len(decided) == 16
    assert sorted(e.chain_index or 0 for e in decided) == list(range(17, 33))
    assert store.audit_heads("run_busy")["run_busy"].chain_index == 32
    store.close()


def test_expirers_and_deciders_side_by_side_neither_deadlock_nor_fork(postgres_url: str) -> None:
    clock = ManualClock()
    store = PostgresStore(postgres_url, clock=clock, max_size=12)
    now = clock.now()
    due, live = [], []
    for run in range(4):
        run_id = f"run_{run}"
        mine = [
            payment_request(
                run_id=run_id, call_id=f"c{i}", now=now, expires_in=timedelta(minutes=1 + i % 2)
            )
            for i in range(12)
        ]
        store.save_run(_run(run_id, clock), mine)
        due += [r for i, r in enumerate(mine) if i % 2 == 0]
        live += [r for i, r in enumerate(mine) if i % 2 == 1]
    clock.advance(timedelta(seconds=90))  # the even ones are due, the odd ones are not
    expired: list[str] = []

    def expire() -> None:
        while batch := store.expire_due(limit=3):
            expired.extend(r.id for r in batch)

    deciders = [partial(store.decide, r.id, Decision.approve(by="ana")) for r in live[:8]]
    assert _at_once([expire, expire, *deciders]) == []
    while batch := store.expire_due():  # whatever a busy run made them leave
        expired.extend(r.id for r in batch)
    assert sorted(expired) == sorted(r.id for r in due)
    with pytest.raises(RequestExpired):
        store.decide(due[0].id, Decision.approve(by="ana"))
    report = verify_store(store)
    assert report.ok, report.problems
    assert report.events == 48 + 24 + 8
    store.close()


def test_the_async_store_chains_and_pages_like_the_sync_one(postgres_url: str) -> None:
    async def scenario() -> None:
        store = await AsyncPostgresStore.open(postgres_url, max_size=8)
        requests = [payment_request(run_id="run_async", call_id=f"c{i}") for i in range(8)]
        for request in requests:
            await store.aput(request)
        await asyncio.gather(
            *(store.adecide(r.id, Decision.approve(by=f"r{i}")) for i, r in enumerate(requests))
        )
        report = await averify_store(store, page=3)
        assert (report.ok, report.events) == (True, 16), report.problems
        events = await store.aaudit()
        assert await store.alast_audit_seq() == events[-1].seq
        assert await store.aaudit(after=events[3].seq, limit=2) == events[4:6]
        heads = await store.aaudit_heads()
        assert heads == {"run_async": AuditHead.of(events[-1])}
        await store.aclose()

    asyncio.run(scenario())
    sync = PostgresStore(postgres_url)
    assert verify_store(sync).ok
    sync.close()
