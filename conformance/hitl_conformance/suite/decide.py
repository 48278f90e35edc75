"""Move 3, the decision: what each kind does, and which decisions are refused."""

from __future__ import annotations

import pytest

from hitl_conformance.capabilities import Capability
from hitl_conformance.harness import ask, pay
from hitl_conformance.markers import needs
from hitl_conformance.scenario import Scenario
from hitl_conformance.suite.fixtures import NewRun
from hitl_core import (
    AlreadyDecided,
    AuditKind,
    Decision,
    DecisionMismatch,
    DecisionNotAllowed,
    RequestStatus,
)
from hitl_core.outcomes import RunTool, rejection_text, tool_result

REVIEWER = "ana@example.com"


class DecideTests:
    @needs(Capability.APPROVE)
    def test_approve_runs_exactly_the_proposed_arguments(self, new_run: NewRun) -> None:
        """Approve executes the reviewed call once, with the reviewed arguments.

        If this fails, check how the adapter maps `Approve` onto its framework's resume.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Paid."))
        run.start()
        [request] = run.pending()
        run.decide(request.id, Decision.approve(by=REVIEWER))
        outcome = run.resume()
        assert outcome.status == "completed"
        assert outcome.output == "Paid."
        assert run.executed() == [("send_payment", {"amount": 4200, "recipient": "Acme Corp"})]
        assert run.told() == {"c1": "paid 4200.00 to Acme Corp"}
        assert run.request(request.id).status is RequestStatus.RESUMED

    @needs(Capability.REJECT)
    def test_reject_runs_nothing_and_the_model_gets_the_feedback(self, new_run: NewRun) -> None:
        """Reject executes nothing; the model's result for the call is the core rejection text.

        If this fails, check that the adapter uses `hitl_core.outcomes.resolve` for rejects.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Not paid."))
        run.start()
        [request] = run.pending()
        run.decide(request.id, Decision.reject("over budget", by=REVIEWER))
        assert run.resume().status == "completed"
        assert run.executed() == []
        assert run.told() == {"c1": rejection_text("send_payment", "over budget")}

    @needs(Capability.EDIT)
    def test_edit_runs_the_corrected_arguments_and_says_so(self, new_run: NewRun) -> None:
        """Edit executes the replacement arguments; the model is told which arguments ran.

        If this fails, check that the edited arguments reach the tool and that the result
        goes through `hitl_core.outcomes.tool_result`.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Paid."))
        run.start()
        [request] = run.pending()
        edited = {"amount": 4000, "recipient": "Acme Corp"}
        run.decide(request.id, Decision.edit(edited, by=REVIEWER, feedback="cap at 4000"))
        assert run.resume().status == "completed"
        assert run.executed() == [("send_payment", edited)]
        expected = tool_result(
            RunTool(edited, True, "cap at 4000", "send_payment"), "paid 4000.00 to Acme Corp"
        )
        assert run.told() == {"c1": expected}
        decided = next(e for e in run.audit() if e.kind is AuditKind.DECIDED)
        assert decided.args == {"amount": 4200, "recipient": "Acme Corp"}
        assert decided.edited_args == edited

    @needs(Capability.RESPOND)
    def test_respond_answers_in_place_of_the_tool(self, new_run: NewRun) -> None:
        """Respond runs nothing; the human's answer is the call's result.

        If this fails, check that `Answer` results skip the tool entirely.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Ok."))
        run.start()
        [request] = run.pending()
        run.decide(request.id, Decision.respond("Payment scheduled for Monday.", by=REVIEWER))
        assert run.resume().status == "completed"
        assert run.executed() == []
        assert run.told() == {"c1": "Payment scheduled for Monday."}

    @needs(Capability.RESPOND)
    def test_ask_human_pauses_for_an_answer(self, new_run: NewRun) -> None:
        """The ask_human tool pauses for a respond (approve is not allowed) and returns the answer.

        If this fails, check that the adapter offers `hitl_core.ask`'s tool and its allowed kinds.
        """
        run = new_run(Scenario.of(ask("q1", "Which invoice?"), "Thanks."))
        run.start()
        [request] = run.pending()
        assert request.action.tool == "ask_human"
        assert set(request.allowed) == {"respond", "reject"}
        with pytest.raises(DecisionNotAllowed):
            run.decide(request.id, Decision.approve(by=REVIEWER))
        run.decide(request.id, Decision.respond("Invoice 88", by=REVIEWER))
        assert run.resume().status == "completed"
        assert run.told() == {"q1": "Invoice 88"}

    @needs(Capability.BOUND_DECISION)
    def test_a_decision_for_another_request_or_stale_arguments_is_refused(
        self, new_run: NewRun
    ) -> None:
        """Decisions naming another request id or an old argument digest change nothing.

        If this fails, the adapter records decisions without going through the core store.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Paid."))
        run.start()
        [request] = run.pending()
        for wrong in (
            Decision.approve(by=REVIEWER).model_copy(update={"request_id": "req_other"}),
            Decision.approve(by=REVIEWER).model_copy(update={"args_digest": "sha256:stale"}),
        ):
            with pytest.raises(DecisionMismatch):
                run.decide(request.id, wrong)
        assert run.request(request.id).status is RequestStatus.PENDING
        assert run.resume().status == "paused"
        assert run.executed() == []

    @needs(Capability.BOUND_DECISION)
    def test_a_second_decision_is_refused(self, new_run: NewRun) -> None:
        """The first decision stands; the second raises `AlreadyDecided` and changes nothing.

        If this fails, check that decisions are recorded with `store.decide`.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Paid."))
        run.start()
        [request] = run.pending()
        run.decide(request.id, Decision.reject("no", by=REVIEWER))
        with pytest.raises(AlreadyDecided):
            run.decide(request.id, Decision.approve(by="mallory@example.com"))
        assert run.resume().status == "completed"
        assert run.executed() == []

    @needs(Capability.APPROVE)
    def test_the_audit_trail_records_who_when_and_what(self, new_run: NewRun) -> None:
        """created, decided (who, the arguments reviewed, feedback), executed, resumed.

        If this fails, check that executions are recorded with `store.record_execution`
        and requests marked with `store.mark_resumed`.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Paid."))
        run.start()
        [request] = run.pending()
        run.decide(request.id, Decision.approve(by=REVIEWER, feedback="checked the invoice"))
        run.resume()
        events = [e for e in run.audit() if e.request_id == request.id]
        kinds = [
            AuditKind.CREATED,
            AuditKind.DECIDED,
            AuditKind.STARTED,
            AuditKind.EXECUTED,
            AuditKind.RESUMED,
        ]
        assert [e.kind for e in events] == kinds
        decided = events[1]
        assert (decided.actor, decided.decision) == (REVIEWER, "approve")
        assert decided.feedback == "checked the invoice"
        assert decided.args == {"amount": 4200, "recipient": "Acme Corp"}
        assert decided.edited_args is None
        assert decided.at <= events[2].at <= events[3].at
        assert events[2].args == {"amount": 4200, "recipient": "Acme Corp"}
