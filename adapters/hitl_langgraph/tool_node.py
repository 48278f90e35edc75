"""Gating a hand-built graph's tools: `ApprovalToolNode` and `route_tool_calls`.

`ApprovalToolNode` is LangGraph's `ToolNode` with the approval gate as its
``wrap_tool_call`` interceptor: the tools are unchanged. Route the model's calls to it
with `route_tool_calls` (in place of ``tools_condition``), which sends each pending call
as its own task, as ``create_agent`` does: each gated call then has its own interrupt
and several can wait at once. Given a whole turn in one task (``tools_condition``),
the calls still run exactly once, but gated calls are reviewed one after another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.graph import END
from langgraph.prebuilt import ToolNode
from langgraph.types import Send

from hitl_core.policy import Policy
from hitl_core.stores.awaitable import AnyStore
from hitl_langgraph.gate import ToolGate, ask_human_tool

__all__ = ["ApprovalToolNode", "route_tool_calls", "tool_calls_router"]


class ApprovalToolNode(ToolNode):
    """A `ToolNode` whose calls pass the approval gate before they run.

    ::

        builder.add_node("tools", ApprovalToolNode([send_payment], policy=policy, store=store))
        builder.add_conditional_edges("agent", route_tool_calls, ["tools", END])

    Args:
        tools: the tools, unchanged (functions or `BaseTool`s).
        policy: which calls need a human.
        store: the approval store.
        ask_human: also offer the ``ask_human`` tool (bind it to the model too:
            ``model.bind_tools(node.tools_by_name.values())``).
        **kwargs: passed to `ToolNode` (``name``, ``handle_tool_errors``...).
    """

    def __init__(
        self,
        tools: Sequence[BaseTool | Callable[..., Any]],
        *,
        policy: Policy,
        store: AnyStore,
        ask_human: bool = True,
        **kwargs: Any,
    ) -> None:
        gate = ToolGate(policy, store, ask_human=ask_human)
        extra = [ask_human_tool()] if ask_human else []
        super().__init__(
            [*tools, *extra], wrap_tool_call=gate, awrap_tool_call=gate.acall, **kwargs
        )
        self.gate = gate


def tool_calls_router(
    tools_node: str = "tools", *, messages_key: str = "messages"
) -> Callable[[Any], list[Send] | str]:
    """A routing function sending each pending tool call to `tools_node` as its own task."""

    def route(state: Any) -> list[Send] | str:
        messages = state.get(messages_key, []) if isinstance(state, dict) else []
        messages = messages or getattr(state, messages_key, [])
        for index in range(len(messages) - 1, -1, -1):
            message = messages[index]
            if isinstance(message, AIMessage):
                answered = {
                    m.tool_call_id for m in messages[index + 1 :] if isinstance(m, ToolMessage)
                }
                pending = [c for c in message.tool_calls if c["id"] not in answered]
                return [Send(tools_node, [c]) for c in pending] or END
        return END

    return route


route_tool_calls = tool_calls_router()
"""Send each pending call of the last AI message to the ``tools`` node, or end."""
