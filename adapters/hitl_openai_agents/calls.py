"""An SDK interruption as the core ledger sees it: a `GatedCall`, whatever the tool's kind.

The SDK stops before a call when its tool's approval setting says so: a gated function
tool's ``needs_approval`` (the author's setting plus the policy), a gated shell or patch
tool's (always, under a runner), a hosted MCP server's approval request, or the own setting
of a tool the gate does not wrap. Here each becomes the call the reviewer sees, with why its
tool's own setting asks (``required_by``, evaluated the SDK's way, ``on_approval``
callbacks included); the ledger adds the policy. A policy can only add a gate.

| Interruption | Tool | Arguments | Decisions |
|---|---|---|---|
| ``function_call`` | function, agent, local MCP tool | the JSON object the model sent | all |
| ``shell_call`` | `ShellTool` | ``{"commands", "timeout_ms"?, "max_output_length"?}`` | all |
| ``apply_patch_call`` | `ApplyPatchTool` | ``{"operations": [{"type", "path", "diff"?}]}`` | all |
| ``mcp_approval_request`` | `HostedMCPTool` | the JSON object the model sent | approve, reject |
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

from agents import (
    ApplyPatchTool,
    FunctionTool,
    MCPToolApprovalRequest,
    RunContextWrapper,
    ShellTool,
    ToolApprovalItem,
)
from agents.run_internal.tool_execution import coerce_apply_patch_operations, coerce_shell_call
from openai.types.responses.response_output_item import McpApprovalRequest

from hitl_core.calls import GatedCall
from hitl_core.decisions import DecisionKind
from hitl_openai_agents.function_tools import (
    NeedsApproval,
    author_needs_approval,
    author_reason,
    json_object,
)
from hitl_openai_agents.mcp import GatedHostedMCPTool, hosted_flag, hosted_tool
from hitl_openai_agents.native import (
    PATCH_SCHEMA,
    SHELL_SCHEMA,
    NativeNeedsApproval,
    op_data,
    shell_args,
)
from hitl_openai_agents.scope import RunScope
from hitl_openai_agents.snapshot import item_kind

__all__ = ["NOT_AN_OBJECT", "call_id_of", "call_of", "own_check_rejected"]

NOT_AN_OBJECT = "the call's arguments are not a JSON object, so it cannot run"
"""Why a call the model garbled reaches no person: the SDK's own invoker refuses it."""

APPROVE_OR_REJECT: tuple[DecisionKind, ...] = ("approve", "reject")
"""What the SDK can carry out for a call it cannot edit or answer in place of the tool."""


def call_id_of(item: ToolApprovalItem) -> str:
    """The model's id for the call an interruption holds (every tool call has one; a
    hosted MCP approval request's is its request id)."""
    return item.call_id or ""


async def call_of(
    item: ToolApprovalItem, scope: RunScope | None, ctx: RunContextWrapper[Any]
) -> GatedCall:
    """The call `item` stops on, with why its tool's own setting stopped on it."""
    kind = item_kind(item)
    if kind == "shell_call":
        return await _shell_call(item, ctx)
    if kind == "apply_patch_call":
        return await _patch_call(item, ctx)
    if kind == "mcp_approval_request":
        return await _hosted_call(item, ctx)
    return await _function_call(item, scope, ctx)


def own_check_rejected(tool: str, reason: str | None) -> str:
    """What the model reads when a tool's own ``on_approval`` callback rejected its call."""
    text = f"The {tool} tool's own approval check rejected this call; it was not executed."
    return f"{text} Reason: {reason}" if reason else text


async def _function_call(
    item: ToolApprovalItem, scope: RunScope | None, ctx: RunContextWrapper[Any]
) -> GatedCall:
    name, call_id = item.tool_name or "", call_id_of(item)
    args = json_object(item.arguments)
    seen = scope.proposed.get(call_id) if scope is not None else None
    if seen is not None and args is not None:  # the gate saw it in this pass
        return dataclasses.replace(seen, args=args)
    tool = _function_tool(item.agent.tools, name)
    if tool is None:  # not a tool the gate wraps: its own setting asked
        return GatedCall(
            tool=name,
            args=args or {},
            call_id=call_id,
            required_by=f"the Agents SDK asks for approval of {name}",
            allowed=APPROVE_OR_REJECT,
            problem=None if args is not None else NOT_AN_OBJECT,
        )
    needs = tool.needs_approval
    author = needs.author if isinstance(needs, NeedsApproval) else needs
    flagged = args is not None and await author_needs_approval(author, ctx, args, call_id)
    return GatedCall(
        tool=name,
        args=args or {},
        call_id=call_id,
        schema=dict(tool.params_json_schema),
        required_by=author_reason(name, flagged),
        problem=None if args is not None else NOT_AN_OBJECT,
        composite=tool._is_agent_tool,
    )


