"""The async PostgreSQL store: the same rules as the sync one, awaited."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from hitl_conformance.stores.builders import claim_of, settled
from hitl_core import (
    AlreadyDecided,
    AuditKind,
    CallStatus,
    Decision,
    EditArgumentsInvalid,
    ManualClock,
    RequestStatus,
    RunChanged,
    RunRecord,
    RunStatus,
    UnknownRequest,
)
from hitl_core.stores.postgres import PostgresStore
from hitl_core.stores.postgres_aio import AsyncPostgresStore
from tests.factories import payment_request


def test_sixteen_concurrent_async_decisions_leave_one(postgres_url: str) -> None:
    async def scenario() -> tuple[int, int, list[str | None]]:
        store = await AsyncPostgresStore.open(postgres_url, max_size=16)
        request = await store.aput(payment_request())
        assert await store.aput(payment_request(run_id=request.run_id)) == request

        async def decide(i: int) -> bool:
            try:
                await store.adecide(request.id, Decision.approve(by=f"reviewer-{i}"))
            except AlreadyDecided:
                return False
            return True

        results = await asyncio.gather(*(decide(i) for i in range(16)))
        actors = [e.actor for e in await store.aaudit() if e.kind is AuditKind.DECIDED]
        await store.aclose()
        return results.count(True), results.count(False), actors

    wins, conflicts, actors = asyncio.run(scenario())
    assert (wins, conflicts, len(actors)) == (1, 15, 1)


def test_the_async_twin_follows_the_same_rules(postgres_url: str) -> None:
    clock = ManualClock()

    async def scenario() -> None:
        store = await AsyncPostgresStore.open(postgres_url, clock=clock)
        with pytest.raises(UnknownRequest):
            await store.aget("req_nope")
        now = clock.now()
        run = RunRecord(
            run_id="run_a",
            adapter="test",
            status=RunStatus.PAUSED,
            state="{}",
            created_at=now,
            updated_at=now,
        )
        first = payment_request(run_id="run_a", call_id="a", now=now, expires_in=timedelta(hours=1))
        second = payment_request(run_id="run_a", call_id="b", now=now)
        assert (await store.asave_run(run, [first, second], expected_version=0)).version == 1
        with pytest.raises(RunChanged):
            await store.asave_run(run, expected_version=0)
        with pytest.raises(EditArgumentsInvalid):
            await store.adecide(second.id, Decision.edit({"amount": "x"}, by="ana"))
        await store.adecide(second.id, Decision.approve(by="ana"))
        claims = await store.aclaim_ready("w1", lease=timedelta(seconds=5))
        assert [c.run_id for c in claims] == ["run_a"]
        assert await store.aclaim_ready("w2", lease=timedelta(seconds=5)) == []
        await store.arelease_lease(claims[0].lease)
        clock.advance(timedelta(hours=2))
        assert [r.id for r in await store.aexpire_due()] == [first.id]
        lease = await store.aacquire_lease("run_a", "w3", ttl=timedelta(seconds=5))
        assert lease.fence == claims[0].lease.fence + 1
        claim = claim_of(lease, "b", clock)
        assert await store.aclaim_call(claim, lease) == claim
        assert await store.aclaim_call(claim.model_copy(update={"args": {}}), lease) == claim
        done = settled(claim, CallStatus.EXECUTED, clock)
        assert await store.asettle_call(done, lease) == done
        assert (await store.acalls("run_a")) == {"b": done}
        saved = await store.asave_run(
            run, resumed=[second.id], expected_version=1, lease=lease, release=True
        )
        assert saved.version == 2
        assert (await store.aget(second.id)).status is RequestStatus.RESUMED
        assert (await store.alease_of("run_a")) == lease.model_copy(update={"until": clock.now()})
        assert (await store.aload_run("run_a")).version == 2
        page = await store.alist_requests(status=None, run_id="run_a", limit=1)
        assert len(page.items) == 1
        assert page.next_cursor is not None
        cancelled = await store.acancel_run("run_a", by="ops")
        assert cancelled == []  # nothing pending is left
        await store.aclose()

    asyncio.run(scenario())
    sync = PostgresStore(postgres_url)  # what the async store wrote, the sync one reads
    kinds = [e.kind for e in sync.audit(run_id="run_a")]
    assert kinds == [
        AuditKind.CREATED,
        AuditKind.CREATED,
        AuditKind.DECIDED,
        AuditKind.EXPIRED,
        AuditKind.STARTED,
        AuditKind.EXECUTED,
        AuditKind.RESUMED,
    ]
    assert sync.load_run("run_a").status is RunStatus.CANCELLED
    revoked = sync.lease_of("run_a")
    assert revoked is not None
    assert (revoked.holder, revoked.fence) == ("ops", 3)
    sync.close()
