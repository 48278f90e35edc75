"""Move 4's core: which recorded decisions apply to the reloaded state, and how.

Each call the stored state waits on has a request (id from run id + call id). The request
must show exactly that call (tool and argument digest): otherwise the state is not the
one a human reviewed and nothing runs. A decided request becomes ``state.approve`` (approve,
edit, respond: the gated tool applies the decision) or ``state.reject`` with the core's
rejection text; a pending one keeps its call waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agents import ToolApprovalItem

from hitl_core.errors import UnknownRequest
from hitl_core.identity import request_id
from hitl_core.outcomes import Answer, resolve
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_openai_agents.errors import CallNotPending, RunStateTampered
from hitl_openai_agents.snapshot import AgentState, call_id_of, check_reviewed
from hitl_openai_agents.stores import StoreView

__all__ = ["Applied", "apply_decisions"]


@dataclass
class Applied:
    """What applying the recorded decisions to a reloaded state did."""

    released: dict[str, ApprovalRequest] = field(default_factory=dict)
    """Call id -> the request whose decision lets the call through to its gated tool."""
    applied: list[str] = field(default_factory=list)
    """Ids of the requests applied, in call order: marked resumed with the next save."""
    waiting: list[ApprovalRequest] = field(default_factory=list)
    """Requests nobody has decided yet, in call order."""


async def apply_decisions(
    store: StoreView, run_id: str, state: AgentState, waits_on: Sequence[ToolApprovalItem]
) -> Applied:
    """Apply every recorded decision on the calls `state` waits on, to `state` (in memory).

    Raises:
        RunStateTampered: a call has no request, or not the one it waits on.
        CallNotPending: the run has a decided request for a call the state does not wait on.
        Nothing is written either way: the stored run and its requests are unchanged.
    """
    items = {request_id(run_id, call_id_of(i)): i for i in waits_on}
    done = Applied()
    for rid, item in items.items():
        request = await _reviewed(store, run_id, rid, item)
        if request.is_pending:
            done.waiting.append(request)
            continue
        resolution = resolve(request)
        if isinstance(resolution, Answer) and resolution.is_error:
            state.reject(item, rejection_message=resolution.content)
        else:  # approve, edit and respond all let the call through to the gated tool
            state.approve(item)
            done.released[call_id_of(item)] = request
        done.applied.append(rid)
    stray = [r for r in await store.adecided(run_id) if r.id not in items]
    if stray:
        raise CallNotPending(run_id, stray[0].action.call_id, map(call_id_of, waits_on))
    return done


async def _reviewed(
    store: StoreView, run_id: str, rid: str, item: ToolApprovalItem
) -> ApprovalRequest:
    """The request a human reviews for `item`, checked to show exactly that call."""
    try:
        request = await store.aget(rid)
    except UnknownRequest:
        raise RunStateTampered(
            run_id, call_id_of(item), "has no approval request in the store"
        ) from None
    check_reviewed(run_id, item, request)
    if request.status in (RequestStatus.RESUMED, RequestStatus.CANCELLED):
        raise RunStateTampered(
            run_id,
            call_id_of(item),
            f"waits on request {rid}, which is already {request.status.value}",
        )
    return request