async def _shell_call(item: ToolApprovalItem, ctx: RunContextWrapper[Any]) -> GatedCall:
    tool = next((t for t in item.agent.tools if isinstance(t, ShellTool)), None)
    name, call_id = item.tool_name or (tool.name if tool else "shell"), call_id_of(item)
    try:
        data = coerce_shell_call(item.raw_item)
    except Exception as error:  # the SDK would refuse it too: the model is told why
        return GatedCall(tool=name, args={}, call_id=call_id, problem=f"{error}")
    required, problem = await _own_verdict(tool, name, item, ctx, [data.action])
    return GatedCall(
        tool=name,
        args=shell_args(data.action),
        call_id=call_id,
        schema=SHELL_SCHEMA,
        required_by=required,
        problem=problem,
    )


async def _patch_call(item: ToolApprovalItem, ctx: RunContextWrapper[Any]) -> GatedCall:
    tool = next((t for t in item.agent.tools if isinstance(t, ApplyPatchTool)), None)
    name, call_id = item.tool_name or (tool.name if tool else "apply_patch"), call_id_of(item)
    try:
        operations = coerce_apply_patch_operations(item.raw_item, context_wrapper=ctx)
    except Exception as error:
        return GatedCall(tool=name, args={}, call_id=call_id, problem=f"{error}")
    required, problem = await _own_verdict(tool, name, item, ctx, operations)
    return GatedCall(
        tool=name,
        args={"operations": [op_data(op) for op in operations]},
        call_id=call_id,
        schema=PATCH_SCHEMA,
        required_by=required,
        problem=problem,
    )


async def _hosted_call(item: ToolApprovalItem, ctx: RunContextWrapper[Any]) -> GatedCall:
    raw = item.raw_item
    request = raw if isinstance(raw, McpApprovalRequest) else McpApprovalRequest.model_validate(raw)
    call_id, args = call_id_of(item), json_object(request.arguments)
    tool = hosted_tool(item.agent, request.server_label)
    flagged = True if tool is None else hosted_flag(tool, request.name)
    author = tool.original if isinstance(tool, GatedHostedMCPTool) else None
    callback = author.on_approval_request if author is not None else None
    required: str | None = f"the hosted MCP server {request.server_label} asks" if flagged else None
    problem = None if args is not None else NOT_AN_OBJECT
    if flagged and callback is not None:
        answer = await _maybe_await(callback(MCPToolApprovalRequest(ctx_wrapper=ctx, data=request)))
        required, problem = _callback_verdict(request.name, answer, required, problem)
    return GatedCall(
        tool=request.name,
        args=args or {},
        call_id=call_id,
        required_by=required,
        allowed=APPROVE_OR_REJECT,  # the SDK can only send approve or reject back
        problem=problem,
    )


async def _own_verdict(
    tool: ShellTool | ApplyPatchTool | None,
    name: str,
    item: ToolApprovalItem,
    ctx: RunContextWrapper[Any],
    payloads: Sequence[Any],
) -> tuple[str | None, str | None]:
    """(why the tool's own setting asks, or None; why its own callback refused, or None)."""
    if tool is None:
        return f"the Agents SDK asks for approval of {name}", None
    needs = tool.needs_approval
    gated = isinstance(needs, NativeNeedsApproval)
    author = needs.author if isinstance(needs, NativeNeedsApproval) else needs
    callback = needs.on_approval if isinstance(needs, NativeNeedsApproval) else None
    call_id = call_id_of(item)
    flagged = not gated  # an ungated tool's SDK already asked: its setting said so
    for payload in payloads:  # any operation flagged flags the call, as in the SDK
        if flagged:
            break
        flagged = await author_needs_approval(author, ctx, payload, call_id)
    required = author_reason(name, flagged)
    if flagged and callback is not None:
        answer = await _maybe_await(callback(ctx, item))
        return _callback_verdict(name, answer, required, None)
    return required, None


def _callback_verdict(
    name: str, answer: Any, required: str | None, problem: str | None
) -> tuple[str | None, str | None]:
    """A tool's own ``on_approval`` answer: approve lifts its own gate (the policy may still
    ask a person), reject refuses the call, anything else leaves it to a person."""
    if isinstance(answer, Mapping) and answer.get("approve") is True:
        return None, problem
    if isinstance(answer, Mapping) and answer.get("approve") is False:
        reason = answer.get("reason")
        return required, problem or own_check_rejected(name, reason if reason else None)
    return required, problem


def _function_tool(tools: Sequence[Any], name: str) -> FunctionTool | None:
    return next((t for t in tools if isinstance(t, FunctionTool) and t.name == name), None)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
