"""Move 1, the gate: what pauses and what runs unattended, and that it stays that way."""

from __future__ import annotations

from hitl_conformance.capabilities import Capability
from hitl_conformance.harness import balance, delete, email, pay
from hitl_conformance.markers import needs
from hitl_conformance.scenario import Scenario
from hitl_conformance.suite.fixtures import NewRun

REVIEWER = "ana@example.com"


class GateTests:
    @needs(Capability.THRESHOLD)
    def test_small_call_runs_without_a_pause(self, new_run: NewRun) -> None:
        """A call under the threshold executes at once, with no request raised.

        If this fails, check that the adapter asks `Policy.check` and runs exempt calls.
        """
        run = new_run(Scenario.of(pay("c1", 50), "Paid."))
        outcome = run.start()
        assert outcome.status == "completed"
        assert outcome.output == "Paid."
        assert run.executed() == [("send_payment", {"amount": 50, "recipient": "Acme Corp"})]
        assert run.told() == {"c1": "paid 50.00 to Acme Corp"}
        assert run.requests() == []

    @needs(Capability.THRESHOLD)
    def test_large_call_pauses_and_runs_nothing(self, new_run: NewRun) -> None:
        """A call over the threshold pauses with one pending request carrying the reason.

        If this fails, check that a gated call raises an `ApprovalRequest` before running.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Paid."))
        outcome = run.start()
        assert outcome.status == "paused"
        [request] = run.pending()
        assert outcome.pending == [request.id]
        assert request.action.tool == "send_payment"
        assert request.action.args == {"amount": 4200, "recipient": "Acme Corp"}
        assert request.action.call_id == "c1"
        assert request.reason == "amount 4200 > 1000"
        assert request.run_id == run.run_id
        assert run.executed() == []
        assert run.store.load_run(run.run_id).status.value == "paused"

    @needs(Capability.THRESHOLD)
    def test_every_rule_of_the_policy_gates(self, new_run: NewRun) -> None:
        """Blast radius and external recipients gate too; internal ones do not.

        If this fails, check that the adapter passes each call's own arguments to the policy.
        """
        run = new_run(
            Scenario.of(
                [
                    delete("d1", 3),
                    delete("d2", 500),
                    email("e1", "bob@ourco.com"),
                    email("e2", "x@evil.com"),
                ],
                "Done.",
            )
        )
        outcome = run.start()
        assert outcome.status == "paused"
        assert [r.action.call_id for r in run.pending()] == ["d2", "e2"]
        assert sorted(run.executed(), key=str) == sorted(
            [
                ("delete_rows", {"table": "orders", "count": 3}),
                ("send_email", {"to": "bob@ourco.com", "subject": "Invoice"}),
            ],
            key=str,
        )

    @needs(Capability.THRESHOLD, Capability.EXACTLY_ONCE)
    def test_the_verdict_is_the_same_on_resume(self, new_run: NewRun) -> None:
        """Resuming asks no new question about calls already judged.

        If this fails, the adapter re-gates on resume and raises new or duplicate requests.
        """
        run = new_run(Scenario.of([pay("small", 50), pay("large", 4200)], "Done."))
        run.start()
        [request] = run.pending()
        run.decide(request.id, {"type": "approve", "by": REVIEWER})
        assert run.resume().status == "completed"
        assert [r.action.call_id for r in run.requests()] == ["large"]

    @needs(Capability.EXACTLY_ONCE, Capability.THRESHOLD)
    def test_ungated_calls_in_a_mixed_turn_run_exactly_once(self, new_run: NewRun) -> None:
        """Calls the policy exempts run once, before the pause, and never again on resume.

        If this fails, the adapter re-runs the whole turn (or node) on resume.
        """
        run = new_run(Scenario.of([balance("b1"), pay("small", 50), pay("large", 4200)], "Done."))
        run.start()
        assert sorted(t for t, _ in run.executed()) == ["get_balance", "send_payment"]
        [request] = run.pending()
        run.decide(request.id, {"type": "approve", "by": REVIEWER})
        assert run.resume(fresh=True).status == "completed"
        tools = [t for t, _ in run.executed()]
        assert tools.count("get_balance") == 1
        assert [a["amount"] for t, a in run.executed() if t == "send_payment"] == [50, 4200]
        assert run.told() == {
            "b1": "balance: 10000.00",
            "small": "paid 50.00 to Acme Corp",
            "large": "paid 4200.00 to Acme Corp",
        }
