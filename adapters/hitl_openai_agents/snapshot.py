"""The stored run: the SDK's own ``RunState`` serialization, and how it is read back safely.

`RunRecord.state` holds the document ``RunState.to_string()`` writes (``to_json()``),
without its indentation, so ``RunState.from_string`` or any tool that reads SDK snapshots
reads ours. It is only ever read from the store, never taken from
a client: the SDK does not authenticate a snapshot (``RunState.from_string`` says so),
and a state blob holds the pending calls and the approvals that release them. Reading it
checks that the state belongs to this agent graph; whether each call it waits on is the
call a human reviewed is the core ledger's check, made when the decisions are applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from agents import (
    Agent,
    ApplyPatchTool,
    FunctionTool,
    Handoff,
    RunState,
    ShellTool,
    ToolApprovalItem,
)

from hitl_openai_agents.errors import AgentGraphMismatch, RunStateUnreadable
from hitl_openai_agents.mcp import hosted_tool

__all__ = ["AgentState", "agents_of", "item_kind", "read_state", "write_state"]

AgentState = RunState[Any, Agent[Any]]


def write_state(state: AgentState) -> str:
    """The text to store: ``to_string()``'s document, compact (indenting it costs a third)."""
    return json.dumps(state.to_json(), separators=(",", ":"))


async def read_state(
    agent: Agent[Any], run_id: str, text: str
) -> tuple[AgentState, list[ToolApprovalItem]]:
    """The stored state as a `RunState` of `agent`'s graph, and the calls it waits on.

    Nothing is changed on failure.

    Raises:
        RunStateUnreadable: not JSON (truncated, corrupted) or refused by the SDK.
        AgentGraphMismatch: it names agents, or waits on tools, this graph does not have.
    """
    try:
        data = json.loads(text)
    except ValueError as error:
        raise RunStateUnreadable(
            run_id, f"it is not JSON ({error}); it may have been truncated"
        ) from None
    if not isinstance(data, dict):
        raise RunStateUnreadable(run_id, "it is not a JSON object")
    try:
        state = await RunState.from_json(agent, data)
    except Exception as error:
        missing = _names_in(data) - {a.name for a in agents_of(agent)}
        if missing:
            raise AgentGraphMismatch(run_id, (f"agent {n!r}" for n in missing)) from error
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RunStateUnreadable(run_id, f"the Agents SDK refused it: {problem}") from error
    items = state.get_interruptions()
    missing_tools = [gap for item in items if (gap := _missing_tool(item)) is not None]
    if missing_tools:
        raise AgentGraphMismatch(run_id, missing_tools)
    return state, items


def item_kind(item: ToolApprovalItem) -> str:
    """The kind of call an interruption holds: ``function_call``, ``shell_call``,
    ``apply_patch_call``, ``mcp_approval_request`` (a hosted MCP server's), ..."""
    raw = item.raw_item
    kind = raw.get("type") if isinstance(raw, dict) else getattr(raw, "type", None)
    return str(kind or "")


def _missing_tool(item: ToolApprovalItem) -> str | None:
    """What `item`'s agent lacks to run the call it waits on (None: nothing)."""
    agent, name, kind = item.agent, item.tool_name or "", item_kind(item)
    if kind == "shell_call":
        found = any(isinstance(tool, ShellTool) for tool in agent.tools)
    elif kind == "apply_patch_call":
        found = any(isinstance(tool, ApplyPatchTool) for tool in agent.tools)
    elif kind == "mcp_approval_request":
        raw: Any = item.raw_item
        label = raw.get("server_label") if isinstance(raw, dict) else raw.server_label
        if hosted_tool(agent, str(label)) is None:
            return f"hosted MCP server {label!r} on agent {agent.name!r}"
        return None
    else:  # a function tool, an agent tool, or a tool a local MCP server lists
        found = any(getattr(t, "name", None) == name for t in agent.tools) or bool(
            agent.mcp_servers
        )
    return None if found else f"tool {name!r} on agent {agent.name!r}"


def agents_of(root: Agent[Any]) -> Iterator[Agent[Any]]:
    """Every agent of the graph: `root`, agents used as tools, and handed-off-to agents
    (behind ``handoff(...)`` objects too)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        agent = stack.pop()
        if id(agent) in seen:
            continue
        seen.add(id(agent))
        yield agent
        for tool in agent.tools:
            if isinstance(tool, FunctionTool) and isinstance(tool._agent_instance, Agent):
                stack.append(tool._agent_instance)
        for entry in agent.handoffs:
            target: Any = entry
            if isinstance(entry, Handoff):  # handoff(agent) keeps a weak reference to it
                ref = entry._agent_ref
                target = ref() if ref is not None else None
            if isinstance(target, Agent):
                stack.append(target)


def _names_in(data: Any) -> set[str]:
    """Agent names a serialized state refers to (``{"...agent": {"name": ...}}`` anywhere)."""
    names: set[str] = set()
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith("agent") and isinstance(item, dict):
                    name = item.get("name")
                    if isinstance(name, str):
                        names.add(name)
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    return names
