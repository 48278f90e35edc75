"""Deliberately broken `hitl_loop` drivers, each with exactly one realistic fault.

They exist to prove that the conformance suite can fail: `test_broken_adapters` runs the
whole suite against each factory below and checks which standard tests catch the fault.
The core's `CallLedger` decides what happens to every call, so each fault is an adapter
that misreads or bypasses what the ledger said: a small override of the loop's `_step`
(the one question it asks the ledger), `_gated` (how it describes a call) or `_work_on`
(what it does with the answer). Reading one tells you what an adapter author got wrong.

The factories are module-level functions because the suite resumes some runs in a fresh
interpreter (``python -m hitl_conformance.child tests.conformance.broken_adapters:FACTORY``),
which imports the factory by name from the project root.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

from hitl_conformance import AdapterDriver, Capability, DriverConfig
from hitl_core import ApprovalRequest, ApprovalStore, UnknownRequest
from hitl_core.calls import Answer, CallLedger, Executed, GatedCall, Run, RunPass, Step
from hitl_core.decisions import DecisionInput, Reject
from hitl_core.identity import request_id
from hitl_core.outcomes import rejection_text
from hitl_loop.conformance import LoopDriver
from hitl_loop.loop import ToolLoop, Waiting
from hitl_loop.messages import ToolCall
from hitl_loop.state import LoopState, ToolResult

__all__ = [
    "asks_about_unknown_tools",
    "asks_the_policy_first",
    "borrows_the_lease",
    "drops_the_authors_flag",
    "edit_without_notice",
    "gates_every_call",
    "leaves_failed_runs_running",
    "loses_feedback_across_processes",
    "omits_persist",
    "records_after_running",
    "renews_nothing",
    "reruns_ungated_calls_on_resume",
    "retries_failed_tools",
    "runs_its_own_call",
    "runs_proposed_args_on_edit",
    "runs_tool_on_reject",
]


# -- the faults -------------------------------------------------------------------------


def _decision_of(loop: ToolLoop, state: LoopState, call: ToolCall) -> Any:
    """The decision stored for `call`, if a person was asked about it."""
    try:
        return loop.store.get(request_id(state.run_id, call.id)).decision
    except UnknownRequest:
        return None


class _RunsToolOnReject(ToolLoop):
    """Fault: a rejection is applied as an approval, so the rejected call runs."""

    def _step(self, call: ToolCall, state: LoopState, ledger: CallLedger) -> Step:
        step = super()._step(call, state, ledger)
        if isinstance(step, Answer) and isinstance(_decision_of(self, state, call), Reject):
            return Run(self._gated(call, state), dict(call.args))  # "decided" read as "go"
        return step


_FEEDBACK: dict[str, str | None] = {}
"""Feedback by request id, noted by `_FeedbackNotingStore` in this process only."""


class _FeedbackNotingStore:
    """The real store, except that `decide` also notes the decision's feedback in memory.

    Everything else is delegated, so the decision itself is stored as usual: only the
    loop's reading of the feedback (`_FeedbackFromMemory`) is broken.
    """

    def __init__(self, store: ApprovalStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def decide(
        self, request_id: str, decision: DecisionInput, *, roles: Any = ()
    ) -> ApprovalRequest:
        decided = self._store.decide(request_id, decision, roles=roles)
        _FEEDBACK[request_id] = decided.decision.feedback if decided.decision else None
        return decided


class _FeedbackFromMemory(ToolLoop):
    """Fault: rejection feedback is read from process memory, not from the stored decision.

    Resumed in the process that recorded the decision, the model gets the reviewer's
    words; resumed anywhere else, it gets the generic rejection text.
    """

    def _step(self, call: ToolCall, state: LoopState, ledger: CallLedger) -> Step:
        step = super()._step(call, state, ledger)
        if isinstance(step, Answer) and isinstance(_decision_of(self, state, call), Reject):
            remembered = _FEEDBACK.get(request_id(state.run_id, call.id))
            return Answer(rejection_text(call.name, remembered), is_error=True)
        return step


class _ReplaysPausedTurn(ToolLoop):
    """Fault: no exactly-once: resume replays the paused turn, running ungated calls itself.

    Both halves are needed to make a call run twice: the real loop keeps the turn's
    results in its snapshot, and the ledger answers a recorded call from its record. An
    adapter that re-runs the turn and calls tools outside the ledger behaves like this.
    """

    def _stream(self, state: LoopState, run: Any) -> Any:
        if state.turn and run.version > 1:  # a resume: the turn starts over
            state.results = {}
        return super()._stream(state, run)

    def _work_on(
        self, call: ToolCall, state: LoopState, ledger: CallLedger, waiting: Waiting
    ) -> None:
        if call.name in self.tools and _decision_of(self, state, call) is None:
            if self.policy.check(call.name, call.args, state.context).required:
                return super()._work_on(call, state, ledger, waiting)
            output = self.tools[call.name].invoke(call.args)  # the fault: not through the ledger
            state.results[call.id] = ToolResult(content=output)
            return None
        return super()._work_on(call, state, ledger, waiting)


class _GatesEveryCall(ToolLoop):
    """Fault: the policy's threshold is ignored; every call waits for a human."""

    def _gated(self, call: ToolCall, state: LoopState) -> GatedCall:
        return dataclasses.replace(super()._gated(call, state), required_by="every call")


