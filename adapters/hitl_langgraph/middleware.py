"""`HumanApprovalMiddleware`: gate a `langchain.agents.create_agent` agent's tool calls.

``create_agent`` sends each tool call of a turn to the tool node as its own task, and the
middleware wraps that task: so each gated call raises its own `interrupt()`, several can
be pending at once, and each is resumed by its own interrupt id. The agent's tools are
not changed; the middleware only adds ``ask_human``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from hitl_core.policy import Policy
from hitl_core.stores.awaitable import AnyStore
from hitl_langgraph.gate import ToolGate, ask_human_tool

__all__ = ["HumanApprovalMiddleware"]


class HumanApprovalMiddleware(AgentMiddleware):
    """Pauses an agent before consequential tool calls and applies the human's decision.

    ::

        agent = create_agent(model, [send_payment], checkpointer=saver,
                             middleware=[HumanApprovalMiddleware(policy, store)])
        runner = ApprovalRunner(agent, store=store)

    Decisions come from the core store (`store.decide`): approve runs the proposed
    arguments, edit runs the replacement (checked against the tool's schema when decided)
    and tells the model what ran, reject runs nothing and the model reads the feedback,
    respond returns the human's answer as the tool result. Every call that runs is
    recorded, so a resumed task never runs a tool twice.

    Args:
        policy: which calls need a human (`hitl_core.Policy`).
        store: the approval store; `AsyncPostgresStore` for agents run with ``ainvoke``.
        ask_human: offer the ``ask_human`` tool, answered by a respond decision.
    """

    def __init__(self, policy: Policy, store: AnyStore, *, ask_human: bool = True) -> None:
        super().__init__()
        self.gate = ToolGate(policy, store, ask_human=ask_human)
        self.tools: list[BaseTool] = [ask_human_tool()] if ask_human else []

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        """Gate the call; pause for a human when the policy says so; run it at most once."""
        return self.gate(request, handler)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        """Async twin of `wrap_tool_call`."""
        return await self.gate.acall(request, handler)
