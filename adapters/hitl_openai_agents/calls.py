"""An SDK interruption as the core ledger sees it: a `GatedCall`.

The SDK stops before a call when its tool's approval setting says so: our gated function
tools' ``needs_approval`` (the author's setting plus the policy), or the own settings of
tools we do not wrap (shell, patch, MCP). Either way a person is asked; the policy can only
add terms, never let the SDK's own question through.
"""

from __future__ import annotations

from agents import ToolApprovalItem

from hitl_core.calls import GatedCall
from hitl_openai_agents.gate import json_object, schema_of
from hitl_openai_agents.scope import RunScope

__all__ = ["NOT_AN_OBJECT", "call_id_of", "call_of"]

NOT_AN_OBJECT = "the call's arguments are not a JSON object, so it cannot run"
"""Why a call the model garbled reaches no person: the SDK's own invoker refuses it."""


def call_id_of(item: ToolApprovalItem) -> str:
    """The model's id for the call an interruption holds (every tool call has one)."""
    return item.call_id or ""


def call_of(item: ToolApprovalItem, scope: RunScope | None) -> GatedCall:
    """The call `item` stops on, with why the framework stopped on it."""
    tool, call_id = item.tool_name or "", call_id_of(item)
    schema = schema_of(item.agent, tool)
    if schema is None:  # not one of our gated function tools: the tool's own setting asked
        required: str | None = f"the Agents SDK asks for approval of {tool}"
    else:
        required = scope.author_flags.get(call_id) if scope is not None else None
    args = json_object(item.arguments)
    return GatedCall(
        tool=tool,
        args=args or {},
        call_id=call_id,
        schema=schema,
        required_by=required,
        allowed=None if schema is not None else ("approve", "reject"),
        problem=None if args is not None else NOT_AN_OBJECT,
    )
