"""hitl_langgraph: durable human approval for LangGraph agents and graphs, existing ones too.

agent = create_agent(model, [send_payment], checkpointer=saver,
                     middleware=[HumanApprovalMiddleware(policy, store)])
runner = ApprovalRunner(agent, store=store)
outcome = runner.start({"messages": [("user", "Pay Acme 4200")]}, thread_id="pay-1")
store.decide(outcome.requests[0].id, Decision.approve(by="ana"))
runner.resume("pay-1")                          # in this or any other process
"""

from hitl_langgraph.checkpointers import aopen_checkpointer as aopen_checkpointer
from hitl_langgraph.checkpointers import open_checkpointer as open_checkpointer
from hitl_langgraph.codec import Codec as Codec
from hitl_langgraph.codec import InterruptCodec as InterruptCodec
from hitl_langgraph.errors import ForeignInterrupt as ForeignInterrupt
from hitl_langgraph.errors import NoCheckpointer as NoCheckpointer
from hitl_langgraph.errors import NoThreadId as NoThreadId
from hitl_langgraph.errors import SyncCallOnAsyncStore as SyncCallOnAsyncStore
from hitl_langgraph.errors import UnknownInterrupt as UnknownInterrupt
from hitl_langgraph.errors import UnsupportedCheckpointerURL as UnsupportedCheckpointerURL
from hitl_langgraph.gate import ToolGate as ToolGate
from hitl_langgraph.gate import ask_human_tool as ask_human_tool
from hitl_langgraph.middleware import HumanApprovalMiddleware as HumanApprovalMiddleware
from hitl_langgraph.node_gate import POLICY_REVIEWER as POLICY_REVIEWER
from hitl_langgraph.node_gate import aapproval_gate as aapproval_gate
from hitl_langgraph.node_gate import approval_gate as approval_gate
from hitl_langgraph.outcomes import Chunk as Chunk
from hitl_langgraph.outcomes import Completed as Completed
from hitl_langgraph.outcomes import Outcome as Outcome
from hitl_langgraph.outcomes import Paused as Paused
from hitl_langgraph.outcomes import RunInfo as RunInfo
from hitl_langgraph.outcomes import StreamItem as StreamItem
from hitl_langgraph.runner import ApprovalRunner as ApprovalRunner
from hitl_langgraph.scope import ADAPTER as ADAPTER
from hitl_langgraph.scripted import ScriptedChatModel as ScriptedChatModel
from hitl_langgraph.scripted import ScriptExhausted as ScriptExhausted
from hitl_langgraph.scripted import call as call
from hitl_langgraph.subagents import agent_tool as agent_tool
from hitl_langgraph.tool_node import ApprovalToolNode as ApprovalToolNode
from hitl_langgraph.tool_node import route_tool_calls as route_tool_calls
from hitl_langgraph.tool_node import tool_calls_router as tool_calls_router

__all__ = [
    "ADAPTER",
    "POLICY_REVIEWER",
    "ApprovalRunner",
    "ApprovalToolNode",
    "Chunk",
    "Codec",
    "Completed",
    "ForeignInterrupt",
    "HumanApprovalMiddleware",
    "InterruptCodec",
    "NoCheckpointer",
    "NoThreadId",
    "Outcome",
    "Paused",
    "RunInfo",
    "ScriptExhausted",
    "ScriptedChatModel",
    "StreamItem",
    "SyncCallOnAsyncStore",
    "ToolGate",
    "UnknownInterrupt",
    "UnsupportedCheckpointerURL",
    "aapproval_gate",
    "agent_tool",
    "aopen_checkpointer",
    "approval_gate",
    "call",
    "open_checkpointer",
    "route_tool_calls",
    "tool_calls_router",
]
