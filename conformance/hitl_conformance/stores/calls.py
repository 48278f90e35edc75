"""The call ledger: a call is claimed once before its side effect and settled once after."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from hitl_conformance.stores.builders import at_once, claim_of, payment_request, settled, trail
from hitl_core import (
    ApprovalStore,
    AuditKind,
    CallNotClaimed,
    CallStatus,
    LeaseLost,
    ManualClock,
    RequestIdConflict,
    RequestStatus,
    UnknownRequest,
)

__all__ = ["CallTests"]

TTL = timedelta(seconds=30)


class CallTests:
    """`claim_call`, `settle_call`, `calls`."""

    def test_a_claim_is_taken_once(self, store: ApprovalStore, clock: ManualClock) -> None:
        """A second claim of the same attempt returns the first line and writes nothing.

        If this fails, check that `claim_call` compares with the stored line
        (`call_rules.claim`) in the same transaction as its insert.
        """
        lease = store.acquire_lease("run_k", "w1", ttl=TTL)
        claim = claim_of(lease, "call_1", clock)
        assert store.claim_call(claim, lease) == claim
        clock.advance(timedelta(seconds=1))
        again = claim_of(lease, "call_1", clock, args={"amount": 1, "recipient": "x"})
        assert store.claim_call(again, lease) == claim
        assert store.calls("run_k") == {"call_1": claim}
        started = [e for e in store.audit(run_id="run_k") if e.kind is AuditKind.STARTED]
        assert len(started) == 1
        assert started[0].detail == {
            "attempt": 1,
            "idempotency_key": claim.idempotency_key,
            "fence": lease.fence,
        }

    def test_a_claim_under_a_lost_lease_writes_nothing(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A claim under a lease someone took over raises `LeaseLost`; the store is unchanged.

        If this fails, check that `claim_call` runs `lease_rules.check` before its write.
        """
        stale = store.acquire_lease("run_k", "w1", ttl=TTL)
        clock.advance(TTL)
        store.acquire_lease("run_k", "w2", ttl=TTL)
        before = trail(store, "run_k")
        with pytest.raises(LeaseLost):
            store.claim_call(claim_of(stale, "call_1", clock), stale)
        after = trail(store, "run_k")
        assert after == before
        assert (len(after.calls), after.audit) == (0, 0)

    def test_a_claim_under_another_runs_lease_writes_nothing(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A lease grants one run: another run's lease with the same holder and fence is
        refused with `LeaseLost`.

        If this fails, check that the lease check compares the lease's run too.
        """
        mine = store.acquire_lease("run_k", "w1", ttl=TTL)
        other = store.acquire_lease("run_o", "w1", ttl=TTL)
        assert (mine.holder, mine.fence) == (other.holder, other.fence)
        before = trail(store, "run_k")
        with pytest.raises(LeaseLost):
            store.claim_call(claim_of(mine, "call_1", clock), other)
        assert trail(store, "run_k") == before

    def test_a_retry_claims_the_next_attempt_over_started_or_unknown_only(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """Attempt N+1 is taken over a started or unknown attempt N, never over a settled one
        nor past a missing attempt."""
        lease = store.acquire_lease("run_k", "w1", ttl=TTL)
        first = store.claim_call(claim_of(lease, "call_1", clock), lease)
        unknown = store.settle_call(settled(first, CallStatus.UNKNOWN, clock), lease)
        skipped = claim_of(lease, "call_1", clock, attempt=3)
        assert store.claim_call(skipped, lease) == unknown
        second = claim_of(lease, "call_1", clock, attempt=2)
        assert store.claim_call(second, lease) == second
        third = claim_of(lease, "call_1", clock, attempt=3)
        assert store.claim_call(third, lease) == third  # over a started attempt
        done = store.settle_call(settled(third, CallStatus.EXECUTED, clock), lease)
        assert store.claim_call(claim_of(lease, "call_1", clock, attempt=4), lease) == done
        assert store.calls("run_k") == {"call_1": done}
        kinds = [e.kind for e in store.audit(run_id="run_k")]
        assert kinds == [
            AuditKind.STARTED,
            AuditKind.OUTCOME_UNKNOWN,
            AuditKind.STARTED,
            AuditKind.STARTED,
            AuditKind.EXECUTED,
        ]

    def test_a_settle_applies_to_the_current_attempt_only(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """Settling an attempt that is no longer the stored one writes nothing, a call never
        claimed raises `CallNotClaimed`; settling the same outcome twice writes it once."""
        lease = store.acquire_lease("run_k", "w1", ttl=TTL)
        never = settled(claim_of(lease, "call_0", clock), CallStatus.EXECUTED, clock)
        with pytest.raises(CallNotClaimed):
            store.settle_call(never, lease)
        assert store.calls("run_k") == {}
        first = store.claim_call(claim_of(lease, "call_1", clock), lease)
        second = store.claim_call(claim_of(lease, "call_1", clock, attempt=2), lease)
        assert store.settle_call(settled(first, CallStatus.EXECUTED, clock), lease) == second
        done = settled(second, CallStatus.EXECUTED, clock, output="paid twice?")
        assert store.settle_call(done, lease) == done
        assert store.settle_call(done, lease) == done
        assert store.calls("run_k") == {"call_1": done}
        executed = [e for e in store.audit(run_id="run_k") if e.kind is AuditKind.EXECUTED]
        assert [e.detail["output"] for e in executed] == ["paid twice?"]

    def test_a_settle_follows_the_ledgers_arrows(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A started call cannot be abandoned; an unknown one can be abandoned or marked done,
        and a settled one changes no more."""
        lease = store.acquire_lease("run_k", "w1", ttl=TTL)
        claim = store.claim_call(claim_of(lease, "call_1", clock), lease)
        abandon = settled(claim, CallStatus.ABANDONED, clock, output="gave up", is_error=True)
        assert store.settle_call(abandon, lease) == claim
        unknown = store.settle_call(settled(claim, CallStatus.UNKNOWN, clock), lease)
        assert store.settle_call(abandon, lease) == abandon
        assert store.settle_call(settled(unknown, CallStatus.EXECUTED, clock), lease) == abandon
        assert store.calls("run_k")["call_1"].status is CallStatus.ABANDONED

    def test_a_settle_under_a_lost_lease_writes_nothing(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A settle under a lease someone took over raises `LeaseLost`; the store is unchanged."""
        stale = store.acquire_lease("run_k", "w1", ttl=TTL)
        claim = store.claim_call(claim_of(stale, "call_1", clock), stale)
        clock.advance(TTL)
        store.acquire_lease("run_k", "w2", ttl=TTL)
        recovery = payment_request(run_id="run_k", call_id="call_1:recovery")
        before = trail(store, "run_k")
        with pytest.raises(LeaseLost):
            store.settle_call(settled(claim, CallStatus.EXECUTED, clock), stale, [recovery])
        assert trail(store, "run_k") == before
        with pytest.raises(UnknownRequest):
            store.get(recovery.id)

    def test_an_unknown_outcome_and_its_recovery_request_are_written_together(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """`settle_call(..., requests)` puts the recovery request in the settle's transaction,
        only when the settle takes effect, and not at all when the request is refused.

        If this fails, check that `settle_call` writes the line, its event and the requests
        in one transaction, after `call_rules.settle` said the settle applies.
        """
        lease = store.acquire_lease("run_k", "w1", ttl=TTL)
        claim = store.claim_call(claim_of(lease, "call_1", clock), lease)
        taken = store.put(payment_request(run_id="run_k", call_id="call_1:recovery"))
        clash = payment_request(run_id="run_k", call_id="call_1:recovery", amount=1)
        unknown = settled(claim, CallStatus.UNKNOWN, clock, recovery_request_id=clash.id)
        before = trail(store, "run_k")
        with pytest.raises(RequestIdConflict):
            store.settle_call(unknown, lease, [clash])
        assert trail(store, "run_k") == before
        recovery = payment_request(run_id="run_k", call_id="call_1:recovery:2")
        unknown = settled(claim, CallStatus.UNKNOWN, clock, recovery_request_id=recovery.id)
        assert store.settle_call(unknown, lease, [recovery]) == unknown
        assert store.get(recovery.id).status is RequestStatus.PENDING
        events = store.audit(run_id="run_k")
        assert [(e.kind, e.request_id) for e in events[-2:]] == [
            (AuditKind.OUTCOME_UNKNOWN, None),
            (AuditKind.CREATED, recovery.id),
        ]
        late = payment_request(run_id="run_k", call_id="call_1:recovery:3")
        assert store.settle_call(unknown, lease, [late]) == unknown  # already settled
        with pytest.raises(UnknownRequest):
            store.get(late.id)
        assert store.get(taken.id) == taken

    def test_an_executed_call_is_audited_with_what_ran(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """The `started` and `executed` events name the call, its arguments and its adapter."""
        request = store.put(payment_request(run_id="run_k"))
        lease = store.acquire_lease("run_k", "w1", ttl=TTL)
        claim = claim_of(lease, "call_1", clock, args={"amount": 4000}, request_id=request.id)
        store.claim_call(claim, lease)
        store.settle_call(settled(claim, CallStatus.EXECUTED, clock, is_error=True), lease)
        started, executed = store.audit(run_id="run_k")[-2:]
        for event in (started, executed):
            assert (event.call_id, event.tool, event.actor) == ("call_1", "send_payment", "test")
            assert (event.args, event.request_id) == ({"amount": 4000}, request.id)
        assert (started.kind, executed.kind) == (AuditKind.STARTED, AuditKind.EXECUTED)
        assert executed.detail == {"attempt": 1, "output": "paid", "is_error": True}

    def test_calls_lists_one_runs_ledger(self, store: ApprovalStore, clock: ManualClock) -> None:
        """`calls(run_id)` holds every call of that run by call id, and no other run's."""
        mine = store.acquire_lease("run_k", "w1", ttl=TTL)
        other = store.acquire_lease("run_o", "w1", ttl=TTL)
        a = store.claim_call(claim_of(mine, "a", clock), mine)
        b = store.claim_call(claim_of(mine, "b", clock), mine)
        store.claim_call(claim_of(other, "a", clock), other)
        assert store.calls("run_k") == {"a": a, "b": b}
        assert store.calls("run_nope") == {}

    def test_eight_threads_claiming_one_call_get_one_claim(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """Eight threads claiming one call under one lease: one `started` event, one line.

        If this fails, check that the read of the stored line and the insert share one
        serialized transaction (or a unique key that the loser reads back).
        """
        lease = store.acquire_lease("run_k", "w1", ttl=TTL)
        claims = [
            claim_of(lease, "call_1", clock, args={"amount": i, "recipient": "x"}) for i in range(8)
        ]
        race = at_once([partial(store.claim_call, claim, lease) for claim in claims])
        assert race.errors == []
        assert len(race.results) == 8
        assert all(result == race.results[0] for result in race.results)
        assert race.results[0] in claims
        assert store.calls("run_k") == {"call_1": race.results[0]}
        started = [e for e in store.audit(run_id="run_k") if e.kind is AuditKind.STARTED]
        assert len(started) == 1
