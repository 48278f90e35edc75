"""An agent used as another agent's tool: its gated calls pause the whole run.

The sub-agent runs as a subgraph of the calling task, so it shares the root's thread id
and checkpointer: its requests are raised under the root run id, and resuming the root
run resumes the sub-agent where it stopped. Compile the sub-agent without a checkpointer
(it inherits the parent's) and gate it with the same store.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.pregel import Pregel

from hitl_langgraph.gate import AGENT_TOOL_KEY

__all__ = ["agent_tool"]


def agent_tool(graph: Pregel[Any, Any, Any, Any], name: str, description: str) -> BaseTool:
    """`graph` (an agent with a ``messages`` state) as a tool taking one argument, ``task``.

    The tool's result is the sub-agent's final answer.
    """

    def run(task: str) -> str:
        return _answer(graph.invoke({"messages": [HumanMessage(task)]}))

    async def arun(task: str) -> str:
        return _answer(await graph.ainvoke({"messages": [HumanMessage(task)]}))

    tool = StructuredTool.from_function(run, coroutine=arun, name=name, description=description)
    tool.metadata = {**(tool.metadata or {}), AGENT_TOOL_KEY: True}  # its calls are gated inside
    return tool


def _answer(state: Any) -> str:
    messages = state.get("messages", []) if isinstance(state, dict) else []
    last = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
    return str(last.text) if last is not None else ""
