"""The plain tool-calling loop with the four moves: gate, suspend + persist, decide, resume.

Decide is the store's (`store.decide(request_id, decision)`); the other three are the
named methods `_gate`, `_suspend` and `resume` below.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any
from uuid import uuid4

from hitl_core.actions import ProposedAction
from hitl_core.ask import ASK_HUMAN_ALLOWED, ASK_HUMAN_DESCRIPTION, ASK_HUMAN_SCHEMA, ASK_HUMAN_TOOL
from hitl_core.errors import AdapterError, InvalidRunState, RunExists, RunNotPaused, UnknownRun
from hitl_core.outcomes import Answer, RunTool, resolve, tool_result
from hitl_core.policy import Policy, Verdict
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import ApprovalStore, ExecutionRecord, RunRecord, RunStatus, open_store
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
        policy: decides which calls need a human.
        store: an `ApprovalStore` or a store URL.
        system: the system prompt.
        ask_human: offer the `ask_human` tool, answered by a respond decision.
        max_steps: model turns allowed per run.
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
        """Run the agent on `prompt` until it answers or pauses on a human."""
        state = self._new_state(prompt, run_id, context)
        return self._advance(state, self._save(state, RunStatus.RUNNING, new=True))

    def stream(
        self, prompt: str, *, run_id: str | None = None, context: Mapping[str, Any] | None = None
    ) -> Iterator[LoopEvent]:
        """`start`, yielding each model turn and settled call as it happens.

        The last event is the `Paused` or `Completed` outcome; the pending requests are
        only complete once the stream is drained.
        """
        state = self._new_state(prompt, run_id, context)
        yield from self._stream(state, self._save(state, RunStatus.RUNNING, new=True))

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
        return self._advance(state, self._save(state, RunStatus.RUNNING, new=True))

    # -- the moves --------------------------------------------------------------------

    def _gate(self, call: ToolCall, state: LoopState) -> Verdict:
        """Move 1: does this call need a human? Pure, so it gives the same answer on resume."""
        if self.ask_human and call.name == ASK_HUMAN_TOOL:
            question = call.args.get("question", "")
            verdict = self.policy.check(call.name, call.args, state.context)
            return dataclasses.replace(
                verdict,
                required=True,
                reason=f"the agent asks: {question}",
                allowed=ASK_HUMAN_ALLOWED,
            )
        verdict = self.policy.check(call.name, call.args, state.context)
        if not verdict.required and call.id in state.forced:
            return dataclasses.replace(verdict, required=True, reason=state.forced[call.id])
        return verdict

    def _suspend(
        self, state: LoopState, new: list[ApprovalRequest], version: int, applied: list[str]
    ) -> Paused:
        """Move 2: save the whole loop state and the new requests in one write; keep nothing."""
        self._save(state, RunStatus.PAUSED, requests=new, resumed=applied, version=version)
        pending = [self.store.get(r) for r in state.pending_request_ids()]
        return Paused(run_id=state.run_id, requests=pending)

    def resume(self, run_id: str) -> LoopOutcome:
        """Move 4: reload the run from the store, apply recorded decisions, continue.

        Calls whose requests are still pending stay pending (the result is `Paused`
        again); due requests take their expiry outcome first.

        Raises:
            UnknownRun: nothing is stored under `run_id`.
            RunNotPaused: the run completed, failed or was cancelled.
            InvalidRunState: the stored snapshot is not a readable `hitl_loop` state.
        """
        return self._advance(*self._load(run_id))

    def stream_resume(self, run_id: str) -> Iterator[LoopEvent]:
        """`resume`, yielding events as `stream` does."""
        yield from self._stream(*self._load(run_id))

    def _load(self, run_id: str) -> tuple[LoopState, int]:
        """The paused run's state and the version the next save must match."""
        record = self.store.load_run(run_id)
        if record.adapter != ADAPTER:
            raise InvalidRunState(run_id, f"it was paused by {record.adapter}, not {ADAPTER}")
        if record.status is not RunStatus.PAUSED:
            raise RunNotPaused(run_id, record.status.value)
        state = LoopState.load(run_id, record.state)
        self.store.expire_due(run_id=run_id)
        return state, record.version

    # -- the loop ---------------------------------------------------------------------

    def _advance(self, state: LoopState, version: int) -> LoopOutcome:
        """Drive the run to its next stop (a pause or the end) and save it there."""
        *_, last = self._stream(state, version)
        assert isinstance(last, Paused | Completed)
        return last

    def _stream(self, state: LoopState, version: int) -> Iterator[LoopEvent]:
        executions = self.store.executions(state.run_id)
        new: list[ApprovalRequest] = []
        waiting_before = state.pending_request_ids()
        try:
            output = yield from self._run(state, executions, new)
        except StepLimitReached:
            self._save(state, RunStatus.FAILED, version=version)
            raise
        # Requests this pass applied are marked resumed in the same write as the state.
        still_waiting = set(state.pending_request_ids())
        applied = [r for r in waiting_before if r not in still_waiting]
        if output is None:
            yield self._suspend(state, new, version, applied)
        else:
            yield self._complete(state, output, version, applied)

    def _run(
        self, state: LoopState, executions: dict[str, ExecutionRecord], new: list[ApprovalRequest]
    ) -> Generator[LoopEvent, None, str | None]:
        """Take turns until the model answers (its answer) or a call waits on a human (None).

        Saves nothing, so a sub-agent's state can run inside its parent's.
        """
        while True:
            if state.turn:
                for call in state.turn:
                    if call.id not in state.results:
                        self._work_on(call, state, executions, new)
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
        self,
        call: ToolCall,
        state: LoopState,
        executions: dict[str, ExecutionRecord],
        new: list[ApprovalRequest],
    ) -> None:
        """Take one call of the turn as far as it can go now."""
        result: ToolResult | None
        if call.id in state.children:
            result = self._continue_child(call, state, executions, new)
        elif call.id in state.waiting:
            request = self.store.get(state.waiting[call.id])
            if request.is_pending:
                return
            del state.waiting[call.id]
            result = self._apply(request, call, state, executions, new)
        elif (problem := self._check_arguments(call)) is not None:
            result = problem
        elif (verdict := self._gate(call, state)).required:
            self._raise_request(call, verdict, state, new)
            return
        else:
            result = self._run_call(call, call.args, None, state, executions, new)
        if result is not None:
            state.results[call.id] = result

    def _check_arguments(self, call: ToolCall) -> ToolResult | None:
        """An error result for calls no human should be asked about: unknown or malformed."""
        tool, agent = self.tools.get(call.name), self.agents.get(call.name)
        if tool is not None:
            try:
                tool.validate(call.args)
            except InvalidToolArguments as error:
                return ToolResult(content=str(error), is_error=True)
            return None
        if agent is not None:
            if agent.task_of(call.args) is None:
                message = f'Invalid arguments for {call.name}: expected {{"task": "..."}}.'
                return ToolResult(content=message, is_error=True)
            return None
        if call.name == ASK_HUMAN_TOOL and self.ask_human:
            return None
        return self._unknown_tool(call)

    def _raise_request(
        self, call: ToolCall, verdict: Verdict, state: LoopState, new: list[ApprovalRequest]
    ) -> None:
        """Move 2's first half: a pending request for the call (saved with the state)."""
        tool, agent = self.tools.get(call.name), self.agents.get(call.name)
        schema = tool.schema if tool else (agent.spec.parameters if agent else ASK_HUMAN_SCHEMA)
        request = ApprovalRequest.create(
            run_id=state.run_id,
            adapter=ADAPTER,
            action=ProposedAction(
                tool=call.name, args=call.args, call_id=call.id, args_schema=schema
            ),
            reason=verdict.reason,
            allowed=verdict.allowed,
            context=state.context,
            now=self.store.clock.now(),
            expires_in=verdict.expires_in,
            on_expiry=verdict.on_expiry,
        )
        state.waiting[call.id] = request.id
        new.append(request)

    def _apply(
        self,
        request: ApprovalRequest,
        call: ToolCall,
        state: LoopState,
        executions: dict[str, ExecutionRecord],
        new: list[ApprovalRequest],
    ) -> ToolResult | None:
        """Move 4's core: turn the recorded decision into the call's result.

        None when the approved call is a sub-agent that paused in its turn.
        """
        resolution = resolve(request)
        result: ToolResult | None
        if isinstance(resolution, Answer):
            result = ToolResult(content=resolution.content, is_error=resolution.is_error)
        else:
            result = self._run_call(
                call, resolution.args, resolution, state, executions, new, request.id
            )
        return result

    def _run_call(
        self,
        call: ToolCall,
        args: dict[str, Any],
        review: RunTool | None,
        state: LoopState,
        executions: dict[str, ExecutionRecord],
        new: list[ApprovalRequest],
        request_id: str | None = None,
    ) -> ToolResult | None:
        """Run a released call: a tool executes; a sub-agent starts (None if it pauses)."""
        agent = self.agents.get(call.name)
        if agent is None or call.id in executions:
            return self._execute(call, args, review, state, executions, request_id)
        task = agent.task_of(args) or ""
        state.children[call.id] = agent.loop._new_state(task, state.run_id, state.context)
        return self._continue_child(call, state, executions, new)

    def _continue_child(
        self,
        call: ToolCall,
        state: LoopState,
        executions: dict[str, ExecutionRecord],
        new: list[ApprovalRequest],
    ) -> ToolResult | None:
        """Advance a sub-agent; its final answer becomes the call's (recorded) result."""
        agent = self.agents[call.name]
        output = _drain(agent.loop._run(state.children[call.id], executions, new))
        if output is None:
            return None
        del state.children[call.id]
        return self._record(call, call.args, output, False, state, executions, None)

    def _execute(
        self,
        call: ToolCall,
        args: dict[str, Any],
        review: RunTool | None,
        state: LoopState,
        executions: dict[str, ExecutionRecord],
        request_id: str | None = None,
    ) -> ToolResult:
        """Run a call exactly once: a call recorded as executed is never run again."""
        done = executions.get(call.id)
        if done is not None:
            return ToolResult(content=done.output, is_error=done.is_error)
        tool = self.tools.get(call.name)
        if tool is None:
            return self._unknown_tool(call)
        try:
            output, is_error = tool.invoke(args), False
        except InvalidToolArguments as error:
            return ToolResult(content=str(error), is_error=True)
        except Exception as error:  # a tool failure is the model's to handle, not the loop's
            output, is_error = f"Tool {call.name} failed: {type(error).__name__}: {error}", True
        content = tool_result(review, output) if review else output
        return self._record(call, args, content, is_error, state, executions, request_id)

    def _record(
        self,
        call: ToolCall,
        args: dict[str, Any],
        content: str,
        is_error: bool,
        state: LoopState,
        executions: dict[str, ExecutionRecord],
        request_id: str | None,
    ) -> ToolResult:
        """Record that the call ran (first record wins) and return what the model sees."""
        record = self.store.record_execution(
            ExecutionRecord(
                run_id=state.run_id,
                call_id=call.id,
                tool=call.name,
                args=args,
                output=content,
                is_error=is_error,
                at=self.store.clock.now(),
                request_id=request_id,
                adapter=ADAPTER,
            )
        )
        executions[call.id] = record
        return ToolResult(content=record.output, is_error=record.is_error)

    def _unknown_tool(self, call: ToolCall) -> ToolResult:
        names = ", ".join(sorted(self.tools)) or "(none)"
        return ToolResult(
            content=f"There is no tool {call.name!r}. Available tools: {names}.", is_error=True
        )

    # -- persistence ------------------------------------------------------------------

    def _save(
        self,
        state: LoopState,
        status: RunStatus,
        *,
        requests: list[ApprovalRequest] | None = None,
        resumed: list[str] | None = None,
        version: int | None = None,
        new: bool = False,
    ) -> int:
        """Write the snapshot; returns the stored version the next save must match."""
        if new:
            try:
                existing = self.store.load_run(state.run_id)
            except UnknownRun:
                pass
            else:
                raise RunExists(state.run_id, existing.status.value)
        now = self.store.clock.now()
        record = RunRecord(
            run_id=state.run_id,
            adapter=ADAPTER,
            status=status,
            state=state.model_dump_json(),
            created_at=now,
            updated_at=now,
        )
        saved = self.store.save_run(
            record, requests or [], resumed=resumed or [], expected_version=0 if new else version
        )
        return saved.version

    def _complete(
        self, state: LoopState, output: str, version: int, applied: list[str]
    ) -> Completed:
        state.output = output
        self._save(state, RunStatus.COMPLETED, resumed=applied, version=version)
        return Completed(run_id=state.run_id, output=output, messages=list(state.messages))


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
