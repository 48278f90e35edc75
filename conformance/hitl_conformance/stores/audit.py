"""The audit trail: every write appends its events in order, linked into its run's chain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hitl_conformance.stores.builders import claim_of, payment_request, run_record, settled
from hitl_core import (
    ApprovalStore,
    AuditHead,
    AuditKind,
    CallStatus,
    Decision,
    InvalidInput,
    ManualClock,
    RunStatus,
    verify_store,
)
from hitl_core.audit_chain import GENESIS

__all__ = ["AuditTests", "busy_history"]

TTL = timedelta(seconds=30)


def busy_history(store: ApprovalStore, clock: ManualClock) -> None:
    """Five runs through every kind of write: requests put, decided (approve, edit, reject,
    respond), expired, resumed and cancelled; calls claimed and settled (gated or not, one
    with an unknown outcome); a run failed and retried."""
    a1, a2 = (payment_request(run_id="run_a", call_id=c) for c in ("a1", "a2"))
    store.save_run(run_record("run_a", clock), [a1, a2])
    store.decide(a1.id, Decision.approve(by="ana"))
    store.decide(a2.id, Decision.edit({"amount": 4000, "recipient": "Acme Corp"}, by="bob"))
    lease = store.acquire_lease("run_a", "w1", ttl=TTL)
    for request in (a1, a2):
        claim = claim_of(lease, request.action.call_id, clock, request_id=request.id)
        store.claim_call(claim, lease)
        store.settle_call(settled(claim, CallStatus.EXECUTED, clock), lease)
    run_a = run_record("run_a", clock, status=RunStatus.COMPLETED)
    store.save_run(run_a, resumed=[a1.id, a2.id], lease=lease, release=True)
    b1 = store.put(payment_request(run_id="run_b"))
    store.decide(b1.id, Decision.reject("too much", by="ana"))
    store.mark_resumed(b1.id)
    c1 = store.put(payment_request(run_id="run_c", now=clock.now(), expires_in=timedelta(hours=1)))
    clock.advance(timedelta(hours=2))
    assert [r.id for r in store.expire_due()] == [c1.id]
    store.mark_resumed(c1.id)
    d1, d2 = (payment_request(run_id="run_d", call_id=c) for c in ("d1", "d2"))
    store.save_run(run_record("run_d", clock), [d1, d2])
    store.decide(d1.id, Decision.respond("use the other account", by="carol"))
    store.cancel_run("run_d", by="ops", reason="customer left")
    store.save_run(run_record("run_e", clock, status=RunStatus.RUNNING))
    lease = store.acquire_lease("run_e", "w2", ttl=TTL)
    ungated = claim_of(lease, "e1", clock, args={"q": "x"})
    store.claim_call(ungated, lease)
    recovery = payment_request(run_id="run_e", call_id="e1:recovery")
    unknown = settled(ungated, CallStatus.UNKNOWN, clock, recovery_request_id=recovery.id)
    store.settle_call(unknown, lease, [recovery])
    store.fail_run("run_e", "the worker died", lease=lease)
    store.retry_run("run_e", by="ops")


class AuditTests:
    """`audit`, `audit_heads`, `last_audit_seq`."""

    def test_every_write_is_linked_into_its_runs_chain(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """After every kind of write, each run's events form one unbroken chain to its head.

        If this fails, check that each write appends through the chain code (`link`) in
        the same transaction, reading the run's head there.
        """
        busy_history(store, clock)
        report = verify_store(store)
        assert report.ok, report.problems
        assert (report.events, report.runs, report.unchained) == (len(store.audit()), 5, 0)
        heads = store.audit_heads()
        for run_id in ("run_a", "run_b", "run_c", "run_d", "run_e"):
            chain = store.audit(run_id=run_id)
            assert [e.chain_index for e in chain] == list(range(1, len(chain) + 1))
            assert [e.prev_hash for e in chain] == [GENESIS, *(e.hash for e in chain[:-1])]
            assert heads[run_id] == AuditHead.of(chain[-1])
            assert store.audit_heads(run_id) == {run_id: heads[run_id]}
        assert store.audit_heads("run_nope") == {}

    def test_each_write_appends_its_events_in_order(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """Every operation's events appear in the order it made them, one per change."""
        busy_history(store, clock)
        kinds = {
            run_id: [e.kind.value for e in store.audit(run_id=run_id)]
            for run_id in ("run_a", "run_e")
        }
        assert kinds["run_a"] == [
            "created",
            "created",
            "decided",
            "decided",
            "started",
            "executed",
            "started",
            "executed",
            "resumed",
            "resumed",
        ]
        assert kinds["run_e"] == ["started", "outcome_unknown", "created", "failed", "retried"]
        assert [e.kind for e in store.audit(run_id="run_d")].count(AuditKind.CANCELLED) == 1

    def test_audit_pages_after_a_seq(self, store: ApprovalStore, clock: ManualClock) -> None:
        """`audit(after=..., limit=...)` pages through the trail in seq order, filtered."""
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
