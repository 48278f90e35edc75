"""Move 1, the gate: a core `Policy` drives ``needs_approval`` on every function tool of a graph.

`ApprovalGate.wrap(agent)` replaces each `FunctionTool` of the agent, of every agent it
uses as a tool (``Agent.as_tool``) and of every `Agent` it hands off to, by a gated copy:

- ``needs_approval`` asks `Policy.check` about the call's arguments exactly as the model
  sent them. The copy's invoker is the adapter's own, not the SDK's decorator invoker, so
  the SDK hands the predicate the raw arguments even when Pydantic would coerce them (an
  integer 50 for a ``float`` parameter): with the decorator's invoker the SDK skips a
  callable predicate in that case and always asks a human.
- the invoker runs a call at most once per run (the store's execution records), applies
  the human's decision that released it (an edit runs the corrected arguments, a respond
  returns the answer without running anything) and tells the model, through
  `hitl_core.outcomes.tool_result`, which arguments actually ran.

The graph is changed in place, because ``Agent.as_tool`` runs the very agent instance it
was built from: gating a copy would leave the sub-agent's tools ungated.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from agents import Agent, FunctionTool, RunContextWrapper
from agents.tool_context import ToolContext

from hitl_core.ask import ASK_HUMAN_ALLOWED, ASK_HUMAN_DESCRIPTION, ASK_HUMAN_SCHEMA, ASK_HUMAN_TOOL
from hitl_core.outcomes import Answer, RunTool, resolve, tool_result
from hitl_core.policy import Policy, Verdict
from hitl_core.stores import ExecutionRecord
from hitl_openai_agents.scope import ADAPTER, RunScope, current_scope

__all__ = ["NO_ANSWER", "ApprovalGate", "arguments_of", "json_object", "schema_of"]

NO_ANSWER = "Nobody has answered this question; it was asked outside a hitl-kit run."
"""What ``ask_human`` returns when approved by hand instead of answered through the store."""


class ApprovalGate:
    """Which calls need a human, and the gated tools that enforce it.

    Args:
        policy: decides, call by call, whether a human must look first.
        ask_human: also give every gated agent the ``ask_human`` tool (answered by respond).
    """

    def __init__(self, policy: Policy, *, ask_human: bool = True) -> None:
        self.policy = policy
        self.ask_human = ask_human

    def verdict(self, tool: str, args: Any, context: Mapping[str, Any] | None) -> Verdict:
        """Does this call need a human, and on what terms? Pure, so resumes agree with it."""
        verdict = self.policy.check(tool, args, context)
        if self.ask_human and tool == ASK_HUMAN_TOOL:
            question = args.get("question", "") if isinstance(args, Mapping) else ""
            return dataclasses.replace(
                verdict,
                required=True,
                reason=f"the agent asks: {question}",
                allowed=ASK_HUMAN_ALLOWED,
            )
        return verdict

    def wrap(self, agent: Agent[Any]) -> Agent[Any]:
        """Gate `agent` and every agent it reaches through agent tools and handoffs, in place.

        Idempotent: tools this gate already wraps are left alone; tools another gate
        wraps are re-gated from their original. Tools that are not `FunctionTool`s
        (hosted tools, MCP servers) and agents behind `handoff(...)` objects are not
        reached: gate those agents yourself with `wrap`.

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
        invoker = tool.on_invoke_tool
        if isinstance(invoker, (_GatedInvoker, _AskHumanInvoker)):
            if invoker.gate is self:
                return tool
            if isinstance(invoker, _AskHumanInvoker):
                return self.ask_human_tool()
            invoker = invoker.original
        return dataclasses.replace(
            tool,
            on_invoke_tool=_GatedInvoker(self, tool.name, invoker, tool._is_agent_tool),
            needs_approval=_PolicyCheck(self, tool.name),
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


class _PolicyCheck:
    """A tool's ``needs_approval``: the gate's verdict on the raw arguments."""

    def __init__(self, gate: ApprovalGate, tool: str) -> None:
        self.gate = gate
        self.tool = tool

    async def __call__(
        self, ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str
    ) -> bool:
        context = ctx.context if isinstance(ctx.context, Mapping) else None
        required = self.gate.verdict(self.tool, params, context).required
        scope = current_scope()
        if scope is not None and not required:
            scope.ungated.add(call_id)
        return required


class _GatedInvoker:
    """A tool's ``on_invoke_tool``: exactly once, with the human's decision applied."""

    def __init__(self, gate: ApprovalGate, tool: str, original: Any, is_agent: bool) -> None:
        self.gate = gate
        self.tool = tool
        self.original = original
        """The SDK's invoker: validates the JSON arguments and calls the function."""
        self.is_agent = is_agent

    async def __call__(self, ctx: ToolContext[Any], input: str) -> Any:
        scope = current_scope()
        if scope is None:  # run outside an ApprovalRunner: the SDK's approval is all there is
            return await self.original(ctx, input)
        call_id = ctx.tool_call_id
        done = scope.executions.get(call_id)
        if done is not None:
            return done.output
        request = await scope.decision_for(call_id)
        if request is None:
            args = json_object(input)
            if args is None:  # the SDK refuses it without running anything: nothing to record
                return await self.original(ctx, input)
            return await self._execute(ctx, scope, input, args, None, None)
        resolution = resolve(request)
        if isinstance(resolution, Answer):  # respond: the answer is the result, nothing runs
            return resolution.content
        text = json.dumps(resolution.args) if resolution.edited else input
        return await self._execute(ctx, scope, text, resolution.args, resolution, request.id)

    async def _execute(
        self,
        ctx: ToolContext[Any],
        scope: RunScope,
        text: str,
        args: dict[str, Any],
        review: RunTool | None,
        request_id: str | None,
    ) -> Any:
        """Run the call and record it (the first record wins); returns what the model sees."""
        output = await self.original(ctx, text)
        if self.is_agent and output is None:  # the sub-agent paused on a human: not done yet
            return output
        content = output if isinstance(output, str) else json.dumps(output, default=str)
        record = await scope.store.arecord_execution(
            ExecutionRecord(
                run_id=scope.run_id,
                call_id=ctx.tool_call_id,
                tool=self.tool,
                args=args,
                output=tool_result(review, content) if review else content,
                at=scope.store.clock.now(),
                request_id=request_id,
                adapter=ADAPTER,
            )
        )
        scope.executions[ctx.tool_call_id] = record
        return record.output


class _AskHumanInvoker:
    """``ask_human``'s ``on_invoke_tool``: returns the human's answer; nothing else runs."""

    def __init__(self, gate: ApprovalGate) -> None:
        self.gate = gate

    async def __call__(self, ctx: ToolContext[Any], input: str) -> str:
        scope = current_scope()
        request = await scope.decision_for(ctx.tool_call_id) if scope else None
        if request is None:
            return NO_ANSWER
        resolution = resolve(request)
        return resolution.content if isinstance(resolution, Answer) else NO_ANSWER


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
