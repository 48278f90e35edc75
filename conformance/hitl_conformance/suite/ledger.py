"""The life of a call under faults: concurrent resumes, crashes, lost leases, tampering.

Each test injects one fault a production system meets (two workers, a SIGKILL between a
payment and its record, a stopped process, an edited row, a relaxed policy) and counts
what ran from the journal the recording tools fsync before they return.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from hitl_conformance.capabilities import Capability
from hitl_conformance.driver import ResumeError, RunOutcome, TamperingDriver
from hitl_conformance.harness import Harness, export, pay, transfer, unknown
from hitl_conformance.journal import Faults
from hitl_conformance.markers import needs
from hitl_conformance.scenario import Scenario, fail
from hitl_conformance.suite.fixtures import NewRun
from hitl_core import (
    AuditKind,
    CallRefused,
    CallStatus,
    Decision,
    HITLError,
    Policy,
    RequestStatus,
    RunStatus,
    verify_store,
)
from hitl_core.outcomes import rejection_text

REVIEWER = "ana@example.com"
SHORT_LEASE = 1.0
"""Seconds: the lease of runs whose holder is made to vanish, so the test waits little."""


def _approved(
    new_run: NewRun, scenario: Scenario, lease_seconds: float = 60.0
) -> tuple[Harness, str]:
    """A run paused on its one gated call, approved; and the request id."""
    run = new_run(scenario, lease_seconds=lease_seconds)
    run.start()
    [request] = run.pending()
    run.decide(request.id, Decision.approve(by=REVIEWER))
    return run, request.id


def _wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class LedgerTests:
    @needs(Capability.LEASED, Capability.PERSIST, Capability.APPROVE)
    def test_two_processes_resuming_one_run_execute_it_once(self, new_run: NewRun) -> None:
        """Two processes resume the same approved run at once: one runs it, one is refused.

        If this fails, check that every resume holds the run's lease (`RunPass`), so the
        second gets `RunBusy` instead of running the call too.
        """
        run, request_id = _approved(new_run, Scenario.of(pay("c1", 4200), "Paid."))
        run.journal.set_faults(Faults(delay_before_effect=0.5))  # the first is still at it
        results = run.resume_together(2)
        outcomes = [r for r in results if isinstance(r, RunOutcome)]
        refused = [r.error for r in results if isinstance(r, ResumeError)]
        assert [o.status for o in outcomes] == ["completed"]
        assert refused == ["RunBusy"]
        assert run.executed() == [("send_payment", {"amount": 4200, "recipient": "Acme Corp"})]
        assert run.request(request_id).status is RequestStatus.RESUMED
        assert verify_store(run.store, run_id=run.run_id).ok

    @needs(Capability.CRASH_SAFE, Capability.PERSIST, Capability.APPROVE)
    def test_a_crash_after_the_effect_leaves_an_unknown_outcome(self, new_run: NewRun) -> None:
        """Killed between a payment and its record, the run asks a person; it never re-pays.

        If this fails, check that the adapter runs calls only through `CallLedger.run`
        (claimed before the tool runs), so the next pass finds the claim unsettled.
        """
        run, _ = _approved(
            new_run, Scenario.of(pay("c1", 4200), "Paid."), lease_seconds=SHORT_LEASE
        )
        run.journal.set_faults(Faults(crash_after_effect=True))
        assert run.resume_killed() == -signal.SIGKILL
        paid = [("send_payment", {"amount": 4200, "recipient": "Acme Corp"})]
        assert run.executed() == paid
        time.sleep(SHORT_LEASE + 0.2)  # the dead process's lease runs out
        paused = run.resume(fresh=True)
        assert paused.status == "paused"
        [recovery] = run.pending()
        assert paused.pending == [recovery.id]
        assert (recovery.kind, set(recovery.allowed)) == (
            "recovery",
            {"approve", "respond", "reject"},
        )
        assert recovery.action.call_id == "c1"
        assert run.executed() == paid  # nothing was paid again
        assert run.store.calls(run.run_id)["c1"].status is CallStatus.UNKNOWN
        run.decide(recovery.id, Decision.respond("The bank confirms ref 7.", by=REVIEWER))
        assert run.resume(fresh=True).status == "completed"
        assert run.executed() == paid
        assert run.told()["c1"] == "The bank confirms ref 7."
        kinds = [e.kind for e in run.audit()]
        assert kinds.count(AuditKind.OUTCOME_UNKNOWN) == 1
        assert verify_store(run.store, run_id=run.run_id).ok

    @needs(Capability.FENCED, Capability.PERSIST, Capability.APPROVE)
    def test_a_pass_that_lost_its_lease_mid_tool_writes_nothing(self, new_run: NewRun) -> None:
        """A process stopped inside a long tool loses the run to another; the call runs once.

        If this fails, check that claims and saves carry the lease's fencing token, and
        that the second pass treats the first one's unsettled claim as an unknown outcome.
        """
        run, _ = _approved(
            new_run, Scenario.of(pay("c1", 4200), "Paid."), lease_seconds=SHORT_LEASE
        )
        run.journal.set_faults(Faults(delay_before_effect=1.0))
        stalled = run.spawn()
        try:
            _wait_for(run.journal.in_tool, "the first process to enter the tool")
            os.kill(stalled.pid, signal.SIGSTOP)
            time.sleep(SHORT_LEASE + 0.3)  # its lease runs out while it cannot renew it
            run.journal.set_faults(None)
            second = run.resume(fresh=True)
        finally:
            os.kill(stalled.pid, signal.SIGCONT)
        first = run.finish(stalled)
        assert isinstance(first, ResumeError)
        assert first.error == "LeaseLost"
        assert second.status == "paused"
        [recovery] = run.pending()
        assert recovery.kind == "recovery"
        assert run.executed() == [("send_payment", {"amount": 4200, "recipient": "Acme Corp"})]
        assert run.store.calls(run.run_id)["c1"].status is CallStatus.UNKNOWN
        assert run.store.load_run(run.run_id).status is RunStatus.PAUSED
        run.decide(recovery.id, Decision.respond("Paid once, ref 9.", by=REVIEWER))
        assert run.resume().status == "completed"
        assert len(run.executed()) == 1

    @needs(Capability.FENCED, Capability.PERSIST, Capability.APPROVE)
    def test_a_long_tool_keeps_its_run_leased(self, new_run: NewRun) -> None:
        """A tool that runs longer than the lease keeps it renewed: a second resume is busy.

        If this fails, check that the adapter's pass renews its lease while tools run
        (`RunPass` does, every third of its length).
        """
        run, _ = _approved(
            new_run, Scenario.of(pay("c1", 4200), "Paid."), lease_seconds=SHORT_LEASE
        )
        go = run.directory / "go-second"
        waiting = run.spawn(go=go)  # built now, resumes when told: no import time in the race
        _wait_for(lambda: run.ready(go), "the second process to build its driver")
        run.journal.set_faults(Faults(delay_before_effect=3 * SHORT_LEASE))
        first = run.spawn()
        _wait_for(run.journal.in_tool, "the first process to enter the tool")
        time.sleep(1.5 * SHORT_LEASE)  # past the lease it took, had it not renewed it
        go.touch()
        second = run.finish(waiting)
        done = run.finish(first)
        assert isinstance(second, ResumeError)
        assert second.error == "RunBusy"
        assert isinstance(done, RunOutcome)
        assert done.status == "completed"
        assert run.executed() == [("send_payment", {"amount": 4200, "recipient": "Acme Corp"})]

    @needs(Capability.REVIEWED_ONLY, Capability.APPROVE)
    def test_a_request_whose_arguments_were_rewritten_runs_nothing(self, new_run: NewRun) -> None:
        """999,999 written into an approved 4,200 request: the run refuses, nothing is paid.

        If this fails, check that the ledger's binding check (`calls.binding`) sees the
        call the run makes and the request as stored.
        """
        run, request_id = _approved(new_run, Scenario.of(pay("c1", 4200), "Paid."))
        run.rewrite_request(run.request(request_id), args={"amount": 999999, "recipient": "X"})
        with pytest.raises(CallRefused):
            run.resume()
        assert run.executed() == []
        assert run.request(request_id).status is RequestStatus.DECIDED
        assert run.store.load_run(run.run_id).status is RunStatus.FAILED
        assert [e.kind for e in run.audit()][-2:] == [AuditKind.REFUSED, AuditKind.FAILED]

    @needs(Capability.REVIEWED_ONLY, Capability.APPROVE)
    def test_a_snapshot_whose_call_was_rewritten_runs_nothing(self, new_run: NewRun) -> None:
        """The stored run now calls delete_rows where send_payment was approved: refused.

        If this fails, check that the call the adapter hands the ledger is the one its
        snapshot makes (not the request's), and that the driver's `rewrite_call` changes
        what the framework will run.
        """
        run, request_id = _approved(new_run, Scenario.of(pay("c1", 4200), "Done."))
        assert isinstance(run.driver, TamperingDriver), "declares reviewed_only, no rewrite_call"
        run.driver.rewrite_call(
            run.run_id, "c1", tool="delete_rows", args={"table": "orders", "count": 4200}
        )
        with pytest.raises(CallRefused):
            run.resume()
        assert run.executed() == []
        assert run.request(request_id).status is RequestStatus.DECIDED
        assert [e.kind for e in run.audit()][-2:] == [AuditKind.REFUSED, AuditKind.FAILED]

    @needs(Capability.DECISION_STANDS, Capability.PERSIST, Capability.REJECT)
    def test_a_rejection_stands_when_the_policy_is_relaxed(self, new_run: NewRun) -> None:
        """Reject, then resume under a policy that gates nothing: the payment is not made.

        If this fails, the adapter asks the policy before it looks for the stored decision.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Not paid."))
        run.start()
        [request] = run.pending()
        run.decide(request.id, Decision.reject("vendor under review", by=REVIEWER))
        assert run.resume(fresh=True, policy=Policy.allow_all()).status == "completed"
        assert run.executed() == []
        assert run.told() == {"c1": rejection_text("send_payment", "vendor under review")}

    @needs(Capability.DECISION_STANDS, Capability.PERSIST, Capability.EDIT)
    def test_an_edit_stands_when_the_policy_is_relaxed(self, new_run: NewRun) -> None:
        """Edit 4,200 to 4,000, then relax the policy: 4,000 is paid, not 4,200.

        If this fails, the adapter re-evaluates the policy before applying the stored edit.
        """
        run = new_run(Scenario.of(pay("c1", 4200), "Paid."))
        run.start()
        [request] = run.pending()
        edited = {"amount": 4000, "recipient": "Acme Corp"}
        run.decide(request.id, Decision.edit(edited, by=REVIEWER))
        assert run.resume(fresh=True, policy=Policy.allow_all()).status == "completed"
        assert run.executed() == [("send_payment", edited)]

    @needs(Capability.AUTHOR_GATES, Capability.APPROVE)
    def test_a_tools_own_approval_flag_is_kept(self, new_run: NewRun) -> None:
        """The standard policy does not gate transfer_funds, but its author did: it pauses.

        If this fails, check that the adapter passes the tool's own flag to the ledger
        (`GatedCall.required_by`) instead of replacing it with the policy.
        """
        run = new_run(Scenario.of(transfer("t1", 10), "Moved."))
        outcome = run.start()
        assert outcome.status == "paused"
        [request] = run.pending()
        assert (request.action.tool, request.action.call_id) == ("transfer_funds", "t1")
        assert run.executed() == []
        run.decide(request.id, Decision.approve(by=REVIEWER))
        assert run.resume().status == "completed"
        assert run.executed() == [("transfer_funds", {"amount": 10, "account": "savings"})]

    @needs(Capability.TOOL_FAILURE, Capability.PERSIST)
    def test_a_tool_failure_is_recorded_once(self, new_run: NewRun) -> None:
        """A tool that raises after its effect runs once, whatever the framework does next.

        The framework either tells the model (in its own words: some hide the exception
        from the model) or fails the run; a failed run, retried, is answered from the
        ledger and the tool is not run again.

        If this fails, check that a tool's exception is recorded by `CallLedger.run`
        before the framework sees it.
        """
        run = new_run(Scenario.of(export("x1"), "Reported."))
        try:
            run.start()
        except Exception:
            assert run.store.load_run(run.run_id).status is RunStatus.FAILED
            run.store.retry_run(run.run_id, by=REVIEWER)
            run.resume(fresh=True)
        assert run.executed() == [("export_report", {"name": "q3"})]
        line = run.store.calls(run.run_id)["x1"]
        assert line.status is CallStatus.EXECUTED
        assert run.told()["x1"] == line.output  # the model reads what the ledger recorded
        assert run.store.load_run(run.run_id).status is RunStatus.COMPLETED

    @needs(Capability.RUN_FAILURE, Capability.THRESHOLD)
    def test_a_pass_that_raises_leaves_the_run_failed(self, new_run: NewRun) -> None:
        """The model's provider fails after a payment ran: the run ends failed, with why.

        Retried, the run does not pay again (the ledger answers the call), and fails again.

        If this fails, check that the adapter's start and resume run inside a `RunPass`,
        which marks the run failed when its pass raises.
        """
        run = new_run(Scenario.of(pay("c1", 50), fail("the model provider is down")))
        with pytest.raises(Exception, match="the model provider is down"):
            run.start()
        record = run.store.load_run(run.run_id)
        assert record.status is RunStatus.FAILED
        assert record.error is not None
        assert "the model provider is down" in record.error
        assert [e.kind for e in run.audit()][-1] is AuditKind.FAILED
        run.store.retry_run(run.run_id, by=REVIEWER)
        with pytest.raises(Exception, match="the model provider is down"):
            run.resume()
        assert run.executed() == [("send_payment", {"amount": 50, "recipient": "Acme Corp"})]
        assert run.store.load_run(run.run_id).status is RunStatus.FAILED

    @needs(Capability.UNKNOWN_TOOL)
    def test_a_call_to_an_unknown_tool_runs_nothing_and_asks_nobody(self, new_run: NewRun) -> None:
        """The model calls a tool that does not exist: nothing runs, nobody is asked.

        The framework either tells the model or fails the run; neither claims the call.

        If this fails, check that the adapter hands the ledger the call's problem
        (`GatedCall.problem`) instead of asking the policy about it.
        """
        run = new_run(Scenario.of(unknown("u1"), "Done."))
        try:
            outcome = run.start()
        except HITLError:
            assert run.store.load_run(run.run_id).status is RunStatus.FAILED
        else:
            assert outcome.status == "completed"
            assert "launch_rockets" in run.told()["u1"]
        assert run.requests() == []
        assert run.executed() == []
        assert run.store.calls(run.run_id) == {}
