"""The plain tool-calling loop with the four moves: gate, suspend + persist, decide, resume.

Every start and resume is a `hitl_core.calls.RunPass` (the run's lease, its saves, what
a failure leaves), and every call goes through the pass's `CallLedger`, which decides
whether it waits, is answered, or runs (claimed before, recorded after). This module only
translates: the loop's turns and calls into `GatedCall`s, the ledger's steps back into
tool messages. Decide is the store's (`store.decide(request_id, decision)`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any
from uuid import uuid4

from hitl_core.ask import ASK_HUMAN_DESCRIPTION, ASK_HUMAN_SCHEMA, ASK_HUMAN_TOOL
from hitl_core.calls import (
    DEFAULT_LEASE,
    Answer,
    CallLedger,
    Executed,
    GatedCall,
    Run,
    RunPass,
    Step,
    Wait,
)
from hitl_core.errors import AdapterError
from hitl_core.outcomes import unknown_tool_text
from hitl_core.policy import Policy
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import ApprovalStore, Lease, RunStatus, open_store
from hitl_loop.agent_tool import AgentTool
from hitl_loop.messages import Message, ToolCall, ToolSpec
from hitl_loop.model import ChatModel
from hitl_loop.plans import ActionPlan
from hitl_loop.state import (
    Completed,
    LoopEvent,
    LoopOutcome,
    LoopState,
    ModelTurn,
    Paused,
    ToolResult,
    ToolSettled,
)
from hitl_loop.tools import InvalidToolArguments, Tool

__all__ = ["ADAPTER", "StepLimitReached", "ToolLoop"]

ADAPTER = "hitl_loop"

Waiting = dict[str, ApprovalRequest]
"""The requests a pass found its calls waiting on, by request id."""


class StepLimitReached(AdapterError):
    """The model kept calling tools past `max_steps`; the run is saved as failed."""

    def __init__(self, run_id: str, max_steps: int) -> None:
        super().__init__(
            f"Run {run_id} took {max_steps} model turns without a final answer and was "
            "stopped. Raise max_steps or check the model's instructions.",
            run_id=run_id,
            max_steps=max_steps,
        )


class ToolLoop:
    """A framework-free agent: a model, plain functions as tools, and an approval gate.

    Args:
        model: any `ChatModel` (`OpenAIChatModel`, `ScriptedModel`...).
        tools: functions (schemas come from their type hints) or `Tool`s.
        policy: decides which calls need a human (a tool's own ``requires_approval``
            gates its calls whatever the policy says).
        store: an `ApprovalStore` or a store URL.
        system: the system prompt.
        ask_human: offer the `ask_human` tool, answered by a respond decision.
        max_steps: model turns allowed per run.
        lease: how long a pass holds the run between renewals.
    """

    def __init__(
        self,
        model: ChatModel,
        tools: Iterable[Tool | AgentTool | Callable[..., Any]],
        *,
        policy: Policy,
        store: ApprovalStore | str,
        system: str | None = None,
        ask_human: bool = True,
        max_steps: int = 25,
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self.model = model
        self.agents = {t.name: t for t in tools if isinstance(t, AgentTool)}
        self.tools = {
            t.name: t
            for t in (
                x if isinstance(x, Tool) else Tool.from_function(x)
                for x in tools
                if not isinstance(x, AgentTool)
            )
        }
        self.policy = policy
        self.store = open_store(store) if isinstance(store, str) else store
        self.system = system
        self.ask_human = ask_human
        self.max_steps = max_steps
        self.lease = lease
        self._specs = [t.spec for t in self.tools.values()] + [a.spec for a in self.agents.values()]
        if ask_human:
            self._specs.append(
                ToolSpec(
                    name=ASK_HUMAN_TOOL,
                    description=ASK_HUMAN_DESCRIPTION,
                    parameters=ASK_HUMAN_SCHEMA,
                )
            )

    # -- starting -----------------------------------------------------------------

    def start(
        self, prompt: str, *, run_id: str | None = None, context: Mapping[str, Any] | None = None
    ) -> LoopOutcome:
        """Run the agent on `prompt` until it answers or pauses on a human.

        Raises:
            RunExists: `run_id` is taken; the stored run is unchanged.
            RunBusy: another process is starting a run under the same id.
            InvalidIdentity: ``context["requested_by"]`` is not a usable identity.
        """
        return _last(self.stream(prompt, run_id=run_id, context=context))

    def stream(
        self, prompt: str, *, run_id: str | None = None, context: Mapping[str, Any] | None = None
    ) -> Iterator[LoopEvent]:
        """`start`, yielding each model turn and settled call as it happens.

        The last event is the `Paused` or `Completed` outcome; the pending requests are
        only complete once the stream is drained.
        """
        yield from self._start(self._new_state(prompt, run_id, context))

    def start_plan(
        self,
        plan: ActionPlan,
        *,
        run_id: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> LoopOutcome:
        """Execute a structured-output action plan through the same gate, with no model turn.

        An action whose validator set ``requires_approval`` pauses whatever the policy says.
        """
        calls = [
            ToolCall(id=f"plan_{i}", name=a.tool, args=a.args) for i, a in enumerate(plan.actions)
        ]
        state = LoopState(
            run_id=run_id or f"run_{uuid4().hex}",
            mode="plan",
            messages=[Message.user(plan.summary())],
            turn=calls,
            forced={
                c.id: a.approval_reason()
                for c, a in zip(calls, plan.actions, strict=True)
                if a.requires_approval
            },
            context=dict(context or {}),
        )
        return _last(self._start(state))

    def as_tool(self, name: str, description: str) -> AgentTool:
        """This agent as a tool of another `ToolLoop` (its one argument is ``task``).

        Its gated calls pause the parent's whole run, under the parent's run id.
        """
        return AgentTool(self, name, description)

    def _new_state(
        self, prompt: str, run_id: str | None, context: Mapping[str, Any] | None
    ) -> LoopState:
        messages = [Message.system(self.system)] if self.system else []
        return LoopState(
            run_id=run_id or f"run_{uuid4().hex}",
            messages=[*messages, Message.user(prompt)],
            context=dict(context or {}),
        )

    def _start(self, state: LoopState) -> Iterator[LoopEvent]:
        with self._pass(state.run_id) as run:
            run.create(state.model_dump_json(), state.context)
            yield from self._stream(state, run)

    # -- resuming -----------------------------------------------------------------------

    def resume(
        self, run_id: str, *, lease: Lease | None = None, wait: float | None = None
    ) -> LoopOutcome:
        """Move 4: reload the run from the store, apply recorded decisions, continue.

        Calls whose requests are still pending stay pending (the result is `Paused`
        again); due requests take their expiry outcome first.

        Args:
            lease: a lease on the run already taken (a worker's claim); else one is taken.
            wait: seconds to wait for another pass's lease to end (default: none).

        Raises:
            UnknownRun: nothing is stored under `run_id`.
            RunNotPaused: the run completed, failed or was cancelled.
            RunBusy: another pass holds the run's lease; nothing was done.
            InvalidRunState: the stored snapshot is not a readable `hitl_loop` state.
        """
        return _last(self.stream_resume(run_id, lease=lease, wait=wait))

    def stream_resume(
        self, run_id: str, *, lease: Lease | None = None, wait: float | None = None
    ) -> Iterator[LoopEvent]:
        """`resume`, yielding events as `stream` does."""
        with self._pass(run_id, lease=lease, wait=wait) as run:
            record = run.load()
            yield from self._stream(LoopState.load(run_id, record.state), run)

    def retry(self, run_id: str, *, by: str) -> LoopOutcome:
        """Reopen a failed run and resume it from its last saved state.

        Calls that ran before the failure are answered from the ledger, never run again.

        Raises:
            RunNotFailed: the run did not fail; UnknownRun: there is no such run.
        """
        self.store.retry_run(run_id, by=by)
        return self.resume(run_id)

    def _pass(self, run_id: str, **options: Any) -> RunPass:
        return RunPass(
            self.store,
            run_id,
            adapter=ADAPTER,
            policy=self.policy,
            ttl=self.lease,
            ask_human=self.ask_human,
            **options,
        )

    # -- the loop ---------------------------------------------------------------------

    def _stream(self, state: LoopState, run: RunPass) -> Iterator[LoopEvent]:
        """Drive the run to its next stop (a pause or the end) and save it there."""
        ledger = run.calls(state.context)
        waiting: Waiting = {}
        output = yield from self._run(state, ledger, waiting)
        if output is None:  # move 2: the whole state and the new requests, in one write
            run.save(RunStatus.PAUSED, state.model_dump_json())
            requests = [waiting[r] for r in state.pending_request_ids() if r in waiting]
            yield Paused(run_id=state.run_id, requests=requests)
            return
        state.output = output
        run.save(RunStatus.COMPLETED, state.model_dump_json())
        yield Completed(run_id=state.run_id, output=output, messages=list(state.messages))

    def _run(
        self, state: LoopState, ledger: CallLedger, waiting: Waiting
    ) -> Generator[LoopEvent, None, str | None]:
        """Take turns until the model answers (its answer) or a call waits on a human (None).

        Saves nothing, so a sub-agent's state can run inside its parent's.
        """
        ledger = ledger.scoped(policy=self.policy, ask_human=self.ask_human)
        while True:
            if state.turn:
                for call in state.turn:
                    if call.id not in state.results:
                        self._work_on(call, state, ledger, waiting)
                        if call.id in state.results:
                            result = state.results[call.id]
                            yield ToolSettled(
                                call_id=call.id,
                                tool=call.name,
                                content=result.content,
                                is_error=result.is_error,
                            )
                if state.is_waiting:
                    return None
                for call in state.turn:
                    result = state.results[call.id]
                    state.messages.append(
                        Message.tool(call, result.content, is_error=result.is_error)
                    )
                state.turn, state.results, state.forced = [], {}, {}
                if state.mode == "plan":
                    return _plan_output(state.messages)
            if state.steps >= self.max_steps:
                raise StepLimitReached(state.run_id, self.max_steps)
            reply = self.model.complete(state.messages, self._specs)
            state.steps += 1
            state.messages.append(reply)
            yield ModelTurn(message=reply)
            if not reply.tool_calls:
                return reply.content or ""
            state.turn = list(reply.tool_calls)

    def _work_on(
        self, call: ToolCall, state: LoopState, ledger: CallLedger, waiting: Waiting
    ) -> None:
        """Take one call of the turn as far as it can go now (the ledger decides how far)."""
        if call.id in state.children:
            self._continue_child(call, state, ledger, waiting)
            return
        step = self._step(call, state, ledger)
        if isinstance(step, Wait):
            state.waiting[call.id] = step.request.id
            waiting[step.request.id] = step.request
            return
        state.waiting.pop(call.id, None)
        if isinstance(step, Answer):
            state.results[call.id] = ToolResult(content=step.content, is_error=step.is_error)
        elif call.name in self.agents:
            task = self.agents[call.name].task_of(step.args) or ""
            child = self.agents[call.name].loop._new_state(task, state.run_id, state.context)
            state.children[call.id] = child
            self._continue_child(call, state, ledger, waiting)
        else:
            ran = ledger.run(step, self._invoker(call.name), self.store)
            state.results[call.id] = ToolResult(content=ran.content, is_error=ran.is_error)

    def _step(self, call: ToolCall, state: LoopState, ledger: CallLedger) -> Step:
        """What the ledger says happens next to `call` (the one question the loop asks)."""
        return ledger.step(self._gated(call, state), self.store)

    def _continue_child(
        self, call: ToolCall, state: LoopState, ledger: CallLedger, waiting: Waiting
    ) -> None:
        """Advance a sub-agent; its final answer becomes the call's (recorded) result."""
        agent = self.agents[call.name]
        output = _drain(agent.loop._run(state.children[call.id], ledger, waiting))
        if output is None:
            return
        del state.children[call.id]
        step = ledger.step(self._gated(call, state), self.store)
        assert isinstance(step, Run), "an agent call that ran was released"
        ran = ledger.finish_composite(step, output, self.store)
        state.results[call.id] = ToolResult(content=ran.content, is_error=ran.is_error)

    def _gated(self, call: ToolCall, state: LoopState) -> GatedCall:
        """The call as the ledger sees it: its tool's schema and flags, or its problem."""
        tool, agent = self.tools.get(call.name), self.agents.get(call.name)
        forced = state.forced.get(call.id)
        if tool is not None and tool.requires_approval and forced is None:
            forced = f"the tool {tool.name} requires approval"
        return GatedCall(
            tool=call.name,
            args=dict(call.args),
            call_id=call.id,
            schema=tool.schema if tool else agent.spec.parameters if agent else None,
            required_by=forced,
            problem=self._problem(call),
            idempotent=tool.idempotent if tool else False,
            composite=agent is not None,
        )

    def _problem(self, call: ToolCall) -> str | None:
        """Why no human should be asked about the call: unknown tool or malformed arguments."""
        tool, agent = self.tools.get(call.name), self.agents.get(call.name)
        if tool is not None:
            try:
                tool.validate(call.args)
            except InvalidToolArguments as error:
                return str(error)
            return None
        if agent is not None:
            if agent.task_of(call.args) is None:
                return f'Invalid arguments for {call.name}: expected {{"task": "..."}}.'
            return None
        if call.name == ASK_HUMAN_TOOL and self.ask_human:
            return None
        return unknown_tool_text(call.name, list(self.tools) + list(self.agents))

    def _invoker(self, name: str) -> Callable[[dict[str, Any]], Executed]:
        tool = self.tools[name]

        def invoke(args: dict[str, Any]) -> Executed:
            try:
                return Executed(tool.invoke(args))
            except InvalidToolArguments as error:  # an edit Python's signature refuses
                return Executed(str(error), is_error=True)

        return invoke


def _last(events: Iterator[LoopEvent]) -> LoopOutcome:
    """Drain a run's events; its outcome (the last one)."""
    last: LoopEvent | None = None
    for last in events:  # noqa: B007 - drained for its last item
        pass
    assert isinstance(last, Paused | Completed)
    return last


def _drain(events: Generator[LoopEvent, None, str | None]) -> str | None:
    """Run a generator to its end and return its return value (a sub-agent's answer)."""
    while True:
        try:
            next(events)
        except StopIteration as stop:
            result: str | None = stop.value
            return result


def _plan_output(messages: list[Message]) -> str:
    """A plan's result: one line per action, in plan order."""
    return "\n".join(f"{m.name}: {m.content}" for m in messages if m.role == "tool")