class _RunsProposedArgsOnEdit(ToolLoop):
    """Fault: an edit is handed to the ledger with the model's proposed arguments.

    The ledger refuses it (what would run is not what was reviewed), so nothing runs and
    the run fails instead of completing.
    """

    def _step(self, call: ToolCall, state: LoopState, ledger: CallLedger) -> Step:
        step = super()._step(call, state, ledger)
        if isinstance(step, Run) and step.review is not None and step.review.edited:
            return dataclasses.replace(step, args=dict(call.args))
        return step


class _EditWithoutNotice(ToolLoop):
    """Fault: an edit runs the right arguments but the model is never told it was edited.

    The one fault here that breaks only a MAY capability (edit), so its level is BASE.
    """

    def _step(self, call: ToolCall, state: LoopState, ledger: CallLedger) -> Step:
        step = super()._step(call, state, ledger)
        if isinstance(step, Run) and step.review is not None:
            return dataclasses.replace(step, review=None)
        return step


class _BorrowsTheLease(ToolLoop):
    """Fault (leased): a resume that uses whatever lease the run holds instead of its own.

    Two resumes at once then both work on the run: neither is told it is busy.
    """

    def _pass(self, run_id: str, **options: Any) -> RunPass:
        current = self.store.lease_of(run_id)
        if options.get("lease") is None and current is not None:
            options["lease"] = current
        return super()._pass(run_id, **options)


class _RecordsAfterRunning(ToolLoop):
    """Fault (crash_safe): tools run first and are recorded afterwards, with no claim.

    A crash between the effect and the record, or a second holder after a lost lease,
    finds nothing claimed and runs the call again.
    """

    def _work_on(
        self, call: ToolCall, state: LoopState, ledger: CallLedger, waiting: Waiting
    ) -> None:
        if call.name in self.tools and call.id not in state.children:
            step = self._step(call, state, ledger)
            if isinstance(step, Run):
                output = self._invoker(call.name)(step.args).output  # the effect, unclaimed
                ran = ledger.finish_composite(step, output, self.store)  # ...recorded after
                state.waiting.pop(call.id, None)
                state.results[call.id] = ToolResult(content=ran.content, is_error=ran.is_error)
                return None
        return super()._work_on(call, state, ledger, waiting)


class _RenewsNothing(ToolLoop):
    """Fault (fenced): a pass that never renews its lease, so a long tool loses the run."""

    def _pass(self, run_id: str, **options: Any) -> RunPass:
        return _UnrenewedPass(super()._pass(run_id, **options))


class _UnrenewedPass(RunPass):
    def __init__(self, original: RunPass) -> None:
        self.__dict__.update(original.__dict__)

    def __enter__(self) -> RunPass:
        super().__enter__()
        if self._keeper is not None:
            self._keeper.stop()  # the fault: the lease is never renewed
        return self


