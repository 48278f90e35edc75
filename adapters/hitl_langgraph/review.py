"""Moves 2 and 4 inside a node: pause on a gated call, and come back with its decision.

Shared by the agent middleware, the gated `ToolNode` and `approval_gate`. LangGraph
re-runs a node from its top on resume and hands out resume values by the order of the
`interrupt()` calls in the task, so a gate takes one turn for every request its call has
had (answered ones included) before it asks about the current one: every gate of a task
then meets the same interrupt positions on every re-run. What happens to the call is the
ledger's (`CallLedger.step`): a stored decision wins over the policy, a pending request
interrupts. Under the runner a resume value only wakes the gate (the store holds every
decision); in a graph invoked directly it is the decision, checked inside `interrupt()`
(see `payload.Reply`) and recorded with `store.decide`.
"""

from __future__ import annotations

import contextlib

from langgraph.types import interrupt

from hitl_core.calls import GatedCall, Step, Wait
from hitl_core.calls.ledger import CallLedger
from hitl_core.clock import Clock
from hitl_core.decisions import AnyDecision
from hitl_core.errors import AlreadyDecided, UnknownRequest
from hitl_core.identities import checked_requester
from hitl_core.identity import request_id
from hitl_core.requests import REQUESTER_KEY, ApprovalRequest
from hitl_core.stores import ApprovalStore
from hitl_core.stores.awaitable import AwaitableStore
from hitl_langgraph.active import Active
from hitl_langgraph.payload import Reply, interrupt_value, replying_to

__all__ = ["areview", "review"]


def _ask(request: ApprovalRequest, clock: Clock, deferred: bool) -> AnyDecision | None:
    """Interrupt with `request`; on resume, the decision to record (None: the store's)."""
    with replying_to(request, clock, deferred):
        reply = interrupt(interrupt_value(request), response_schema=Reply)
    return reply.decision


def review(current: Active, call: GatedCall) -> Step:
    """The call's next step once nobody need be waited for; interrupts until then.

    Raises:
        GraphInterrupt: the call waits on a person (the node pauses here).
        CallRefused: the call is not the one its request reviewed.
        InvalidIdentity: the run's context names a requester that cannot be compared (a
            graph invoked without the runner meets this at its first gated call; the
            runner refuses it at start). Nothing was written.
    """
    checked_requester(current.ledger.context, REQUESTER_KEY)
    store, ledger, clock = current.sync, current.ledger, current.store.clock
    for settled in _checked(ledger, call, _history(ledger, call, store)):
        _ask(settled, clock, current.deferred)
    step = ledger.step(call, store)
    while isinstance(step, Wait):
        decision = _ask(step.request, clock, current.deferred)
        if decision is not None:
            _record(store, step.request, decision)
        step = ledger.step(call, store)
    return step


async def areview(current: Active, call: GatedCall) -> Step:
    """Async twin of `review`."""
    checked_requester(current.ledger.context, REQUESTER_KEY)
    store, ledger, clock = current.store, current.ledger, current.store.clock
    for settled in _checked(ledger, call, await _ahistory(ledger, call, store)):
        _ask(settled, clock, current.deferred)
    step = await ledger.astep(call, store)
    while isinstance(step, Wait):
        decision = _ask(step.request, clock, current.deferred)
        if decision is not None:
            await _arecord(store, step.request, decision)
        step = await ledger.astep(call, store)
    return step


def _record(store: ApprovalStore, request: ApprovalRequest, decision: AnyDecision) -> None:
    with contextlib.suppress(AlreadyDecided):  # decided meanwhile: the store's decision stands
        store.decide(request.id, decision)


async def _arecord(store: AwaitableStore, request: ApprovalRequest, decision: AnyDecision) -> None:
    with contextlib.suppress(AlreadyDecided):
        await store.adecide(request.id, decision)


def _checked(
    ledger: CallLedger, call: GatedCall, history: list[ApprovalRequest]
) -> list[ApprovalRequest]:
    """`history`, once the call is known to be the one its approval request reviewed.

    Checked before any turn is taken: a call rewritten in the checkpoint (by
    ``graph.update_state``, say) is refused before it can re-pause on a decided request.
    """
    for request in history:
        if request.kind != "recovery":
            ledger.check_reviewed(call, request)
    return history


def _history_ids(ledger: CallLedger, call: GatedCall) -> list[str]:
    """The ids of every request the call can have had, in the order it had them."""
    ids = [request_id(ledger.run_id, call.call_id)]
    record = ledger.records.get(call.call_id)
    if record is not None:
        ids += [
            request_id(ledger.run_id, f"{call.call_id}\x00recovery:{attempt}")
            for attempt in range(1, record.attempt + 1)
        ]
    return ids


def _history(ledger: CallLedger, call: GatedCall, store: ApprovalStore) -> list[ApprovalRequest]:
    """The call's answered requests before its first pending one (each took a turn)."""
    found: list[ApprovalRequest] = []
    for rid in _history_ids(ledger, call):
        try:
            request = store.get(rid)
        except UnknownRequest:
            continue
        if request.is_pending:
            break
        found.append(request)
    return found


async def _ahistory(
    ledger: CallLedger, call: GatedCall, store: AwaitableStore
) -> list[ApprovalRequest]:
    """Async twin of `_history`."""
    found: list[ApprovalRequest] = []
    for rid in _history_ids(ledger, call):
        try:
            request = await store.aget(rid)
        except UnknownRequest:
            continue
        if request.is_pending:
            break
        found.append(request)
    return found
