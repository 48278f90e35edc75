"""hitl_core: the framework-neutral contract for human approval of agent actions.

Decisions (approve / edit / reject / respond), threshold policies that gate on
consequence, and the durable store of pending approvals with its audit trail. It imports
no agent framework and no web server; adapters build on it.
"""

from hitl_core.actions import ProposedAction as ProposedAction
from hitl_core.ask import ASK_HUMAN_TOOL as ASK_HUMAN_TOOL
from hitl_core.audit import AuditEvent as AuditEvent
from hitl_core.audit import AuditKind as AuditKind
from hitl_core.audit_chain import AuditHead as AuditHead
from hitl_core.audit_chain import ChainProblem as ChainProblem
from hitl_core.audit_chain import ChainReport as ChainReport
from hitl_core.audit_chain import verify_chain as verify_chain
from hitl_core.audit_chain import verify_store as verify_store
from hitl_core.clock import Clock as Clock
from hitl_core.clock import ManualClock as ManualClock
from hitl_core.clock import SystemClock as SystemClock
from hitl_core.decisions import ALL_KINDS as ALL_KINDS
from hitl_core.decisions import AnyDecision as AnyDecision
from hitl_core.decisions import Approve as Approve
from hitl_core.decisions import Decision as Decision
from hitl_core.decisions import DecisionKind as DecisionKind
from hitl_core.decisions import Edit as Edit
from hitl_core.decisions import MalformedDecision as MalformedDecision
from hitl_core.decisions import Reject as Reject
from hitl_core.decisions import Respond as Respond
from hitl_core.errors import *  # noqa: F403  (the exception tree is public as a whole)
from hitl_core.errors import __all__ as _error_names
from hitl_core.identity import args_digest as args_digest
from hitl_core.identity import request_id as request_id
from hitl_core.outcomes import Answer as Answer
from hitl_core.outcomes import RunTool as RunTool
from hitl_core.outcomes import resolve as resolve
from hitl_core.outcomes import tool_result as tool_result
from hitl_core.policy import Policy as Policy
from hitl_core.policy import Rule as Rule
from hitl_core.policy import Verdict as Verdict
from hitl_core.predicates import Predicate as Predicate
from hitl_core.predicates import always as always
from hitl_core.predicates import arg as arg
from hitl_core.predicates import ctx as ctx
from hitl_core.predicates import never as never
from hitl_core.predicates import tool_in as tool_in
from hitl_core.requests import ApprovalRequest as ApprovalRequest
from hitl_core.requests import RequestStatus as RequestStatus
from hitl_core.stores import ApprovalStore as ApprovalStore
from hitl_core.stores import CallRecord as CallRecord
from hitl_core.stores import CallStatus as CallStatus
from hitl_core.stores import Lease as Lease
from hitl_core.stores import Page as Page
from hitl_core.stores import RunPage as RunPage
from hitl_core.stores import RunRecord as RunRecord
from hitl_core.stores import RunStatus as RunStatus
from hitl_core.stores import open_store as open_store

__all__ = [
    "ALL_KINDS",
    "ASK_HUMAN_TOOL",
    "Answer",
    "AnyDecision",
    "ApprovalRequest",
    "ApprovalStore",
    "Approve",
    "AuditEvent",
    "AuditHead",
    "AuditKind",
    "ChainProblem",
    "ChainReport",
    "Clock",
    "Decision",
    "DecisionKind",
    "Edit",
    "CallRecord",
    "CallStatus",
    "MalformedDecision",
    "ManualClock",
    "Lease",
    "Page",
    "Policy",
    "Predicate",
    "ProposedAction",
    "Reject",
    "RequestStatus",
    "Respond",
    "Rule",
    "RunPage",
    "RunRecord",
    "RunStatus",
    "RunTool",
    "SystemClock",
    "Verdict",
    "always",
    "arg",
    "args_digest",
    "ctx",
    "never",
    "open_store",
    "request_id",
    "resolve",
    "tool_in",
    "tool_result",
    "verify_chain",
    "verify_store",
    *_error_names,
]
