"""Gated function tools: the ``needs_approval`` and invoker `ApprovalGate.gated` gives them.

A gated copy of a `FunctionTool` (a plain tool, an agent used as a tool, a local MCP
server's tool) keeps everything of the original but two fields:

- ``needs_approval`` keeps the tool's own setting (a bool or a callable, as its author
  wrote it) and adds the policy: the call pauses when either says so, never when only the
  policy would let it through. A call already reviewed waits for its decision to be applied.
  The copy's invoker is the adapter's own, not the SDK's decorator invoker, so the SDK
  hands the predicate the raw arguments even when Pydantic would coerce them.
- the invoker asks the run's `CallLedger` what to do: a recorded call is answered from its
  record, a reviewed call runs exactly as reviewed (an edit with its arguments), a respond
  returns the answer without running anything, and every call that runs is claimed in the
  store first and recorded after.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agents import Agent, FunctionTool, RunContextWrapper
from agents.tool_context import ToolContext

from hitl_core.ask import ASK_HUMAN_TOOL
from hitl_core.calls import Answer, Executed, GatedCall, Run, Wait
from hitl_core.calls.verdicts import verdict_for
from hitl_core.errors import CallRefused
from hitl_openai_agents.scope import RunScope, current_scope

if TYPE_CHECKING:
    from hitl_openai_agents.gate import ApprovalGate

__all__ = [
    "NO_ANSWER",
    "AskHumanInvoker",
    "GatedInvoker",
    "NeedsApproval",
    "arguments_of",
    "author_needs_approval",
    "author_reason",
    "json_object",
    "output_text",
    "schema_of",
]

NO_ANSWER = "Nobody has answered this question; it was asked outside a hitl-kit run."
"""What ``ask_human`` returns when approved by hand instead of answered through the store."""


async def author_needs_approval(setting: Any, *args: Any) -> bool:
    """A tool's own approval setting (a bool, or a callable that may be async), evaluated
    the way the SDK evaluates it, with the SDK's arguments for that kind of tool."""
    if isinstance(setting, bool):
        return setting
    if callable(setting):
        result = setting(*args)
        if inspect.isawaitable(result):
            result = await result
        return bool(result)
    return True  # an unreadable setting fails closed


def author_reason(tool: str, required: bool) -> str | None:
    """Why a call waits when its tool's own setting asks (None when it does not)."""
    return f"the tool {tool} requires approval (its own needs_approval)" if required else None


class NeedsApproval:
    """A function tool's ``needs_approval``: its author's setting, plus the run's ledger."""

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
        scope = current_scope()
        call = GatedCall(
            tool=self.tool,
            args=dict(params),
            call_id=call_id,
            schema=self.schema,
            required_by=author_reason(self.tool, author),
            composite=self.composite,
        )
        if scope is None:  # outside a runner: the author's setting and the policy
            context = ctx.context if isinstance(ctx.context, Mapping) else {}
            return verdict_for(self.gate.policy, call, dict(context), ask_human=False).required
        scope.proposed[call_id] = call
        return await scope.needs_human(call)


class GatedInvoker:
    """A function tool's ``on_invoke_tool``: at most once, exactly as reviewed, through the
    ledger."""

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
        seen = scope.proposed.get(ctx.tool_call_id)
        call = GatedCall(
            tool=self.tool,
            args=args,
            call_id=ctx.tool_call_id,
            schema=self.schema,
            required_by=seen.required_by if seen is not None else None,
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
            return Executed(output_text(output))

        ran = await scope.ledger.arun(step, invoke, scope.store)
        return None if ran.suspended else ran.content


class AskHumanInvoker:
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


def output_text(output: Any) -> str:
    """A tool's output as the text the ledger records and the model reads.

    Text parts (``{"type": "text", "text": ...}``, what MCP tools return) are their text;
    anything else that is not a string is JSON.
    """
    if isinstance(output, str):
        return output
    parts = output if isinstance(output, list) else [output]
    texts = [_text_part(part) for part in parts]
    if parts and all(text is not None for text in texts):
        return "\n".join(text for text in texts if text is not None)
    return json.dumps(output, default=str)


def _text_part(part: Any) -> str | None:
    if isinstance(part, Mapping) and part.get("type") == "text":
        text = part.get("text")
        return text if isinstance(text, str) else None
    if getattr(part, "type", None) == "text" and isinstance(getattr(part, "text", None), str):
        text_value: str = part.text
        return text_value
    return None


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
    """The JSON Schema of `agent`'s function tool `tool`, against which edits are validated."""
    for candidate in agent.tools:
        if isinstance(candidate, FunctionTool) and candidate.name == tool:
            return dict(candidate.params_json_schema)
    return None
