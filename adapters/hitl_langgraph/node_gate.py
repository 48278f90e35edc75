"""`approval_gate`: the core approval contract inside a hand-written node.

For custom graphs whose consequential step is not a tool call: call `approval_gate` in
the node, branch on the returned `Decision`, and do the irreversible work after it.
LangGraph re-runs the node from its top when it resumes, so code above the gate runs
again; put side effects after the last gate of the node, or in a node of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config

from hitl_core.actions import ProposedAction
from hitl_core.decisions import ALL_KINDS, AnyDecision, Approve, DecisionKind
from hitl_core.identity import canonical_json
from hitl_core.policy import Policy, Verdict
from hitl_core.requests import ApprovalRequest, default_expiry_outcome
from hitl_langgraph._store_io import AnyStore, StoreIO
from hitl_langgraph.pending import POLICY_REVIEWER
from hitl_langgraph.review import afinish, areview, finish, new_request, review
from hitl_langgraph.scope import Scope

__all__ = ["aapproval_gate", "approval_gate"]


def approval_gate(
    tool: str,
    args: Mapping[str, Any],
    *,
    store: AnyStore,
    policy: Policy | None = None,
    call_id: str | None = None,
    reason: str | None = None,
    allowed: Sequence[DecisionKind] = ALL_KINDS,
    args_schema: dict[str, Any] | None = None,
    expires_in: timedelta | None = None,
) -> AnyDecision:
    """Pause the node until a human decides on `tool` with `args`; return the decision.

    Raises the interrupt with the core payload (the `ApprovalRequest` plus LangChain's
    ``action_requests`` view). On resume it returns the recorded decision: `Approve`,
    `Edit` (run ``decision.args``, already checked against `args_schema`), `Reject` or
    `Respond`. `hitl_core.resolve` and `tool_result` turn it into what to run and say.

    Args:
        tool: the action's name, e.g. ``"send_payment"``.
        args: its arguments, as the reviewer sees them.
        store: the approval store.
        policy: if given, decides whether to ask at all; a call it does not gate returns
            an `Approve` by ``hitl:policy`` at once, with no request.
        call_id: identifies the action within the run; by default derived from the
            node's task and the action, which is stable across re-runs. Pass one if the
            node gates the same action twice.
        reason: shown to the reviewer when there is no policy.
        allowed: the decision kinds offered when there is no policy.
        args_schema: JSON Schema edits are checked against.
        expires_in: how long the request waits when there is no policy.

    Raises:
        GraphInterrupt: the run pauses here until the request is decided.
        NoThreadId / NoCheckpointer: the run could never be resumed.
    """
    config = get_config()
    scope = Scope.of(config)
    io = StoreIO(store)
    verdict = _verdict(tool, args, scope, policy, reason, allowed, expires_in)
    if not verdict.required:
        return Approve(by=POLICY_REVIEWER, feedback=verdict.reason, at=io.clock.now())
    fresh = _request(config, scope, io, tool, args, call_id, args_schema, verdict)
    request = review(io, fresh, scope)
    finish(io, request, scope)
    assert request.decision is not None
    return request.decision


async def aapproval_gate(
    tool: str,
    args: Mapping[str, Any],
    *,
    store: AnyStore,
    policy: Policy | None = None,
    call_id: str | None = None,
    reason: str | None = None,
    allowed: Sequence[DecisionKind] = ALL_KINDS,
    args_schema: dict[str, Any] | None = None,
    expires_in: timedelta | None = None,
) -> AnyDecision:
    """Async twin of `approval_gate`."""
    config = get_config()
    scope = Scope.of(config)
    io = StoreIO(store)
    verdict = _verdict(tool, args, scope, policy, reason, allowed, expires_in)
    if not verdict.required:
        return Approve(by=POLICY_REVIEWER, feedback=verdict.reason, at=io.clock.now())
    fresh = _request(config, scope, io, tool, args, call_id, args_schema, verdict)
    request = await areview(io, fresh, scope)
    await afinish(io, request, scope)
    assert request.decision is not None
    return request.decision


def _verdict(
    tool: str,
    args: Mapping[str, Any],
    scope: Scope,
    policy: Policy | None,
    reason: str | None,
    allowed: Sequence[DecisionKind],
    expires_in: timedelta | None,
) -> Verdict:
    if policy is not None:
        return policy.check(tool, dict(args), scope.context)
    return Verdict(
        required=True,
        reason=reason or f"{tool} needs approval",
        tool=tool,
        rule="approval_gate",
        allowed=tuple(allowed),
        expires_in=expires_in,
        on_expiry=default_expiry_outcome(),
    )


def _request(
    config: RunnableConfig,
    scope: Scope,
    io: StoreIO,
    tool: str,
    args: Mapping[str, Any],
    call_id: str | None,
    args_schema: dict[str, Any] | None,
    verdict: Verdict,
) -> ApprovalRequest:
    if call_id is None:
        namespace = (config.get("configurable") or {}).get("checkpoint_ns", "")
        digest = hashlib.sha256(f"{namespace}\x00{tool}\x00{canonical_json(args)}".encode())
        call_id = f"gate_{digest.hexdigest()[:20]}"
    action = ProposedAction(tool=tool, args=dict(args), call_id=call_id, args_schema=args_schema)
    return new_request(scope, action, verdict, io.clock)
