"""Deliberately broken `hitl_loop` drivers, each with exactly one realistic fault.

They exist to prove that the conformance suite can fail: `test_broken_adapters` runs the
whole suite against each factory below and checks which standard tests catch the fault.
Each fault is a small override of a `ToolLoop` method or two (or, for `omits_persist`, of
the declared capabilities), so reading it tells you what an adapter author got wrong.

The factories are module-level functions because the suite resumes some runs in a fresh
interpreter (``python -m hitl_conformance.child tests.conformance.broken_adapters:FACTORY``),
which imports the factory by name from the project root.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from hitl_conformance import AdapterDriver, Capability, DriverConfig
from hitl_core import ApprovalRequest, ApprovalStore, Decision
from hitl_core.decisions import DecisionInput, Reject
from hitl_core.outcomes import RunTool
from hitl_core.policy import Verdict
from hitl_core.stores import ExecutionRecord
from hitl_loop.conformance import LoopDriver
from hitl_loop.loop import ToolLoop
from hitl_loop.messages import ToolCall
from hitl_loop.state import LoopState, ToolResult

__all__ = [
    "edit_without_notice",
    "gates_every_call",
    "loses_feedback_across_processes",
    "omits_persist",
    "reruns_ungated_calls_on_resume",
    "runs_proposed_args_on_edit",
    "runs_tool_on_reject",
]


# -- the faults -------------------------------------------------------------------------


class _RunsToolOnReject(ToolLoop):
    """Fault: a rejection is applied as an approval, so the rejected call runs."""

    def _apply(
        self,
        request: ApprovalRequest,
        call: ToolCall,
        state: LoopState,
        executions: dict[str, ExecutionRecord],
        new: list[ApprovalRequest],
    ) -> ToolResult | None:
        decision = request.decision
        if isinstance(decision, Reject):  # the fault: "decided" is read as "go ahead"
            approved = Decision.approve(by=decision.by)
            request = request.model_copy(update={"decision": approved})
        return super()._apply(request, call, state, executions, new)


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

    def decide(self, request_id: str, decision: DecisionInput) -> ApprovalRequest:
        decided = self._store.decide(request_id, decision)
        _FEEDBACK[request_id] = decided.decision.feedback if decided.decision else None
        return decided


class _FeedbackFromMemory(ToolLoop):
    """Fault: rejection feedback is read from process memory, not from the stored decision.

    Resumed in the process that recorded the decision, the model gets the reviewer's
    words; resumed anywhere else, it gets the generic rejection text.
    """

    def _apply(
        self,
        request: ApprovalRequest,
        call: ToolCall,
        state: LoopState,
        executions: dict[str, ExecutionRecord],
        new: list[ApprovalRequest],
    ) -> ToolResult | None:
        decision = request.decision
        if isinstance(decision, Reject):  # the fault: memory is trusted over the store
            remembered = decision.model_copy(update={"feedback": _FEEDBACK.get(request.id)})
            request = request.model_copy(update={"decision": remembered})
        return super()._apply(request, call, state, executions, new)


class _ReplaysPausedTurn(ToolLoop):
    """Fault: no exactly-once: resume replays the paused turn and ignores execution records.

    Both halves are needed to make a call run twice: the real loop keeps the turn's
    results in its snapshot and also checks the store's execution records, and either
    alone stops a re-run. A framework that re-runs the node on resume behaves like this.
    """

    def _load(self, run_id: str) -> tuple[LoopState, int]:
        # Both `resume` and `stream_resume` reload through here.
        state, version = super()._load(run_id)
        state.results = {}  # the turn starts over; gated calls still find their requests
        return state, version

    def _execute(
        self,
        call: ToolCall,
        args: dict[str, Any],
        review: RunTool | None,
        state: LoopState,
        executions: dict[str, ExecutionRecord],
        request_id: str | None = None,
    ) -> ToolResult:
        return super()._execute(call, args, review, state, {}, request_id)


class _GatesEveryCall(ToolLoop):
    """Fault: the policy's threshold is ignored; every call waits for a human."""

    def _gate(self, call: ToolCall, state: LoopState) -> Verdict:
        return dataclasses.replace(super()._gate(call, state), required=True)


class _RunsProposedArgsOnEdit(ToolLoop):
    """Fault: an edit runs the model's proposed arguments, not the reviewer's replacement.

    The model is still told (wrongly) that the edited arguments ran.
    """

    def _execute(
        self,
        call: ToolCall,
        args: dict[str, Any],
        review: RunTool | None,
        state: LoopState,
        executions: dict[str, ExecutionRecord],
        request_id: str | None = None,
    ) -> ToolResult:
        return super()._execute(call, call.args, review, state, executions, request_id)


class _EditWithoutNotice(ToolLoop):
    """Fault: an edit runs the right arguments but the model is never told it was edited.

    The one fault here that breaks only a MAY capability (edit), so its level is BASE.
    """

    def _execute(
        self,
        call: ToolCall,
        args: dict[str, Any],
        review: RunTool | None,
        state: LoopState,
        executions: dict[str, ExecutionRecord],
        request_id: str | None = None,
    ) -> ToolResult:
        return super()._execute(call, args, None, state, executions, request_id)


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


def omits_persist(config: DriverConfig) -> AdapterDriver:
    """Works like the reference adapter but does not declare `persist`."""
    return _NoPersistDriver(config)
