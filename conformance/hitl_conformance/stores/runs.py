"""Run snapshots: saved with their requests at once, listed, failed, retried, cancelled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hitl_conformance.stores.builders import payment_request, run_record, trail
from hitl_core import (
    ApprovalStore,
    AuditEvent,
    AuditKind,
    Decision,
    InvalidInput,
    LeaseLost,
    ManualClock,
    RequestIdConflict,
    RequestStatus,
    RunChanged,
    RunNotFailed,
    RunStatus,
    UnknownRun,
)

__all__ = ["RunTests"]

TTL = timedelta(seconds=30)


class RunTests:
    """`save_run`, `load_run`, `list_runs`, `fail_run`, `retry_run`, `cancel_run`."""

    def test_runs_save_with_their_requests_atomically(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A snapshot and its new requests are saved together or not at all.

        If this fails, check that `save_run` writes run and requests in one transaction.
        """
        with pytest.raises(UnknownRun):
            store.load_run("run_x")
        request = payment_request(run_id="run_x")
        saved = store.save_run(
            run_record("run_x", clock, state='{"step": 1}'), [request], expected_version=0
        )
        assert saved.version == 1
        assert store.load_run("run_x").state == '{"step": 1}'
        assert store.get(request.id).is_pending
        clash = payment_request(run_id="run_x", amount=1)
        with pytest.raises(RequestIdConflict):
            store.save_run(
                run_record("run_x", clock, state='{"step": 2}'), [clash], expected_version=1
            )
        assert store.load_run("run_x").state == '{"step": 1}'
        with pytest.raises(RunChanged):
            store.save_run(run_record("run_x", clock, state='{"step": 3}'), expected_version=0)
        later = store.save_run(run_record("run_x", clock, state='{"step": 4}'), expected_version=1)
        assert later.version == 2

    def test_a_save_marks_the_requests_it_applied_resumed(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """`save_run(resumed=...)` marks those requests resumed in the same transaction."""
        request = payment_request(run_id="run_r")
        store.save_run(run_record("run_r", clock), [request])
        store.decide(request.id, Decision.approve(by="ana"))
        clock.advance(timedelta(seconds=1))
        store.save_run(run_record("run_r", clock, status=RunStatus.COMPLETED), resumed=[request.id])
        assert store.get(request.id).status is RequestStatus.RESUMED
        saved = store.load_run("run_r")
        assert (saved.status, saved.version) == (RunStatus.COMPLETED, 2)
        assert saved.created_at < saved.updated_at  # a save keeps the creation time

    def test_list_runs_filters_by_status_and_adapter(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """`list_runs` returns the runs of a status (or adapter) only, oldest first."""
        for i, status in enumerate([RunStatus.PAUSED, RunStatus.FAILED, RunStatus.PAUSED]):
            store.save_run(run_record(f"run_{i}", clock, status=status))
            clock.advance(timedelta(seconds=1))
        assert [r.run_id for r in store.list_runs().items] == ["run_0", "run_1", "run_2"]
        paused = store.list_runs(status=RunStatus.PAUSED)
        assert [r.run_id for r in paused.items] == ["run_0", "run_2"]
        assert paused.next_cursor is None
        assert [r.run_id for r in store.list_runs(status=RunStatus.FAILED).items] == ["run_1"]
        assert store.list_runs(adapter="other").items == []
        assert len(store.list_runs(adapter="test").items) == 3

    def test_list_runs_pages_in_creation_order(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """Paging `list_runs` visits every run once, in (created_at, run_id) order.

        If this fails, check that the cursor compares (created_at, run_id), not just time.
        """
        made = []
        for i in range(7):
            made.append(f"run_{6 - i}")  # ids against the time order; ties broken by id
            store.save_run(run_record(made[-1], clock))
            if i % 2:
                clock.advance(timedelta(seconds=1))
        clock.advance(timedelta(seconds=1))
        store.save_run(run_record("run_6", clock, status=RunStatus.COMPLETED))  # keeps its place
        order = [r.run_id for r in store.list_runs().items]
        seen, cursor = [], None
        while True:
            page = store.list_runs(limit=2, cursor=cursor)
            assert len(page.items) <= 2
            seen += [r.run_id for r in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == order
        assert sorted(seen) == sorted(made)
        assert order == ["run_5", "run_6", "run_3", "run_4", "run_1", "run_2", "run_0"]
        with pytest.raises(InvalidInput, match="limit"):
            store.list_runs(limit=0)

    def test_fail_run_keeps_the_snapshot_and_audits_in_order(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """`fail_run` marks the run failed with its last snapshot kept, the given events
        appended before the `failed` one, and its lease handed back."""
        store.save_run(run_record("run_f", clock, state='{"step": 7}'))
        lease = store.acquire_lease("run_f", "w1", ttl=TTL)
        refused = AuditEvent(
            kind=AuditKind.REFUSED, at=clock.now(), run_id="run_f", detail={"why": "changed"}
        )
        failed = store.fail_run("run_f", "the tool raised", lease=lease, events=[refused])
        assert (failed.status, failed.error, failed.state) == (
            RunStatus.FAILED,
            "the tool raised",
            '{"step": 7}',
        )
        assert store.load_run("run_f") == failed
        assert failed.version == 2
        kinds = [e.kind for e in store.audit(run_id="run_f")]
        assert kinds == [AuditKind.REFUSED, AuditKind.FAILED]
        assert store.audit(run_id="run_f")[-1].detail["error"] == "the tool raised"
        current = store.lease_of("run_f")
        assert current is not None
        assert not current.is_live(clock.now())
        assert [r.run_id for r in store.list_runs(status=RunStatus.FAILED).items] == ["run_f"]

    def test_fail_run_of_an_unknown_run_writes_nothing(self, store: ApprovalStore) -> None:
        """Failing a run nobody saved raises `UnknownRun` and writes nothing."""
        with pytest.raises(UnknownRun):
            store.fail_run("run_nope", "boom", lease=None)
        assert store.audit() == []

    def test_retry_run_reopens_a_failed_run(self, store: ApprovalStore, clock: ManualClock) -> None:
        """A failed run is reopened as paused, its error cleared, and a `retried` event says who."""
        store.save_run(run_record("run_f", clock, state='{"step": 7}'))
        store.fail_run("run_f", "boom", lease=None)
        retried = store.retry_run("run_f", by="ops")
        assert (retried.status, retried.error, retried.state) == (
            RunStatus.PAUSED,
            None,
            '{"step": 7}',
        )
        assert store.load_run("run_f") == retried
        event = store.audit(run_id="run_f")[-1]
        assert (event.kind, event.actor, event.detail.get("error")) == (
            AuditKind.RETRIED,
            "ops",
            "boom",
        )
        with pytest.raises(RunNotFailed):
            store.retry_run("run_f", by="ops")

    def test_retry_run_reopens_a_running_run_only_once_its_lease_ran_out(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A running run is retried only when nobody holds a live lease on it (its process died),
        and the retry fences off that lease: the old holder, if only paused, can save nothing.

        If this fails, check that `retry_run` passes the run's current lease to the rule and
        writes the revoked lease it returns.
        """
        store.save_run(run_record("run_r", clock, status=RunStatus.RUNNING))
        lease = store.acquire_lease("run_r", "w1", ttl=TTL)
        before = trail(store, "run_r")
        with pytest.raises(RunNotFailed):
            store.retry_run("run_r", by="ops")
        assert trail(store, "run_r") == before
        clock.advance(TTL)
        assert store.retry_run("run_r", by="ops").status is RunStatus.PAUSED
        revoked = store.lease_of("run_r")
        assert revoked is not None
        assert (revoked.fence, revoked.holder) == (lease.fence + 1, "ops")
        with pytest.raises(LeaseLost):
            store.save_run(run_record("run_r", clock), lease=lease)

    def test_retry_run_refuses_paused_and_unknown_runs(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """Retrying a paused run raises `RunNotFailed`, an unknown one `UnknownRun`; no writes."""
        store.save_run(run_record("run_p", clock))
        with pytest.raises(RunNotFailed, match="paused"):
            store.retry_run("run_p", by="ops")
        with pytest.raises(UnknownRun):
            store.retry_run("run_nope", by="ops")
        assert store.load_run("run_p").version == 1
        assert store.audit() == []

    def test_cancel_run_marks_the_run_cancelled(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A cancelled run is stored cancelled, one version on; an unknown run is no error."""
        store.save_run(run_record("run_c", clock))
        assert store.cancel_run("run_c", by="ops") == []
        cancelled = store.load_run("run_c")
        assert (cancelled.status, cancelled.version) == (RunStatus.CANCELLED, 2)
        assert store.cancel_run("run_nope", by="ops") == []