class _RunsItsOwnCall(ToolLoop):
    """Fault (reviewed_only): the stored request is checked, but the snapshot's own call runs.

    Rewrite the call in the snapshot and the approval of another call runs it.
    """

    def _work_on(
        self, call: ToolCall, state: LoopState, ledger: CallLedger, waiting: Waiting
    ) -> None:
        try:
            request = self.store.get(request_id(state.run_id, call.id))
        except UnknownRequest:
            return super()._work_on(call, state, ledger, waiting)
        trusted = ToolCall(id=call.id, name=request.action.tool, args=request.action.args)
        step = self._step(trusted, state, ledger)
        if isinstance(step, Run) and call.name in self.tools:
            output = self.tools[call.name].invoke(call.args)  # the snapshot's call, unchecked
            state.waiting.pop(call.id, None)
            state.results[call.id] = ToolResult(content=output)
            return None
        return super()._work_on(call, state, ledger, waiting)


class _AsksThePolicyFirst(ToolLoop):
    """Fault (decision_stands): the policy is asked before the stored decision is looked up.

    Relax the policy after a rejection and the rejected call runs.
    """

    def _step(self, call: ToolCall, state: LoopState, ledger: CallLedger) -> Step:
        gated = self._gated(call, state)
        if gated.problem is None and not ledger.verdict(gated).required:
            return Run(gated, dict(call.args))
        return super()._step(call, state, ledger)


class _DropsTheAuthorsFlag(ToolLoop):
    """Fault (author_gates): a tool's own ``requires_approval`` is replaced by the policy."""

    def _gated(self, call: ToolCall, state: LoopState) -> GatedCall:
        gated = super()._gated(call, state)
        if call.id not in state.forced:
            gated = dataclasses.replace(gated, required_by=None)
        return gated


class _RetriesFailedTools(ToolLoop):
    """Fault (tool_failure): a tool that raises is taken as not done, to run again later."""

    def _invoker(self, name: str) -> Callable[[dict[str, Any]], Executed]:
        tool = self.tools[name]

        def invoke(args: dict[str, Any]) -> Executed:
            try:
                return Executed(tool.invoke(args))
            except Exception:
                return Executed("", suspended=True)

        return invoke


class _LeavesFailedRunsRunning(ToolLoop):
    """Fault (run_failure): a pass that raises leaves the run as it was (running)."""

    def _pass(self, run_id: str, **options: Any) -> RunPass:
        return _UnfailingPass(super()._pass(run_id, **options))


class _UnfailingPass(RunPass):
    def __init__(self, original: RunPass) -> None:
        self.__dict__.update(original.__dict__)

    def fail(self, error: BaseException) -> None:
        """The fault: the failure is not recorded."""


class _AsksAboutUnknownTools(ToolLoop):
    """Fault (unknown_tool): a call to an unknown tool goes to the policy and is "run"."""

    def _gated(self, call: ToolCall, state: LoopState) -> GatedCall:
        gated = super()._gated(call, state)
        if call.name not in self.tools and call.name not in self.agents:
            gated = dataclasses.replace(gated, problem=None)
        return gated

    def _invoker(self, name: str) -> Callable[[dict[str, Any]], Executed]:
        if name in self.tools:
            return super()._invoker(name)
        return lambda args: Executed(f"no tool {name}", is_error=True)


class _NoPersistDriver(LoopDriver):
    """Not a bug but a gap: an honest adapter that does not claim the MUST `persist`."""

    capabilities: ClassVar[frozenset[Capability]] = LoopDriver.capabilities - {Capability.PERSIST}


# -- the drivers ------------------------------------------------------------------------


