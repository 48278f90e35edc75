"""Move 1, the gate: every tool the SDK can pause goes through the core ledger.

`ApprovalGate.wrap(agent)` walks the agent graph (the agent, every agent it uses as a tool,
every agent it hands off to, ``handoff(...)`` objects included) and replaces, in place,
each tool by a gated copy:

| Tool | Gated copy (module) |
|---|---|
| `FunctionTool`, ``Agent.as_tool`` | ``needs_approval`` and invoker (`function_tools`) |
| local MCP server tools | the agent's ``get_mcp_tools`` gates what it lists (`mcp`) |
| `ShellTool` (local), `ApplyPatchTool` | ``needs_approval``, executor / editor (`native`) |
| `HostedMCPTool` | asks the API to request approval (`mcp`); the runner decides |

Each keeps the tool's own approval setting and adds the policy: a call pauses when either
says so, never when only the policy would let it through. Handoffs, hosted tools other than
MCP, ``LocalShellTool`` and computer or custom tools have no approval step the adapter can
use; a policy that may gate one of them is refused when the gate is built (`CannotGate`),
so nothing it names ever runs unasked.

The graph is changed in place, because ``Agent.as_tool`` runs the very agent instance it
was built from: gating a copy would leave the sub-agent's tools ungated.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

from agents import (
    Agent,
    ApplyPatchTool,
    FunctionTool,
    Handoff,
    HostedMCPTool,
    ShellTool,
)

from hitl_core.ask import ASK_HUMAN_DESCRIPTION, ASK_HUMAN_SCHEMA, ASK_HUMAN_TOOL
from hitl_core.policy import Policy
from hitl_core.predicates import Const
from hitl_openai_agents.errors import CannotGate
from hitl_openai_agents.function_tools import AskHumanInvoker, GatedInvoker, NeedsApproval
from hitl_openai_agents.mcp import gate_hosted, gate_mcp_tools, hosted_names
from hitl_openai_agents.native import gate_patch, gate_shell
from hitl_openai_agents.snapshot import agents_of

__all__ = ["ApprovalGate", "ungatable_reason"]


class ApprovalGate:
    """Which calls need a human, and the gated tools that enforce it.

    Args:
        policy: decides, call by call, whether a human must look first (on top of each
            tool's own approval setting).
        ask_human: also give every gated agent the ``ask_human`` tool (answered by respond).
    """

    def __init__(self, policy: Policy, *, ask_human: bool = True) -> None:
        self.policy = policy
        self.ask_human = ask_human

    def wrap(self, agent: Agent[Any]) -> Agent[Any]:
        """Gate `agent` and every agent it reaches through agent tools and handoffs, in place.

        Idempotent: tools this gate already wraps are left alone; tools another gate
        wraps are re-gated from their original.

        Returns:
            `agent`, now gated.

        Raises:
            CannotGate: the policy may gate a tool or handoff the SDK has no approval step
                for; nothing was changed.
        """
        graph = list(agents_of(agent))
        for each in graph:
            self._check(each)
        for each in graph:
            self._wrap(each)
        return agent

    def may_gate(self, names: Collection[str] | None) -> bool:
        """Whether the policy may require approval for a call to one of `names` (None: to
        a tool whose name is not known in advance)."""
        if names is not None:
            return any(not _is_never(self.policy.rule_for(name).when) for name in names)
        rules = [self.policy.default, *self.policy.rules.values()]
        return any(not _is_never(rule.when) for rule in rules)

    def _check(self, agent: Agent[Any]) -> None:
        for tool in agent.tools:
            why = ungatable_reason(tool)
            name = str(getattr(tool, "name", type(tool).__name__))
            if why is not None and self.may_gate([name]):
                raise CannotGate(agent.name, name, why)
        for target in agent.handoffs:
            name = target.tool_name if isinstance(target, Handoff) else _handoff_name(target)
            if self.may_gate([name]):
                raise CannotGate(
                    agent.name,
                    name,
                    "the Agents SDK hands off as soon as the model asks, with no approval step",
                )

    def _wrap(self, agent: Agent[Any]) -> None:
        tools: list[Any] = [self._gated_tool(tool) for tool in agent.tools]
        if self.ask_human and not any(getattr(t, "name", None) == ASK_HUMAN_TOOL for t in tools):
            tools.append(self.ask_human_tool())
        agent.tools = tools
        gate_mcp_tools(self, agent)

    def _gated_tool(self, tool: Any) -> Any:
        if isinstance(tool, FunctionTool):
            return self.gated(tool)
        if isinstance(tool, ShellTool) and _is_local(tool):
            return gate_shell(self, tool)
        if isinstance(tool, ApplyPatchTool):
            return gate_patch(self, tool)
        if isinstance(tool, HostedMCPTool):
            asks = tool.tool_config.get("require_approval") == "always"
            return gate_hosted(
                self, tool, ask_always=not asks and self.may_gate(hosted_names(tool))
            )
        return tool

    def gated(self, tool: FunctionTool) -> FunctionTool:
        """A copy of `tool` whose approval and execution go through this gate."""
        invoker, needs = tool.on_invoke_tool, tool.needs_approval
        if isinstance(invoker, GatedInvoker | AskHumanInvoker):
            if invoker.gate is self:
                return tool
            if isinstance(invoker, AskHumanInvoker):
                return self.ask_human_tool()
            invoker, needs = invoker.original, invoker.author_needs
        return dataclasses.replace(
            tool,
            on_invoke_tool=GatedInvoker(self, tool, invoker, needs),
            needs_approval=NeedsApproval(self, tool, needs),
        )

    def ask_human_tool(self) -> FunctionTool:
        """The ``ask_human(question)`` tool: it always pauses, and a respond answers it."""
        return FunctionTool(
            name=ASK_HUMAN_TOOL,
            description=ASK_HUMAN_DESCRIPTION,
            params_json_schema=dict(ASK_HUMAN_SCHEMA),
            on_invoke_tool=AskHumanInvoker(self),
            needs_approval=True,
        )


def ungatable_reason(tool: Any) -> str | None:
    """Why the SDK gives the adapter no way to pause before `tool` runs (None: it does)."""
    if isinstance(tool, FunctionTool | ApplyPatchTool | HostedMCPTool):
        return None
    if isinstance(tool, ShellTool):
        if _is_local(tool):
            return None
        return "a hosted shell runs in OpenAI's container and the SDK allows it no approval"
    kind = type(tool).__name__
    if kind in _NO_APPROVAL:
        return _NO_APPROVAL[kind]
    return f"a {kind} runs on OpenAI's servers and the SDK has no approval step for it"


_NO_APPROVAL = {
    "LocalShellTool": "a LocalShellTool has no approval setting in the Agents SDK (use ShellTool)",
    "ComputerTool": "computer actions have no approval step in the Agents SDK",
    "CustomTool": "hitl-kit does not gate custom (free-text) tools yet",
}


def _is_local(tool: ShellTool) -> bool:
    environment = tool.environment or {"type": "local"}
    return environment.get("type") == "local"


def _handoff_name(agent: Any) -> str:
    return Handoff.default_tool_name(agent)


def _is_never(predicate: Any) -> bool:
    return isinstance(predicate, Const) and predicate.value is False
