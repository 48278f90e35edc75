"""Runs that are more than one plain loop: agents used as tools, and streamed runs."""

from __future__ import annotations

from hitl_conformance.capabilities import Capability
from hitl_conformance.driver import StreamingDriver
from hitl_conformance.harness import balance, pay
from hitl_conformance.markers import needs
from hitl_conformance.scenario import Scenario, ScriptedCall
from hitl_conformance.suite.fixtures import NewRun
from hitl_core import Decision, RequestStatus
from hitl_core.outcomes import rejection_text

REVIEWER = "ana@example.com"


def delegate(call_id: str, task: str) -> ScriptedCall:
    return ScriptedCall(id=call_id, tool="payments_agent", args={"task": task})


NESTED = Scenario.of(
    delegate("a1", "Pay Acme Corp 4200"),
    "Parent done.",
    agents={"payments_agent": [[pay("c1", 4200)], "Child done."]},
)


class ComposeTests:
    @needs(Capability.NESTED, Capability.PERSIST)
    def test_a_gated_call_inside_a_sub_agent_pauses_the_whole_run(self, new_run: NewRun) -> None:
        """The sub-agent's gated call pauses the run; approving it finishes both agents.

        If this fails, check that the sub-agent's request is raised under the root run id
        and that resuming the root run resumes the sub-agent where it stopped.
        """
        run = new_run(NESTED)
        outcome = run.start()
        assert outcome.status == "paused"
        [request] = run.pending()
        assert request.action.call_id == "c1"
        assert outcome.pending == [request.id]
        assert run.executed() == []
        run.decide(request.id, Decision.approve(by=REVIEWER))
        done = run.resume(fresh=True)
        assert done.status == "completed"
        assert done.output == "Parent done."
        assert run.executed() == [("send_payment", {"amount": 4200, "recipient": "Acme Corp"})]
        assert run.told() == {"c1": "paid 4200.00 to Acme Corp", "a1": "Child done."}
        assert run.request(request.id).status is RequestStatus.RESUMED

    @needs(Capability.NESTED, Capability.REJECT)
    def test_a_rejection_inside_a_sub_agent_reaches_the_sub_agent(self, new_run: NewRun) -> None:
        """Rejecting the sub-agent's call runs nothing; the sub-agent's model gets the feedback.

        If this fails, check that decisions are applied inside the sub-agent, not the parent.
        """
        run = new_run(NESTED)
        run.start()
        [request] = run.pending()
        run.decide(request.id, Decision.reject("over budget", by=REVIEWER))
        assert run.resume().status == "completed"
        assert run.executed() == []
        assert run.told() == {
            "c1": rejection_text("send_payment", "over budget"),
            "a1": "Child done.",
        }

    @needs(Capability.STREAMING, Capability.APPROVE)
    def test_a_streamed_run_surfaces_its_pause_and_resumes(self, new_run: NewRun) -> None:
        """Streaming shows settled calls as they happen, ends with the pause, and resumes.

        If this fails, check that the stream is drained before the pending approvals are
        read, and that a streamed resume applies decisions like a plain one.
        """
        run = new_run(Scenario.of([balance("b1"), pay("c1", 4200)], "Done."))
        driver = run.driver
        assert isinstance(driver, StreamingDriver), "declares streaming but has no streamed calls"
        paused = driver.start_streamed(run.run_id)
        assert paused.status == "paused"
        assert paused.events == ["tool_result:b1", "paused"]
        [request] = run.pending()
        assert paused.pending == [request.id]
        run.decide(request.id, Decision.approve(by=REVIEWER))
        done = driver.resume_streamed(run.run_id)
        assert done.status == "completed"
        assert done.events == ["tool_result:c1", "completed"]
        assert sorted(t for t, _ in run.executed()) == ["get_balance", "send_payment"]
        assert run.told() == {"b1": "balance: 10000.00", "c1": "paid 4200.00 to Acme Corp"}
