"""Move 1, the gate: the core ledger drives ``needs_approval`` and execution of every tool.

`ApprovalGate.wrap(agent)` replaces each `FunctionTool` of the agent, of every agent it
uses as a tool (``Agent.as_tool``) and of every `Agent` it hands off to, by a gated copy:

- ``needs_approval`` keeps the tool's own setting (a bool or a callable, as its author
  wrote it) and adds the policy: the call pauses when either says so, never when only the
  policy would let it through. A call already reviewed waits for its decision to be applied.
  The copy's invoker is the adapter's own, not the SDK's decorator invoker, so the SDK
  hands the predicate the raw arguments even when Pydantic would coerce them.
- the invoker asks the run's `CallLedger` what to do: a recorded call is answered from its
  record, a reviewed call runs exactly as reviewed (an edit with its arguments), a respond
  returns the answer without running anything, and every call that runs is claimed in the
  store first and recorded after.

The graph is changed in place, because ``Agent.as_tool`` runs the very agent instance it
was built from: gating a copy would leave the sub-agent's tools ungated.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Mapping
from typing import Any

from agents import Agent, FunctionTool, RunContextWrapper
from agents.tool_context import ToolContext

from hitl_core.ask import ASK_HUMAN_DESCRIPTION, ASK_HUMAN_SCHEMA, ASK_HUMAN_TOOL
from hitl_core.calls import Answer, Executed, GatedCall, Run, Wait
from hitl_core.calls.verdicts import verdict_for
from hitl_core.errors import CallRefused
from hitl_core.policy import Policy
from hitl_openai_agents.scope import RunScope, current_scope

__all__ = [
    "NO_ANSWER",
    "ApprovalGate",
    "arguments_of",
    "author_needs_approval",
    "json_object",
    "schema_of",
]

NO_ANSWER = "Nobody has answered this question; it was asked outside a hitl-kit run."
"""What ``ask_human`` returns when approved by hand instead of answered through the store."""


class ApprovalGate:
    """Which calls need a human, and the gated tools that enforce it.

    Args:
        policy: decides, call by call, whether a human must look first (on top of each
            tool's own ``needs_approval``).
        ask_human: also give every gated agent the ``ask_human`` tool (answered by respond).
    """

    def __init__(self, policy: Policy, *, ask_human: bool = True) -> None:
        self.policy = policy
        self.ask_human = ask_human

    def wrap(self, agent: Agent[Any]) -> Agent[Any]:
        """Gate `agent` and every agent it reaches through agent tools and handoffs, in place.

        Idempotent: tools this gate already wraps are left alone; tools another gate
        wraps are re-gated from their original. Tools that are not `FunctionTool`s keep
        their own approval settings and are gated by the runner when the SDK asks about
        them; agents behind `handoff(...)` objects are not reached: gate those yourself.

        Returns:
            `agent`, now gated.
        """
        self._wrap(agent, set())
        return agent

    def _wrap(self, agent: Agent[Any], seen: set[int]) -> None:
        if id(agent) in seen:
            return
        seen.add(id(agent))
        tools: list[Any] = []
        for tool in agent.tools:
            if isinstance(tool, FunctionTool):
                tool = self.gated(tool)
                sub_agent = tool._agent_instance if tool._is_agent_tool else None
                if isinstance(sub_agent, Agent):
                    self._wrap(sub_agent, seen)
            tools.append(tool)
        if self.ask_human and not any(getattr(t, "name", None) == ASK_HUMAN_TOOL for t in tools):
            tools.append(self.ask_human_tool())
        agent.tools = tools
        for target in agent.handoffs:
            if isinstance(target, Agent):
                self._wrap(target, seen)

    def gated(self, tool: FunctionTool) -> FunctionTool:
        """A copy of `tool` whose approval and execution go through this gate."""
        invoker, needs = tool.on_invoke_tool, tool.needs_approval
        if isinstance(invoker, _GatedInvoker | _AskHumanInvoker):
            if invoker.gate is self:
                return tool
            if isinstance(invoker, _AskHumanInvoker):
                return self.ask_human_tool()
            invoker, needs = invoker.original, invoker.author_needs
        return dataclasses.replace(
            tool,
            on_invoke_tool=_GatedInvoker(self, tool, invoker, needs),
            needs_approval=_NeedsApproval(self, tool, needs),
        )

    def ask_human_tool(self) -> FunctionTool:
        """The ``ask_human(question)`` tool: it always pauses, and a respond answers it."""
        return FunctionTool(
            name=ASK_HUMAN_TOOL,
            description=ASK_HUMAN_DESCRIPTION,
            params_json_schema=dict(ASK_HUMAN_SCHEMA),
            on_invoke_tool=_AskHumanInvoker(self),
            needs_approval=True,
        )


async def author_needs_approval(
    setting: Any, ctx: RunContextWrapper[Any], params: Any, call_id: str
) -> bool:
    """A tool's own ``needs_approval`` (a bool, or a callable that may be async), evaluated
    the way the SDK evaluates it."""
    if isinstance(setting, bool):
        return setting
    if callable(setting):
        result = setting(ctx, params, call_id)
        if inspect.isawaitable(result):
            result = await result
        return bool(result)
    return True  # an unreadable setting fails closed


def _author_reason(tool: str, required: bool) -> str | None:
    return f"the tool {tool} requires approval (its own needs_approval)" if required else None


class _NeedsApproval:
    """A tool's ``needs_approval``: its author's setting, plus the run's ledger."""

    def __init__(self, gate: ApprovalGate, tool: FunctionTool, author: Any) -> None:
        self.gate = gate
        self.tool = tool.name
        self.schema = dict(tool.params_json_schema)
        self.composite = tool._is_agent_tool
        self.author = author

    async def __call__(
        self, ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str
    ) -> bool:
        author = await author_needs_approval(self.author, ctx, params, call_id)
        reason = _author_reason(self.tool, author)
        scope = current_scope()
        call = GatedCall(
            tool=self.tool,
            args=dict(params),
            call_id=call_id,
            schema=self.schema,
            required_by=reason,
            composite=self.composite,
        )
        if scope is None:  # outside a runner: the author's setting and the policy
            context = ctx.context if isinstance(ctx.context, Mapping) else {}
            return verdict_for(self.gate.policy, call, dict(context), ask_human=False).required
        scope.author_flags[call_id] = reason
        return await scope.needs_human(call)


class _GatedInvoker:
    """A tool's ``on_invoke_tool``: at most once, exactly as reviewed, through the ledger."""

    def __init__(self, gate: ApprovalGate, tool: FunctionTool, original: Any, author: Any) -> None:
        self.gate = gate
        self.tool = tool.name
        self.schema = dict(tool.params_json_schema)
        self.original = original
        """The SDK's invoker: validates the JSON arguments and calls the function."""
        self.author_needs = author
        """The tool's own ``needs_approval``, kept for a later gate to re-gate from."""
        self.is_agent = tool._is_agent_tool

    async def __call__(self, ctx: ToolContext[Any], input: str) -> Any:
        scope = current_scope()
        if scope is None:  # run outside an ApprovalRunner: the SDK's approval is all there is
            return await self.original(ctx, input)
        args = json_object(input)
        if args is None:  # the SDK refuses it without running anything: nothing to record
            return await self.original(ctx, input)
        call = GatedCall(
            tool=self.tool,
            args=args,
            call_id=ctx.tool_call_id,
            schema=self.schema,
            required_by=scope.author_flags.get(ctx.tool_call_id),
            composite=self.is_agent,
        )
        step = await scope.ledger.astep(call, scope.store)
        if isinstance(step, Answer):  # a respond, or a call the ledger has recorded
            return step.content
        if isinstance(step, Wait):  # the SDK runs a call nobody has decided: refuse it
            raise CallRefused(
                scope.run_id, call.call_id, step.request.id, "it runs, but nobody decided it"
            )
        return await self._run(ctx, scope, step, input)

    async def _run(self, ctx: ToolContext[Any], scope: RunScope, step: Run, input: str) -> Any:
        async def invoke(args: dict[str, Any]) -> Executed:
            text = input if args == json_object(input) else json.dumps(args)
            output = await self.original(ctx, text)
            if self.is_agent and output is None:  # the sub-agent paused on a human
                return Executed("", suspended=True)
            return Executed(output if isinstance(output, str) else json.dumps(output, default=str))

        ran = await scope.ledger.arun(step, invoke, scope.store)
        return None if ran.suspended else ran.content


class _AskHumanInvoker:
    """``ask_human``'s ``on_invoke_tool``: returns the human's answer; nothing else runs."""

    def __init__(self, gate: ApprovalGate) -> None:
        self.gate = gate

    async def __call__(self, ctx: ToolContext[Any], input: str) -> str:
        scope = current_scope()
        if scope is None:
            return NO_ANSWER
        call = GatedCall(
            tool=ASK_HUMAN_TOOL, args=json_object(input) or {}, call_id=ctx.tool_call_id
        )
        step = await scope.ledger.astep(call, scope.store)
        return step.content if isinstance(step, Answer) else NO_ANSWER


def json_object(text: str | None) -> dict[str, Any] | None:
    """A call's arguments as a dict, or None when they are not a JSON object."""
    try:
        parsed = json.loads(text or "{}")
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def arguments_of(text: str | None) -> dict[str, Any]:
    """A call's arguments as a dict; ``{}`` when they are not a JSON object."""
    return json_object(text) or {}


def schema_of(agent: Agent[Any], tool: str) -> dict[str, Any] | None:
    """The JSON Schema of `agent`'s tool `tool`, against which edits are validated."""
    for candidate in agent.tools:
        if isinstance(candidate, FunctionTool) and candidate.name == tool:
            return dict(candidate.params_json_schema)
    return None