class _BrokenLoopDriver(LoopDriver):
    """The reference driver, with every loop it built (agent and sub-agents) made faulty.

    Re-classing the loops it built, rather than building them again, keeps this in step
    with however `LoopDriver` wires its agents, and puts the fault everywhere a real
    adapter's fault would be.
    """

    def __init__(
        self, config: DriverConfig, faulty: type[ToolLoop], *, note_feedback: bool = False
    ) -> None:
        super().__init__(config)
        _make_faulty(self.loop, faulty)
        if note_feedback:  # the harness decides through `driver.store`
            self.store = _FeedbackNotingStore(self.store)


def _make_faulty(loop: ToolLoop, faulty: type[ToolLoop]) -> None:
    """Turn `loop` and its sub-agents' loops into `faulty` (a method-only subclass)."""
    loop.__class__ = faulty
    for agent in loop.agents.values():
        _make_faulty(agent.loop, faulty)


def runs_tool_on_reject(config: DriverConfig) -> AdapterDriver:
    """Executes the tool on reject (treats a rejection as an approval)."""
    return _BrokenLoopDriver(config, _RunsToolOnReject)


def loses_feedback_across_processes(config: DriverConfig) -> AdapterDriver:
    """Gives the model the generic rejection text when resumed in another process."""
    return _BrokenLoopDriver(config, _FeedbackFromMemory, note_feedback=True)


def reruns_ungated_calls_on_resume(config: DriverConfig) -> AdapterDriver:
    """Runs the paused turn's ungated calls again on resume (no exactly-once)."""
    return _BrokenLoopDriver(config, _ReplaysPausedTurn)


def gates_every_call(config: DriverConfig) -> AdapterDriver:
    """Ignores the threshold: even a 50.00 payment waits for a human."""
    return _BrokenLoopDriver(config, _GatesEveryCall)


def runs_proposed_args_on_edit(config: DriverConfig) -> AdapterDriver:
    """Executes the original arguments on edit."""
    return _BrokenLoopDriver(config, _RunsProposedArgsOnEdit)


def edit_without_notice(config: DriverConfig) -> AdapterDriver:
    """Runs an edit correctly but drops the edit notice from the model's result."""
    return _BrokenLoopDriver(config, _EditWithoutNotice)


def borrows_the_lease(config: DriverConfig) -> AdapterDriver:
    """Resumes under whatever lease the run holds, never getting `RunBusy`."""
    return _BrokenLoopDriver(config, _BorrowsTheLease)


def records_after_running(config: DriverConfig) -> AdapterDriver:
    """Runs tools before anything is claimed, and records them afterwards."""
    return _BrokenLoopDriver(config, _RecordsAfterRunning)


def renews_nothing(config: DriverConfig) -> AdapterDriver:
    """Never renews its lease while a tool runs."""
    return _BrokenLoopDriver(config, _RenewsNothing)


def runs_its_own_call(config: DriverConfig) -> AdapterDriver:
    """Checks the stored request, then runs the call its snapshot holds."""
    return _BrokenLoopDriver(config, _RunsItsOwnCall)


def asks_the_policy_first(config: DriverConfig) -> AdapterDriver:
    """Asks the policy before looking for a stored decision."""
    return _BrokenLoopDriver(config, _AsksThePolicyFirst)


def drops_the_authors_flag(config: DriverConfig) -> AdapterDriver:
    """Replaces a tool's own approval flag with the policy."""
    return _BrokenLoopDriver(config, _DropsTheAuthorsFlag)


def retries_failed_tools(config: DriverConfig) -> AdapterDriver:
    """Takes a tool that raised as not done yet."""
    return _BrokenLoopDriver(config, _RetriesFailedTools)


def leaves_failed_runs_running(config: DriverConfig) -> AdapterDriver:
    """Does not mark a run failed when its pass raises."""
    return _BrokenLoopDriver(config, _LeavesFailedRunsRunning)


def asks_about_unknown_tools(config: DriverConfig) -> AdapterDriver:
    """Sends calls to unknown tools through the policy and "runs" them."""
    return _BrokenLoopDriver(config, _AsksAboutUnknownTools)


def omits_persist(config: DriverConfig) -> AdapterDriver:
    """Works like the reference adapter but does not declare `persist`."""
    return _NoPersistDriver(config)
