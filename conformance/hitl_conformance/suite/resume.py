"""Moves 2 and 4, suspend and resume: durable, partial, idempotent, and expiring."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hitl_conformance.capabilities import Capability
from hitl_conformance.harness import delete, pay
from hitl_conformance.markers import needs
from hitl_conformance.scenario import Scenario
from hitl_conformance.suite.fixtures import NewRun
from hitl_core import Decision, RequestStatus, RunNotPaused
from hitl_core.outcomes import rejection_text

REVIEWER = "ana@example.com"


class ResumeTests:
    @needs(Capability.PERSIST, Capability.APPROVE)
    def test_approve_resumes_in_a_fresh_process(self, new_run: NewRun) -> None:
        """A run paused here resumes in a new interpreter from the store alone.

        If this fails, something the resume needs lives only in the first process's memory.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Paid."))
        run.start()
        [request] = run.pending()
        run.decide(request.id, Decision.approve(by=REVIEWER))
        outcome = run.resume(fresh=True)
        assert outcome.status == "completed"
        assert outcome.output == "Paid."
        assert run.executed() == [("send_payment", {"amount": 4200, "recipient": "Acme Corp"})]
        assert run.request(request.id).status is RequestStatus.RESUMED

    @needs(Capability.PERSIST, Capability.REJECT)
    def test_rejection_feedback_survives_a_fresh_process(self, new_run: NewRun) -> None:
        """The feedback reaches the model when the resume happens in another process.

        If this fails, the feedback is kept in memory instead of read from the store.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Not paid."))
        run.start()
        [request] = run.pending()
        run.decide(request.id, Decision.reject("vendor under review", by=REVIEWER))
        assert run.resume(fresh=True).status == "completed"
        assert run.executed() == []
        assert run.told() == {"c1": rejection_text("send_payment", "vendor under review")}

    @needs(Capability.PERSIST)
    def test_resume_without_a_decision_keeps_the_run_paused(self, new_run: NewRun) -> None:
        """Resuming before anyone decides runs nothing and keeps the same pending request.

        If this fails, the adapter treats "no decision" as approve or reject.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Paid."))
        first = run.start()
        again = run.resume(fresh=True)
        assert again.status == "paused"
        assert again.pending == first.pending
        assert len(run.requests()) == 1
        assert run.executed() == []

    @needs(Capability.EXACTLY_ONCE, Capability.APPROVE)
    def test_a_finished_run_cannot_be_resumed_again(self, new_run: NewRun) -> None:
        """A second resume of a completed run raises `RunNotPaused` and runs nothing.

        If this fails, a duplicate delivery of "resume" could execute the tool twice.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Paid."))
        run.start()
        [request] = run.pending()
        run.decide(request.id, Decision.approve(by=REVIEWER))
        run.resume()
        with pytest.raises(RunNotPaused):
            run.resume()
        assert len(run.executed()) == 1

    @needs(Capability.PARALLEL)
    def test_two_gated_calls_in_one_turn_are_decided_separately(self, new_run: NewRun) -> None:
        """Deciding one of two requests resumes that call only; the other stays pending.

        If this fails, check that the adapter matches decisions to calls by request id.
        """
        run = new_run(Scenario.of([pay("p1", 2000), delete("d1", 50)], "Done."))
        run.start()
        first, second = run.pending()
        assert (first.action.call_id, second.action.call_id) == ("p1", "d1")
        run.decide(second.id, Decision.approve(by=REVIEWER))
        partial = run.resume(fresh=True)
        assert partial.status == "paused"
        assert partial.pending == [first.id]
        assert run.executed() == [("delete_rows", {"table": "orders", "count": 50})]
        run.decide(first.id, Decision.reject("not this month", by=REVIEWER))
        assert run.resume().status == "completed"
        assert run.executed() == [("delete_rows", {"table": "orders", "count": 50})]
        assert run.told() == {
            "p1": rejection_text("send_payment", "not this month"),
            "d1": "deleted 50 rows from orders",
        }

    @needs(Capability.EXPIRY)
    def test_an_expired_request_takes_its_expiry_outcome(self, new_run: NewRun) -> None:
        """Past its deadline a request refuses decisions and the run resumes with the outcome.

        If this fails, check that the adapter copies the verdict's `expires_in` and
        `on_expiry` into the request.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Expired."))
        run.start()
        [request] = run.pending()
        assert request.expires_at is not None
        assert request.expires_at - request.created_at == timedelta(hours=24)
        expired = run.store.expire_due(now=request.expires_at + timedelta(seconds=1))
        assert [r.id for r in expired] == [request.id]
        assert run.resume(fresh=True).status == "completed"
        assert run.executed() == []
        assert run.told() == {"c1": rejection_text("send_payment", "approval expired")}
        stored = run.request(request.id)
        assert stored.status is RequestStatus.RESUMED
        assert stored.decision is not None
        assert stored.decision.by == "hitl:expiry"
