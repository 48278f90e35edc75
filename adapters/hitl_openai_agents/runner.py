"""`ApprovalRunner`: an Agents SDK agent whose consequential calls wait for a human.

The four moves, each in a named place: the gate is `ApprovalGate` (``needs_approval``
on every function tool, in `gate`); suspend + persist is `persist.suspend` (the SDK's
``RunState`` saved with one `ApprovalRequest` per ``ToolApprovalItem`` in one store
transaction); decide is the store's (or `ApprovalRunner.decide`, which checks the call id
against the stored state); resume is `ApprovalRunner.aresume` (reload the stored state,
`apply.apply_decisions`, ``Runner.run`` on).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any, TypeVar
from uuid import uuid4

from agents import (
    Agent,
    AgentsException,
    MaxTurnsExceeded,
    RunConfig,
    RunContextWrapper,
    Runner,
    RunResult,
    RunResultStreaming,
    RunState,
    StreamEvent,
    ToolApprovalItem,
    TResponseInputItem,
)
from agents.run import DEFAULT_MAX_TURNS
from agents.run_config import ToolExecutionConfig

from hitl_core.decisions import DecisionInput
from hitl_core.errors import HITLError, InvalidRunState, RunExists, UnknownRun
from hitl_core.identity import request_id
from hitl_core.policy import Policy
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import ApprovalStore, RunRecord, RunStatus, open_store
from hitl_openai_agents import persist
from hitl_openai_agents.apply import apply_decisions
from hitl_openai_agents.errors import (
    AgentRunFailed,
    CallNotPending,
    SyncCallInEventLoop,
    TurnLimitReached,
)
from hitl_openai_agents.gate import ApprovalGate, json_object
from hitl_openai_agents.outcomes import AgentsEvent, Completed, Outcome, Paused
from hitl_openai_agents.persist import ADAPTER
from hitl_openai_agents.scope import RunScope, active_scope, call_in_scope
from hitl_openai_agents.snapshot import AgentState, call_id_of, read_state, write_state
from hitl_openai_agents.stores import AsyncApprovalStore, view_of

__all__ = ["ADAPTER", "ApprovalRunner"]

T = TypeVar("T")
Input = str | list[TResponseInputItem]
Result = RunResult | RunResultStreaming


class ApprovalRunner:
    """Runs `agent` so that the calls `policy` gates pause for a human, durably.

    Args:
        agent: the root agent. Its graph (agents used as tools, handed-off-to agents) is
            gated in place by `ApprovalGate.wrap`.
        policy: decides which calls need a human.
        store: a sync `ApprovalStore`, an `AsyncPostgresStore`, or a store URL.
        ask_human: give every agent the ``ask_human`` tool, answered by a respond.
        run_config: passed to every ``Runner.run``. Unless it sets ``tool_execution``, the
            calls of a turn run one at a time in the model's order, so side effects and the
            audit trail have one order whatever the process.
        max_turns: model turns allowed per pass.
    """

    def __init__(
        self,
        agent: Agent[Any],
        *,
        policy: Policy,
        store: ApprovalStore | AsyncApprovalStore | str,
        ask_human: bool = True,
        run_config: RunConfig | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
    ) -> None:
        self.gate = ApprovalGate(policy, ask_human=ask_human)
        self.agent = self.gate.wrap(agent)
        self.store = open_store(store) if isinstance(store, str) else store
        self._store = view_of(self.store)
        config = run_config or RunConfig()
        if config.tool_execution is None:
            config.tool_execution = ToolExecutionConfig(max_function_tool_concurrency=1)
        self.run_config = config
        self.max_turns = max_turns

    # -- starting and resuming ------------------------------------------------------

    async def astart(
        self, input: Input, *, run_id: str | None = None, context: Mapping[str, Any] | None = None
    ) -> Outcome:
        """Run the agent on `input` until it answers or pauses on a human.

        `context` is the SDK's run context (predicates read it with ``ctx(...)``); it is
        saved with the run, so it must be JSON-serializable.

        Raises:
            RunExists: `run_id` is taken; the stored run is unchanged.
        """
        return await _outcome(self._start(input, run_id, context, streamed=False))

    async def aresume(self, run_id: str) -> Outcome:
        """Reload the run from the store, apply its recorded decisions, and continue.

        Calls still waiting on a human stay pending (the outcome is `Paused` again with
        just those); due requests take their expiry outcome first.

        Raises:
            UnknownRun: nothing is stored under `run_id`.
            RunNotPaused: the run completed, failed or was cancelled.
            InvalidRunState: the stored state cannot be resumed by this agent graph
                (`RunStateUnreadable`, `AgentGraphMismatch`, `RunStateTampered`).
            CallNotPending: a request of the run holds a decision for a call the stored
                state does not wait on.
            In every case nothing ran and the stored run is unchanged.
        """
        return await _outcome(self._resume(run_id, streamed=False))

    def astream(
        self, input: Input, *, run_id: str | None = None, context: Mapping[str, Any] | None = None
    ) -> AsyncIterator[AgentsEvent]:
        """`astart` through ``Runner.run_streamed``: the SDK's events, then the outcome.

        The pending requests exist only once the stream is drained (the last event).
        """
        return self._start(input, run_id, context, streamed=True)

    def astream_resume(self, run_id: str) -> AsyncIterator[AgentsEvent]:
        """`aresume` through ``Runner.run_streamed``: the SDK's events, then the outcome."""
        return self._resume(run_id, streamed=True)

    def start(
        self, input: Input, *, run_id: str | None = None, context: Mapping[str, Any] | None = None
    ) -> Outcome:
        """Blocking twin of `astart`, for code without an event loop."""
        return _blocking("start", self.astart(input, run_id=run_id, context=context))

    def resume(self, run_id: str) -> Outcome:
        """Blocking twin of `aresume` (what a `hitl_core.worker.Worker` registry calls)."""
        return _blocking("resume", self.aresume(run_id))

    # -- deciding by call id ----------------------------------------------------------

    async def adecide(self, run_id: str, call_id: str, decision: DecisionInput) -> ApprovalRequest:
        """Record `decision` on the request for call `call_id` of the paused run.

        The call id is checked against the stored state (never against state a client
        sends); the decision itself is checked by the store (`store.decide`).

        Raises:
            CallNotPending: the stored run does not wait on `call_id`.
            UnknownRun, InvalidRunState, and whatever `store.decide` raises; in each case
            nothing is written.
        """
        record = await persist.load(self._store, run_id, paused=False)
        pending: list[str] = []
        if record.status is RunStatus.PAUSED:
            _, items = await read_state(self.agent, run_id, record.state)
            pending = [call_id_of(item) for item in items]
        if call_id not in pending:
            raise CallNotPending(run_id, call_id, pending)
        return await self._store.adecide(request_id(run_id, call_id), decision)

    def decide(self, run_id: str, call_id: str, decision: DecisionInput) -> ApprovalRequest:
        """Blocking twin of `adecide`."""
        return _blocking("decide", self.adecide(run_id, call_id, decision))

    # -- the moves --------------------------------------------------------------------

    async def _start(
        self, input: Input, run_id: str | None, context: Mapping[str, Any] | None, streamed: bool
    ) -> AsyncIterator[AgentsEvent]:
        """A new run: claim its id, then run it to its first stop."""
        run_id = run_id or f"run_{uuid4().hex}"
        try:
            existing = await self._store.aload_run(run_id)
        except UnknownRun:
            pass
        else:
            raise RunExists(run_id, existing.status.value)
        state: AgentState = RunState(
            context=RunContextWrapper(context=context),
            original_input=input,
            starting_agent=self.agent,
            max_turns=self.max_turns,
        )
        # Claim the id before any tool runs. Until its first pause the run has nothing to
        # resume from, so the claim holds no state (and resume refuses a running run).
        record = await persist.save(self._store, run_id, RunStatus.RUNNING, "", 0)
        scope = RunScope(run_id=run_id, store=self._store, executions={})
        async for event in self._pass(scope, state, record, [], set(), streamed):
            yield event

    async def _resume(self, run_id: str, streamed: bool) -> AsyncIterator[AgentsEvent]:
        """Move 4: reload, check, apply the decisions, and run on (or stay paused)."""
        record = await persist.load(self._store, run_id, paused=True)
        await self._store.aexpire_due(run_id=run_id)
        state, waits_on = await read_state(self.agent, run_id, record.state)
        if not waits_on:
            raise InvalidRunState(run_id, "it is marked paused but waits on no call")
        done = await apply_decisions(self._store, run_id, state, waits_on)
        if not done.applied:  # nobody has decided yet: nothing to run, nothing to save
            yield Paused(run_id=run_id, requests=done.waiting)
            return
        executions = await self._store.aexecutions(run_id)
        scope = RunScope(run_id, self._store, executions, done.released)
        known = {r.id for r in done.waiting}
        async for event in self._pass(scope, state, record, done.applied, known, streamed):
            yield event

    async def _pass(
        self,
        scope: RunScope,
        state: AgentState,
        record: RunRecord,
        applied: list[str],
        known: set[str],
        streamed: bool,
    ) -> AsyncIterator[AgentsEvent]:
        """Run to the next stop, releasing calls no human needs to see, then save there."""
        while True:
            result: Result | None = None
            async for event in self._run(scope, state, record, streamed):
                if isinstance(event, Result):
                    result = event
                else:
                    yield event
            assert result is not None
            state = result.to_state()
            items = list(result.interruptions)
            exempt = [i for i in items if not self._needs_human(result, i)]
            if not exempt:
                break
            for item in exempt:
                state.approve(item)
        yield await self._finish(result, state, items, record, applied, known)

    async def _run(
        self, scope: RunScope, state: AgentState, record: RunRecord, streamed: bool
    ) -> AsyncIterator[StreamEvent | Result]:
        """One ``Runner.run`` (or drained ``run_streamed``) with the run's scope current."""
        try:
            if not streamed:
                with active_scope(scope):
                    yield await Runner.run(
                        self.agent, state, run_config=self.run_config, max_turns=self.max_turns
                    )
                return
            streaming = call_in_scope(
                scope,
                lambda: Runner.run_streamed(
                    self.agent, state, run_config=self.run_config, max_turns=self.max_turns
                ),
            )
            async for event in streaming.stream_events():
                yield event
            yield streaming
        except MaxTurnsExceeded:
            await persist.save(
                self._store, scope.run_id, RunStatus.FAILED, record.state, record.version
            )
            raise TurnLimitReached(scope.run_id, self.max_turns) from None
        except AgentsException as error:
            ours = _hitl_cause(error)
            if ours is not None:  # the store (say) failed inside a tool: report that, not the SDK
                raise ours from error
            raise AgentRunFailed(scope.run_id, f"{type(error).__name__}: {error}") from error

    def _needs_human(self, result: Result, item: ToolApprovalItem) -> bool:
        """The SDK asks about every call it cannot inspect; the policy has the last word.

        A call whose arguments are not a JSON object cannot run at all (the SDK tells the
        model why once it is released), so nobody is asked about it.
        """
        args = json_object(item.arguments)
        if args is None:
            return False
        return self.gate.verdict(item.tool_name or "", args, _mapping(result)).required

    async def _finish(
        self,
        result: Result,
        state: AgentState,
        items: list[ToolApprovalItem],
        record: RunRecord,
        applied: list[str],
        known: set[str],
    ) -> Outcome:
        """Move 2, or the end: save the paused run with its new requests, or completed."""
        text = write_state(state)
        if items:
            context = _mapping(result)
            return await persist.suspend(
                self.gate, self._store, record, text, items, context, applied, known
            )
        await persist.save(
            self._store, record.run_id, RunStatus.COMPLETED, text, record.version, (), applied
        )
        return Completed(run_id=record.run_id, output=result.final_output, result=result)


def _mapping(result: Result) -> dict[str, Any]:
    """The run's SDK context when it is a mapping: what predicates and reviewers see."""
    context = result.context_wrapper.context
    return dict(context) if isinstance(context, Mapping) else {}


async def _outcome(events: AsyncIterator[AgentsEvent]) -> Outcome:
    """Drain a pass; its last event is the outcome."""
    last: AgentsEvent | None = None
    async for event in events:
        last = event
    assert isinstance(last, Paused | Completed)
    return last


def _hitl_cause(error: BaseException) -> HITLError | None:
    """The hitl-kit error an SDK exception wraps, if any (tools run our store code)."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, HITLError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _blocking(call: str, work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to completion on a new event loop; refuse inside a running one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    work.close()
    raise SyncCallInEventLoop(call)
