"""hitl_loop: a framework-free tool-calling loop with durable human approval.

loop = ToolLoop(model, [send_payment], policy=policy, store="sqlite:///hitl.db")
outcome = loop.start("Pay Acme 4200")          # Paused: a request awaits a human
loop.store.decide(outcome.requests[0].id, Decision.approve(by="ana"))
loop.resume(outcome.run_id)                    # in this or any other process
"""

from hitl_loop.loop import ADAPTER as ADAPTER
from hitl_loop.loop import StepLimitReached as StepLimitReached
from hitl_loop.loop import ToolLoop as ToolLoop
from hitl_loop.messages import Message as Message
from hitl_loop.messages import ToolCall as ToolCall
from hitl_loop.messages import ToolSpec as ToolSpec
from hitl_loop.model import ChatModel as ChatModel
from hitl_loop.openai_chat import OpenAIChatModel as OpenAIChatModel
from hitl_loop.plans import ActionPlan as ActionPlan
from hitl_loop.plans import PlannedAction as PlannedAction
from hitl_loop.scripted import ScriptedModel as ScriptedModel
from hitl_loop.scripted import ScriptExhausted as ScriptExhausted
from hitl_loop.scripted import call as call
from hitl_loop.state import Completed as Completed
from hitl_loop.state import LoopOutcome as LoopOutcome
from hitl_loop.state import LoopState as LoopState
from hitl_loop.state import Paused as Paused
from hitl_loop.tools import InvalidToolArguments as InvalidToolArguments
from hitl_loop.tools import Tool as Tool
from hitl_loop.tools import tool as tool

__all__ = [
    "ADAPTER",
    "ActionPlan",
    "ChatModel",
    "Completed",
    "InvalidToolArguments",
    "LoopOutcome",
    "LoopState",
    "Message",
    "OpenAIChatModel",
    "Paused",
    "PlannedAction",
    "ScriptExhausted",
    "ScriptedModel",
    "StepLimitReached",
    "Tool",
    "ToolCall",
    "ToolLoop",
    "ToolSpec",
    "call",
    "tool",
]
