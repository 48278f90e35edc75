"""`approval_gate`: the core approval contract inside a hand-written node.

For custom graphs whose consequential step is not a tool call: call `approval_gate` in
the node, branch on the returned `Decision`, and do the irreversible work after it.
LangGraph re-runs the node from its top when it resumes, so code above the gate runs
again; put side effects after the last gate of the node, or in a node of their own. The
decision is the store's: once a call is decided, a changed policy does not change it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config

from hitl_core.calls import GatedCall, Run, Step
from hitl_core.decisions import ALL_KINDS, AnyDecision, Approve, DecisionKind, Reject
from hitl_core.identity import canonical_json, request_id
from hitl_core.policy import Policy, Rule
from hitl_core.predicates import never
from hitl_core.requests import ApprovalRequest
from hitl_core.stores.awaitable import AnyStore
from hitl_langgraph.active import aactive, active
from hitl_langgraph.review import areview, review
from hitl_langgraph.scope import Scope

__all__ = ["POLICY_REVIEWER", "aapproval_gate", "approval_gate"]

POLICY_REVIEWER = "hitl:policy"
"""The `by` of approvals the policy gives on its own (calls it does not gate)."""
CANCELLED_BY = "hitl:cancel"


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
            an `Approve` by ``hitl:policy`` at once, with no request. A call already
            decided keeps its decision whatever the policy says later.
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
    call = _call(config, tool, args, call_id, args_schema, policy, reason)
    with active(scope, store, _policy(policy, allowed, expires_in), False) as current:
        step = review(current, call)
        stored = current.sync.get(request_id(scope.run_id, call.call_id)) if _asked(step) else None
    return _decision(step, stored, current.store.clock.now())


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
    call = _call(config, tool, args, call_id, args_schema, policy, reason)
    async with aactive(scope, store, _policy(policy, allowed, expires_in), False) as current:
        step = await areview(current, call)
        stored = (
            await current.store.aget(request_id(scope.run_id, call.call_id))
            if _asked(step)
            else None
        )
    return _decision(step, stored, current.store.clock.now())


def _policy(
    policy: Policy | None, allowed: Sequence[DecisionKind], expires_in: timedelta | None
) -> Policy:
    """The gate's own terms when no policy is given (the gate then always asks)."""
    if policy is not None:
        return policy
    return Policy(default=Rule(when=never(), allowed=tuple(allowed), expires_in=expires_in))


def _call(
    config: RunnableConfig,
    tool: str,
    args: Mapping[str, Any],
    call_id: str | None,
    args_schema: dict[str, Any] | None,
    policy: Policy | None,
    reason: str | None,
) -> GatedCall:
    if call_id is None:
        namespace = (config.get("configurable") or {}).get("checkpoint_ns", "")
        digest = hashlib.sha256(f"{namespace}\x00{tool}\x00{canonical_json(args)}".encode())
        call_id = f"gate_{digest.hexdigest()[:20]}"
    required = None if policy is not None else reason or f"{tool} needs approval"
    return GatedCall(
        tool=tool, args=dict(args), call_id=call_id, schema=args_schema, required_by=required
    )


def _asked(step: Step) -> bool:
    """Whether a person was asked (so a request holds the decision)."""
    return not (isinstance(step, Run) and step.request is None)


def _decision(step: Step, stored: ApprovalRequest | None, now: Any) -> AnyDecision:
    if stored is None:
        reason = "the policy does not gate this call"
        return Approve(by=POLICY_REVIEWER, feedback=reason, at=now)
    if stored.decision is None:  # cancelled before anyone decided
        return Reject(by=CANCELLED_BY, feedback="the run was cancelled", at=now)
    return stored.decision
