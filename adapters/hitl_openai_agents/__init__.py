"""hitl_openai_agents: human approval for OpenAI Agents SDK runs, durable across processes.

runner = ApprovalRunner(agent, policy=policy, store="sqlite:///hitl.db")
outcome = runner.start("Pay Acme 4200")        # Paused: a request awaits a human
runner.store.decide(outcome.requests[0].id, Decision.approve(by="ana"))
runner.resume(outcome.run_id)                  # in this or any other process

``await runner.astart(...)`` / ``aresume`` / ``astream`` are the async forms.
"""

from hitl_core.stores.async_base import AsyncApprovalStore as AsyncApprovalStore
from hitl_openai_agents.errors import AgentGraphMismatch as AgentGraphMismatch
from hitl_openai_agents.errors import AgentRunFailed as AgentRunFailed
from hitl_openai_agents.errors import CallNotPending as CallNotPending
from hitl_openai_agents.errors import CannotGate as CannotGate
from hitl_openai_agents.errors import RunStateUnreadable as RunStateUnreadable
from hitl_openai_agents.errors import SyncCallInEventLoop as SyncCallInEventLoop
from hitl_openai_agents.errors import TurnLimitReached as TurnLimitReached
from hitl_openai_agents.gate import ApprovalGate as ApprovalGate
from hitl_openai_agents.outcomes import AgentsEvent as AgentsEvent
from hitl_openai_agents.outcomes import Completed as Completed
from hitl_openai_agents.outcomes import Outcome as Outcome
from hitl_openai_agents.outcomes import Paused as Paused
from hitl_openai_agents.runner import ADAPTER as ADAPTER
from hitl_openai_agents.runner import ApprovalRunner as ApprovalRunner
from hitl_openai_agents.scripted import ScriptedModel as ScriptedModel
from hitl_openai_agents.scripted import ScriptExhausted as ScriptExhausted
from hitl_openai_agents.scripted import call as call
from hitl_openai_agents.scripted import tool_outputs as tool_outputs

__all__ = [
    "ADAPTER",
    "AgentGraphMismatch",
    "AgentRunFailed",
    "AgentsEvent",
    "ApprovalGate",
    "ApprovalRunner",
    "AsyncApprovalStore",
    "CallNotPending",
    "CannotGate",
    "Completed",
    "Outcome",
    "Paused",
    "RunStateUnreadable",
    "ScriptExhausted",
    "ScriptedModel",
    "SyncCallInEventLoop",
    "TurnLimitReached",
    "call",
    "tool_outputs",
]
