"""Gated MCP tools: a local server's tools, and the approvals a hosted server asks for.

**Local servers** (``Agent(mcp_servers=[...])``). The SDK lists a server's tools and builds
a `FunctionTool` for each afresh at every turn (``Agent.get_mcp_tools``), with the server's
``require_approval`` as its ``needs_approval``. The SDK has no hook to transform those
tools, so the gate shadows the agent's ``get_mcp_tools`` with `GatedMCPTools`, which hands
every tool it lists through `ApprovalGate.gated`: an MCP tool is then gated like any
function tool (its own flag kept, the policy added; approve, edit, reject, respond; run
through the ledger). ``RunState.from_json`` lists tools the same way, so a resumed state
finds the gated tools too.

**Hosted servers** (`HostedMCPTool`). The call runs on OpenAI's side; the API asks for an
approval (an ``mcp_approval_request`` item) only when the tool's ``require_approval`` says
so, and the SDK surfaces that as an interruption. For the policy to be able to add a gate,
the gated copy asks the API to request approval for every call of a server the policy may
gate; `hosted_flag` keeps the author's own setting for the runner, which lets through (in
the same pass) every call neither the setting nor the policy holds back. The SDK can only
send an approval or a rejection back, so these requests allow approve and reject.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents import Agent, FunctionTool, HostedMCPTool, RunContextWrapper, Tool

if TYPE_CHECKING:
    from hitl_openai_agents.gate import ApprovalGate

__all__ = ["GatedHostedMCPTool", "GatedMCPTools", "gate_hosted", "gate_mcp_tools", "hosted_flag"]


class GatedMCPTools:
    """An agent's ``get_mcp_tools``, every tool it lists gated by `gate`."""

    def __init__(self, gate: ApprovalGate, original: Any) -> None:
        self.gate = gate
        self.original = original
        """The agent's own ``get_mcp_tools`` (bound method)."""

    async def __call__(self, run_context: RunContextWrapper[Any]) -> list[Tool]:
        tools: list[Tool] = await self.original(run_context)
        return [self.gate.gated(t) if isinstance(t, FunctionTool) else t for t in tools]


def gate_mcp_tools(gate: ApprovalGate, agent: Agent[Any]) -> None:
    """Shadow `agent`'s ``get_mcp_tools`` so the MCP tools it lists are gated (idempotent).

    The shadow is an instance attribute: an ``agent.clone()`` made afterwards is not gated.
    """
    current = agent.__dict__.get("get_mcp_tools")
    if isinstance(current, GatedMCPTools):
        if current.gate is gate:
            return
        original = current.original
    else:
        original = agent.get_mcp_tools
    agent.__dict__["get_mcp_tools"] = GatedMCPTools(gate, original)


@dataclass
class GatedHostedMCPTool(HostedMCPTool):
    """A hosted MCP tool whose approvals the runner decides (see the module docstring)."""

    original: HostedMCPTool | None = None
    """The tool as its author configured it: its ``require_approval`` and callback."""
    gate: Any = None
    """The `ApprovalGate` that made this copy."""


def gate_hosted(gate: ApprovalGate, tool: HostedMCPTool, *, ask_always: bool) -> HostedMCPTool:
    """A copy of `tool` whose approval requests the runner decides.

    Args:
        ask_always: have the API ask before every call (the policy may gate this server's
            tools, and the author's setting would let some run unasked).
    """
    if isinstance(tool, GatedHostedMCPTool):
        if tool.gate is gate:
            return tool
        tool = tool.original or tool
    config: dict[str, Any] = dict(tool.tool_config)
    if ask_always:
        config["require_approval"] = "always"
    return GatedHostedMCPTool(
        tool_config=config,  # type: ignore[arg-type]
        on_approval_request=None,
        original=dataclasses.replace(tool),
        gate=gate,
    )


def hosted_flag(tool: HostedMCPTool, name: str) -> bool:
    """Whether the author's ``require_approval`` asks for approval of the tool `name`.

    Absent, it is the API's default (ask); a filter that does not list `name`, or that
    filters on hints the runner cannot see (``read_only``), asks too: fail closed.
    """
    author = tool.original if isinstance(tool, GatedHostedMCPTool) and tool.original else tool
    setting = author.tool_config.get("require_approval", "always")
    if setting in ("always", "never"):
        return setting == "always"
    if isinstance(setting, Mapping):
        for key, answer in (("always", True), ("never", False)):
            chosen = setting.get(key)
            if isinstance(chosen, Mapping) and name in (chosen.get("tool_names") or ()):
                return answer
    return True


def hosted_tool(agent: Agent[Any], server_label: str) -> HostedMCPTool | None:
    """`agent`'s hosted MCP tool for `server_label`."""
    for tool in agent.tools:
        if isinstance(tool, HostedMCPTool) and tool.tool_config.get("server_label") == server_label:
            return tool
    return None


def hosted_names(tool: HostedMCPTool) -> set[str] | None:
    """The tool names the server may call (its ``allowed_tools``), or None: any."""
    allowed = tool.tool_config.get("allowed_tools")
    if isinstance(allowed, list):
        return {str(name) for name in allowed}
    if isinstance(allowed, Mapping) and isinstance(allowed.get("tool_names"), list):
        return {str(name) for name in allowed["tool_names"]}
    return None
