"""Moves 2 and 4 inside a node: pause on a gated call, and come back with its decision.

`review` is shared by the agent middleware, the gated `ToolNode` and `approval_gate`.
LangGraph re-runs a node from its top on resume, so everything here is safe to repeat:
the request id is derived from run id + call id, a request the store already holds is
reused as stored, and the decision applied is always the one in the store.
"""

from __future__ import annotations

from langgraph.types import interrupt

from hitl_core.actions import ProposedAction
from hitl_core.clock import Clock
from hitl_core.decisions import AnyDecision
from hitl_core.errors import AlreadyDecided, UnknownRequest
from hitl_core.policy import Verdict
from hitl_core.requests import ApprovalRequest
from hitl_langgraph._store_io import StoreIO
from hitl_langgraph.payload import Reply, interrupt_value, replying_to
from hitl_langgraph.scope import ADAPTER, Scope

__all__ = ["afinish", "areview", "finish", "new_request", "review"]


def new_request(
    scope: Scope, action: ProposedAction, verdict: Verdict, clock: Clock
) -> ApprovalRequest:
    """The pending request for a gated call, on the policy's terms."""
    return ApprovalRequest.create(
        run_id=scope.run_id,
        adapter=ADAPTER,
        action=action,
        reason=verdict.reason,
        allowed=verdict.allowed,
        context=scope.context,
        now=clock.now(),
        expires_in=verdict.expires_in,
        on_expiry=verdict.on_expiry,
    )


def _ask(request: ApprovalRequest, clock: Clock) -> AnyDecision | None:
    """Interrupt with the request; on resume, the decision to record (None: the store's).

    Called even for a request the store has answered: a node with several gates matches
    resume values to interrupts by their order, so every gate must take its turn.
    """
    with replying_to(request, clock):
        reply = interrupt(interrupt_value(request), response_schema=Reply)
    return reply.decision


def review(io: StoreIO, fresh: ApprovalRequest, scope: Scope) -> ApprovalRequest:
    """The request for a gated call once it has a decision; interrupts until then.

    The store holds every decision: for a request it has answered, the resume value only
    wakes the gate and the stored decision applies; for a pending one, the resume value
    is checked inside `interrupt()` and recorded with `store.decide`.

    Args:
        io: the approval store.
        fresh: the request as this pass would raise it.
        scope: the run. Outside `ApprovalRunner` the request is put in the store here,
            and one past its deadline takes its expiry outcome here.

    Raises:
        GraphInterrupt: the request waits on a human (the node pauses here).
    """
    store = io.sync
    try:
        request = store.get(fresh.id)
    except UnknownRequest:
        request = fresh if scope.deferred else store.put(fresh)
    if not scope.deferred and request.is_due(io.clock.now()):
        store.expire_due(run_id=scope.run_id)
        request = store.get(request.id)
    decision = _ask(request, io.clock)
    if decision is None:
        return request
    try:
        return store.decide(request.id, decision)
    except AlreadyDecided:  # decided in the store meanwhile: the store's decision stands
        return store.get(request.id)


async def areview(io: StoreIO, fresh: ApprovalRequest, scope: Scope) -> ApprovalRequest:
    """Async twin of `review`."""
    try:
        request = await io.aget(fresh.id)
    except UnknownRequest:
        request = fresh if scope.deferred else await io.aput(fresh)
    if not scope.deferred and request.is_due(io.clock.now()):
        await io.aexpire_due(run_id=scope.run_id)
        request = await io.aget(request.id)
    decision = _ask(request, io.clock)
    if decision is None:
        return request
    try:
        return await io.adecide(request.id, decision)
    except AlreadyDecided:
        return await io.aget(request.id)


def finish(io: StoreIO, request: ApprovalRequest, scope: Scope) -> None:
    """Outside the runner, mark an applied request resumed (the runner does it in its save)."""
    if not scope.deferred:
        io.sync.mark_resumed(request.id)


async def afinish(io: StoreIO, request: ApprovalRequest, scope: Scope) -> None:
    """Async twin of `finish`."""
    if not scope.deferred:
        await io.amark_resumed(request.id)
