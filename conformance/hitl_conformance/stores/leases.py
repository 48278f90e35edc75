"""Run leases with fencing tokens, the writes they guard, and workers leasing ready runs."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import ClassVar

import pytest

from hitl_conformance.stores.builders import at_once, claim_of, payment_request, run_record, trail
from hitl_core import (
    ApprovalStore,
    Decision,
    Lease,
    LeaseLost,
    ManualClock,
    RunBusy,
    RunStatus,
)
from hitl_core.stores.leases import RunLeases

__all__ = ["LeaseTests"]

TTL = timedelta(seconds=30)


class LeaseTests:
    """`acquire_lease`, `renew_lease`, `release_lease`, `lease_of`, the fenced writes, and
    the `RunLeases` capability (`claim_ready`)."""

    has_run_leases: ClassVar[bool] = True
    """Whether the store offers `RunLeases.claim_ready` (workers); False skips those tests."""

    @pytest.fixture
    def run_leases(self, store: ApprovalStore) -> RunLeases:
        """The store as `RunLeases`; the test is skipped when `has_run_leases` is False."""
        if not self.has_run_leases:
            pytest.skip("the store does not declare has_run_leases")
        assert isinstance(store, RunLeases), (
            "has_run_leases is True but the store has no claim_ready; implement it or set "
            "has_run_leases = False"
        )
        return store

    # -- grants -------------------------------------------------------------------------

    def test_a_lease_goes_to_one_holder_at_a_time(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A live lease is refused to another holder (`RunBusy`), and granted once it ran out.

        If this fails, check that `acquire_lease` reads and writes the lease row in one
        transaction.
        """
        assert store.lease_of("run_l") is None
        lease = store.acquire_lease("run_l", "w1", ttl=TTL)
        assert (lease.run_id, lease.holder, lease.fence) == ("run_l", "w1", 1)
        assert lease.until == clock.now() + TTL
        assert store.lease_of("run_l") == lease
        with pytest.raises(RunBusy, match="w1") as caught:
            store.acquire_lease("run_l", "w2", ttl=TTL)
        assert caught.value.holder == "w1"
        assert store.lease_of("run_l") == lease
        clock.advance(TTL)
        taken = store.acquire_lease("run_l", "w2", ttl=TTL)
        assert (taken.holder, taken.fence) == ("w2", 2)

    def test_the_same_holder_taking_its_lease_again_gets_the_next_fence(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """Re-granting a live lease to its own holder bumps the fence and fences off the old
        grant (a restarted worker with a fixed id)."""
        first = store.acquire_lease("run_l", "w1", ttl=TTL)
        again = store.acquire_lease("run_l", "w1", ttl=TTL)
        assert (again.holder, again.fence) == ("w1", first.fence + 1)
        with pytest.raises(LeaseLost):
            store.claim_call(claim_of(first, "call_1", clock), first)
        assert store.calls("run_l") == {}

    def test_renew_extends_the_grant_until_it_is_taken_over(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A renewal keeps the fence and moves `until`; after a takeover it raises `LeaseLost`."""
        lease = store.acquire_lease("run_l", "w1", ttl=TTL)
        clock.advance(timedelta(seconds=20))
        renewed = store.renew_lease(lease, ttl=TTL)
        assert (renewed.fence, renewed.until) == (lease.fence, clock.now() + TTL)
        assert store.lease_of("run_l") == renewed
        clock.advance(TTL)
        taken = store.acquire_lease("run_l", "w2", ttl=TTL)
        with pytest.raises(LeaseLost, match="w1"):
            store.renew_lease(renewed, ttl=TTL)
        assert store.lease_of("run_l") == taken

    def test_an_expired_lease_nobody_took_is_still_its_holders(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A lease past `until` that nobody took over still lets its holder renew and write."""
        lease = store.acquire_lease("run_l", "w1", ttl=TTL)
        clock.advance(TTL * 2)
        assert store.renew_lease(lease, ttl=TTL).fence == lease.fence
        claim = claim_of(lease, "call_1", clock)
        assert store.claim_call(claim, lease) == claim

    def test_release_keeps_holder_and_fence_so_fences_only_grow(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A released lease ends now but keeps its fence, so the next grant's fence is higher;
        releasing a grant that is no longer current changes nothing.

        If this fails, check that releasing updates `until` and never deletes the lease row.
        """
        lease = store.acquire_lease("run_l", "w1", ttl=TTL)
        clock.advance(timedelta(seconds=1))
        store.release_lease(lease)
        released = store.lease_of("run_l")
        assert released is not None
        assert (released.holder, released.fence, released.until) == ("w1", 1, clock.now())
        taken = store.acquire_lease("run_l", "w2", ttl=TTL)
        assert taken.fence == 2
        store.release_lease(lease)  # no longer the current grant
        assert store.lease_of("run_l") == taken

    def test_cancel_run_revokes_the_lease(self, store: ApprovalStore, clock: ManualClock) -> None:
        """Cancelling a run ends its lease with a new fence: the old holder can write nothing.

        If this fails, check that `cancel_run` writes `lease_rules.revoke` in its transaction.
        """
        store.save_run(run_record("run_l", clock, status=RunStatus.RUNNING))
        lease = store.acquire_lease("run_l", "w1", ttl=TTL)
        store.cancel_run("run_l", by="ops")
        revoked = store.lease_of("run_l")
        assert revoked is not None
        assert (revoked.holder, revoked.fence) == ("ops", lease.fence + 1)
        assert not revoked.is_live(clock.now())
        before = trail(store, "run_l")
        with pytest.raises(LeaseLost):
            store.claim_call(claim_of(lease, "call_1", clock), lease)
        with pytest.raises(LeaseLost):
            store.save_run(run_record("run_l", clock, status=RunStatus.COMPLETED), lease=lease)
        assert trail(store, "run_l") == before

    # -- fenced writes ------------------------------------------------------------------

    def test_a_save_under_a_stale_lease_is_refused_and_changes_nothing(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """`save_run` under a lease someone took over raises `LeaseLost` and writes nothing.

        If this fails, check that `save_run` calls `lease_rules.check` in its transaction.
        """
        store.save_run(run_record("run_l", clock, state='{"step": 1}'))
        stale = store.acquire_lease("run_l", "w1", ttl=TTL)
        clock.advance(TTL)
        store.acquire_lease("run_l", "w2", ttl=TTL)
        before = trail(store, "run_l")
        request = payment_request(run_id="run_l")
        with pytest.raises(LeaseLost):
            store.save_run(run_record("run_l", clock, state='{"step": 2}'), [request], lease=stale)
        assert trail(store, "run_l") == before
        assert store.list_requests(status=None).items == []

    def test_a_save_without_a_lease_is_refused_while_one_is_live(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """`save_run(lease=None)` raises `RunBusy` while someone holds a live lease."""
        store.save_run(run_record("run_l", clock))
        lease = store.acquire_lease("run_l", "w1", ttl=TTL)
        before = trail(store, "run_l")
        with pytest.raises(RunBusy):
            store.save_run(run_record("run_l", clock, status=RunStatus.COMPLETED))
        assert trail(store, "run_l") == before
        store.release_lease(lease)
        assert store.save_run(run_record("run_l", clock)).version == 2

    def test_a_save_may_hand_its_lease_back(self, store: ApprovalStore, clock: ManualClock) -> None:
        """`save_run(release=True)` saves and releases in one go; the fence is kept."""
        lease = store.acquire_lease("run_l", "w1", ttl=TTL)
        store.save_run(run_record("run_l", clock), lease=lease, release=True)
        current = store.lease_of("run_l")
        assert current is not None
        assert (current.fence, current.is_live(clock.now())) == (lease.fence, False)
        assert store.acquire_lease("run_l", "w2", ttl=TTL).fence == lease.fence + 1

    def test_fail_run_under_a_stale_or_missing_lease_is_refused(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """`fail_run` raises `LeaseLost` under a stale lease and `RunBusy` under none while one
        is live; either way nothing is written."""
        store.save_run(run_record("run_l", clock, status=RunStatus.RUNNING))
        stale = store.acquire_lease("run_l", "w1", ttl=TTL)
        clock.advance(TTL)
        store.acquire_lease("run_l", "w2", ttl=TTL)
        before = trail(store, "run_l")
        with pytest.raises(LeaseLost):
            store.fail_run("run_l", "boom", lease=stale)
        with pytest.raises(RunBusy):
            store.fail_run("run_l", "boom", lease=None)
        assert trail(store, "run_l") == before

    # -- workers (RunLeases) --------------------------------------------------------------

    def test_leases_hand_each_ready_run_to_one_worker(
        self, store: ApprovalStore, run_leases: RunLeases, clock: ManualClock
    ) -> None:
        """`claim_ready` leases each paused run with an answered request to one worker.

        If this fails, check that a claim writes the lease row and skips live ones.
        """
        runs = {name: payment_request(run_id=name) for name in ("run_a", "run_b", "run_c")}
        for name, request in runs.items():
            store.save_run(run_record(name, clock), [request])
        store.decide(runs["run_a"].id, Decision.approve(by="ana"))
        store.decide(runs["run_b"].id, Decision.reject("no", by="ana"))
        first = run_leases.claim_ready("w1", lease=TTL, limit=1)
        second = run_leases.claim_ready("w2", lease=TTL, limit=10)
        assert [c.run_id for c in first] == ["run_a"]
        assert [c.run_id for c in second] == ["run_b"]  # run_c has nothing decided
        assert (first[0].adapter, first[0].worker, first[0].until) == (
            "test",
            "w1",
            clock.now() + TTL,
        )
        assert store.lease_of("run_a") == first[0].lease
        assert run_leases.claim_ready("w3", lease=TTL) == []
        not_mine = Lease(run_id="run_a", holder="w2", fence=first[0].lease.fence, until=clock.now())
        store.release_lease(not_mine)  # not w2's lease: nothing happens
        assert run_leases.claim_ready("w3", lease=TTL) == []
        store.release_lease(first[0].lease)
        again = run_leases.claim_ready("w3", lease=TTL)
        assert [c.run_id for c in again] == ["run_a"]
        assert again[0].lease.fence == first[0].lease.fence + 1
        clock.advance(TTL + timedelta(seconds=1))  # w2 and w3 died: their leases run out
        assert [c.run_id for c in run_leases.claim_ready("w4", lease=TTL)] == ["run_a", "run_b"]

    def test_finished_runs_are_not_claimed(
        self, store: ApprovalStore, run_leases: RunLeases, clock: ManualClock
    ) -> None:
        """A completed run is never leased, whatever its requests say."""
        request = payment_request(run_id="run_done")
        store.save_run(run_record("run_done", clock), [request])
        store.decide(request.id, Decision.approve(by="ana"))
        store.save_run(run_record("run_done", clock, status=RunStatus.COMPLETED))
        assert run_leases.claim_ready("w1", lease=TTL) == []

    def test_a_run_leased_by_hand_is_not_claimed_while_live(
        self, store: ApprovalStore, run_leases: RunLeases, clock: ManualClock
    ) -> None:
        """`claim_ready` skips a ready run whose lease someone took with `acquire_lease`."""
        request = payment_request(run_id="run_h")
        store.save_run(run_record("run_h", clock), [request])
        store.decide(request.id, Decision.approve(by="ana"))
        held = store.acquire_lease("run_h", "resumer", ttl=TTL)
        assert run_leases.claim_ready("w1", lease=TTL) == []
        assert store.lease_of("run_h") == held
        clock.advance(TTL)
        (claim,) = run_leases.claim_ready("w1", lease=TTL)
        assert (claim.run_id, claim.lease.fence) == ("run_h", held.fence + 1)

    def test_racing_workers_never_share_a_run(
        self, store: ApprovalStore, run_leases: RunLeases, clock: ManualClock
    ) -> None:
        """Eight workers claiming at once get each ready run at most once, all of them in all.

        If this fails, check that `claim_ready` locks (or skips) the runs it grants.
        """
        for i in range(12):
            request = payment_request(run_id=f"run_{i:02d}")
            store.save_run(run_record(request.run_id, clock), [request])
            store.decide(request.id, Decision.approve(by="ana"))
        race = at_once(
            [partial(run_leases.claim_ready, f"w{i}", lease=TTL, limit=3) for i in range(8)]
        )
        assert race.errors == []
        claimed = [c.run_id for claims in race.results for c in claims]
        assert len(claimed) == len(set(claimed))
        claimed += [c.run_id for c in run_leases.claim_ready("late", lease=TTL, limit=20)]
        assert sorted(claimed) == [f"run_{i:02d}" for i in range(12)]
