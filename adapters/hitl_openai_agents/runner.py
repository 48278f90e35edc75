"""`ApprovalRunner`: an Agents SDK agent whose consequential calls wait for a human.

The four moves, each in a named place: the gate is `ApprovalGate` (the approval setting and
the execution of every tool the SDK can pause, in `gate`); suspend + persist is `_finish`
(the SDK's ``RunState`` saved with one `ApprovalRequest` per ``ToolApprovalItem`` in one store
transaction); decide is the store's (or `ApprovalRunner.decide`, which checks the call id
against the stored state); resume is `ApprovalRunner.aresume` (reload the stored state,
`apply.let_through`, ``Runner.run`` on). Every start and resume is a core
`AsyncRunPass`, holding the run's lease; every call goes through its `CallLedger`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from datetime import timedelta
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
    TResponseInputItem,
)
from agents.run import DEFAULT_MAX_TURNS
from agents.run_config import ToolExecutionConfig

from hitl_core.calls import DEFAULT_LEASE, AsyncRunPass
from hitl_core.decisions import DecisionInput
from hitl_core.errors import HITLError, InvalidRunState
from hitl_core.identity import request_id
from hitl_core.policy import Policy
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import ApprovalStore, Lease, RunStatus, open_store
from hitl_core.stores.async_base import AsyncApprovalStore
from hitl_core.stores.awaitable import AwaitableStore
from hitl_openai_agents.apply import check_decided_calls, let_through
from hitl_openai_agents.calls import call_id_of
from hitl_openai_agents.errors import (
    AgentRunFailed,
    CallNotPending,
    SyncCallInEventLoop,
    TurnLimitReached,
)
from hitl_openai_agents.gate import ApprovalGate
from hitl_openai_agents.outcomes import AgentsEvent, Completed, Outcome, Paused
from hitl_openai_agents.scope import ADAPTER, RunScope, active_scope, call_in_scope
from hitl_openai_agents.snapshot import AgentState, read_state, write_state

__all__ = ["ADAPTER", "ApprovalRunner"]

T = TypeVar("T")
Input = str | list[TResponseInputItem]
Result = RunResult | RunResultStreaming


class ApprovalRunner:
    """Runs `agent` so that the calls `policy` (or a tool's own flag) gates pause for a human.

    Args:
        agent: the root agent. Its graph (agents used as tools, handed-off-to agents) is
            gated in place by `ApprovalGate.wrap`.
        policy: decides which calls need a human, on top of each tool's own approval
            setting (it may add a gate, never remove one).
        store: a sync `ApprovalStore`, an `AsyncPostgresStore`, or a store URL.
        ask_human: give every agent the ``ask_human`` tool, answered by a respond.
        run_config: passed to every ``Runner.run``. Unless it sets ``tool_execution``, the
            calls of a turn run one at a time in the model's order, so side effects and the
            audit trail have one order whatever the process.
        max_turns: model turns allowed per pass.
        lease: how long a pass holds the run between renewals.

    Raises:
        CannotGate: the policy may gate a tool or handoff the SDK runs with no approval
            step (a handoff, a hosted tool other than MCP...); nothing was gated.
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
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self.gate = ApprovalGate(policy, ask_human=ask_human)
        self.agent = self.gate.wrap(agent)
        self.store = open_store(store) if isinstance(store, str) else store
        self._store = AwaitableStore(self.store)
        config = run_config or RunConfig()
        if config.tool_execution is None:
            config.tool_execution = ToolExecutionConfig(max_function_tool_concurrency=1)
        self.run_config = config
        self.max_turns = max_turns
        self.lease = lease

    # -- starting and resuming ------------------------------------------------------

    async def astart(
        self, input: Input, *, run_id: str | None = None, context: Mapping[str, Any] | None = None
    ) -> Outcome:
        """Run the agent on `input` until it answers or pauses on a human.

        `context` is the SDK's run context (predicates read it with ``ctx(...)``); it is
        saved with the run, so it must be JSON-serializable.

        Raises:
            RunExists: `run_id` is taken; the stored run is unchanged.
            RunBusy: another pass is starting a run under the same id.
        """
        return await _outcome(self._start(input, run_id, context, streamed=False))

    async def aresume(
        self, run_id: str, *, lease: Lease | None = None, wait: float | None = None
    ) -> Outcome:
        """Reload the run from the store, apply its recorded decisions, and continue.

        Calls still waiting on a human stay pending (the outcome is `Paused` again with
        just those); due requests take their expiry outcome first.

        Args:
            lease: a lease on the run already taken (a worker's claim).
            wait: seconds to wait for another pass's lease to end (default: none).

        Raises:
            UnknownRun: nothing is stored under `run_id`.
            RunNotPaused: the run completed, failed or was cancelled.
            RunBusy: another pass holds the run; nothing was done.
            InvalidRunState: the stored state cannot be resumed by this agent graph
                (`RunStateUnreadable`, `AgentGraphMismatch`); nothing ran.
            CallNotPending: a request of the run holds a decision for a call the stored
                state does not wait on; nothing ran.
            CallRefused: a call the state waits on is not the one its request reviewed;
                nothing ran, and the run is marked failed (its state kept as it was).
        """
        return await _outcome(self._resume(run_id, streamed=False, lease=lease, wait=wait))

    def astream(
        self, input: Input, *, run_id: str | None = None, context: Mapping[str, Any] | None = None
    ) -> AsyncIterator[AgentsEvent]:
        """`astart` through ``Runner.run_streamed``: the SDK's events, then the outcome.

        The pending requests exist only once the stream is drained (the last event).
        """
        return self._start(input, run_id, context, streamed=True)

    def astream_resume(
        self, run_id: str, *, lease: Lease | None = None, wait: float | None = None
    ) -> AsyncIterator[AgentsEvent]:
        """`aresume` through ``Runner.run_streamed``: the SDK's events, then the outcome."""
        return self._resume(run_id, streamed=True, lease=lease, wait=wait)

    async def aretry(self, run_id: str, *, by: str) -> Outcome:
        """Reopen a failed run and resume it (calls that ran are answered from the ledger).

        Raises:
            RunNotFailed: the run did not fail; UnknownRun: there is no such run.
        """
        await self._store.aretry_run(run_id, by=by)
        return await self.aresume(run_id)

    def start(
        self, input: Input, *, run_id: str | None = None, context: Mapping[str, Any] | None = None
    ) -> Outcome:
        """Blocking twin of `astart`, for code without an event loop."""
        return _blocking("start", self.astart(input, run_id=run_id, context=context))

    def resume(
        self, run_id: str, *, lease: Lease | None = None, wait: float | None = None
    ) -> Outcome:
        """Blocking twin of `aresume` (what a `hitl_core.worker.Worker` registry calls)."""
        return _blocking("resume", self.aresume(run_id, lease=lease, wait=wait))

    def retry(self, run_id: str, *, by: str) -> Outcome:
        """Blocking twin of `aretry`."""
        return _blocking("retry", self.aretry(run_id, by=by))

    # -- deciding by call id ----------------------------------------------------------

    async def adecide(
        self, run_id: str, call_id: str, decision: DecisionInput, *, roles: Sequence[str] = ()
    ) -> ApprovalRequest:
        """Record `decision` on the request for call `call_id` of the paused run.

        The call id is checked against the stored state (never against state a client
        sends); the decision itself is checked by the store (`store.decide`), who may
        decide included: `roles` are the decider's (its `by`), as authenticated.

        Raises:
            CallNotPending: the stored run does not wait on `call_id`.
            UnknownRun, InvalidRunState, and whatever `store.decide` raises; in each case
            nothing is written.
        """
        record = await self._store.aload_run(run_id)
        if record.adapter != ADAPTER:
            raise InvalidRunState(run_id, f"it was paused by {record.adapter}, not {ADAPTER}")
        pending: list[str] = []
        if record.status is RunStatus.PAUSED:
            _, items = await read_state(self.agent, run_id, record.state)
            pending = [call_id_of(item) for item in items]
        if call_id not in pending:
            raise CallNotPending(run_id, call_id, pending)
        return await self._store.adecide(request_id(run_id, call_id), decision, roles=roles)

    def decide(
        self, run_id: str, call_id: str, decision: DecisionInput, *, roles: Sequence[str] = ()
    ) -> ApprovalRequest:
        """Blocking twin of `adecide`."""
        return _blocking("decide", self.adecide(run_id, call_id, decision, roles=roles))

    # -- the moves --------------------------------------------------------------------

    def _pass(self, run_id: str, **options: Any) -> AsyncRunPass:
        return AsyncRunPass(
            self._store,
            run_id,
            adapter=ADAPTER,
            policy=self.gate.policy,
            ttl=self.lease,
            ask_human=self.gate.ask_human,
            reraise=True,
            **options,
        )

    async def _start(
        self, input: Input, run_id: str | None, context: Mapping[str, Any] | None, streamed: bool
    ) -> AsyncIterator[AgentsEvent]:
        """A new run: claim its id, then run it to its first stop."""
        run_id = run_id or f"run_{uuid4().hex}"
        state: AgentState = RunState(
            context=RunContextWrapper(context=context),
            original_input=input,
            starting_agent=self.agent,
            max_turns=self.max_turns,
        )
        async with self._pass(run_id) as run:
            # The opening state is saved too: a run that fails before its first pause is
            # retried from it (the calls that ran are answered from the ledger).
            await run.acreate(write_state(state), dict(context or {}))
            ledger = await run.acalls(dict(context or {}))
            scope = RunScope(run_id=run_id, store=self._store, ledger=ledger)
            async for event in self._pass_events(run, scope, state, streamed):
                yield event

    async def _resume(
        self, run_id: str, *, streamed: bool, lease: Lease | None, wait: float | None
    ) -> AsyncIterator[AgentsEvent]:
        """Move 4: reload, check, apply the decisions, and run on (or stay paused)."""
        async with self._pass(run_id, lease=lease, wait=wait) as run:
            record = await run.aload()
            state, waits_on = await read_state(self.agent, run_id, record.state)
            await check_decided_calls(self._store, run_id, waits_on)
            ledger = await run.acalls(_context_of(state))
            scope = RunScope(run_id=run_id, store=self._store, ledger=ledger)
            done = await let_through(scope, state, waits_on)
            if waits_on and not done.released:  # nobody has decided yet: nothing to run
                if ledger.applied or ledger.new_requests:
                    await run.asave(RunStatus.PAUSED, record.state)
                yield Paused(run_id=run_id, requests=done.waiting)
                return
            async for event in self._pass_events(run, scope, state, streamed):
                yield event

    async def _pass_events(
        self, run: AsyncRunPass, scope: RunScope, state: AgentState, streamed: bool
    ) -> AsyncIterator[AgentsEvent]:
        """Run to the next stop, letting through calls no human need see, then save there."""
        while True:
            result: Result | None = None
            async for event in self._run(scope, state, streamed):
                if isinstance(event, Result):
                    result = event
                else:
                    yield event
            assert result is not None
            state = result.to_state()
            done = await let_through(scope, state, list(result.interruptions))
            if not done.released:
                break
        yield await self._finish(run, result, state, done.waiting)

    async def _run(
        self, scope: RunScope, state: AgentState, streamed: bool
    ) -> AsyncIterator[StreamEvent | Result]:
        """One ``Runner.run`` (or drained ``run_streamed``) with the run's scope current."""
        try:
            if not streamed:
                with active_scope(scope):
                    result = await Runner.run(
                        self.agent, state, run_config=self.run_config, max_turns=self.max_turns
                    )
                _raise_swallowed(scope)
                yield result
                return
            streaming = call_in_scope(
                scope,
                lambda: Runner.run_streamed(
                    self.agent, state, run_config=self.run_config, max_turns=self.max_turns
                ),
            )
            async for event in streaming.stream_events():
                yield event
            _raise_swallowed(scope)
            yield streaming
        except MaxTurnsExceeded:
            raise TurnLimitReached(scope.run_id, self.max_turns) from None
        except AgentsException as error:
            ours = _hitl_cause(error)
            if ours is not None:  # the store (say) failed inside a tool: report that, not the SDK
                raise ours from error
            raise AgentRunFailed(scope.run_id, f"{type(error).__name__}: {error}") from error

    async def _finish(
        self, run: AsyncRunPass, result: Result, state: AgentState, waiting: list[ApprovalRequest]
    ) -> Outcome:
        """Move 2, or the end: save the paused run with its new requests, or completed."""
        text = write_state(state)
        if waiting:
            await run.asave(RunStatus.PAUSED, text)
            return Paused(run_id=run.run_id, requests=waiting)
        await run.asave(RunStatus.COMPLETED, text)
        return Completed(run_id=run.run_id, output=result.final_output, result=result)


def _context_of(state: AgentState) -> dict[str, Any]:
    """The run's SDK context, when it is a mapping: what predicates and reviewers see."""
    wrapper = state._context
    context = wrapper.context if wrapper is not None else None
    return dict(context) if isinstance(context, Mapping) else {}


async def _outcome(events: AsyncIterator[AgentsEvent]) -> Outcome:
    """Drain a pass; its last event is the outcome."""
    last: AgentsEvent | None = None
    async for event in events:
        last = event
    assert isinstance(last, Paused | Completed)
    return last


def _raise_swallowed(scope: RunScope) -> None:
    """Raise the first hitl-kit error a shell or patch tool raised in the last ``Runner.run``
    (the SDK shows those to the model as the tool's output and runs on)."""
    if scope.raised:
        error = scope.raised[0]
        scope.raised.clear()
        raise error


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
