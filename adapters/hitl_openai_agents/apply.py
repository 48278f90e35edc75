"""Move 4's core: what the ledger says of each call the reloaded state waits on, applied.

For each interruption the ledger gives the next step (a stored decision wins over the
policy; the call must be exactly the one reviewed, else `CallRefused`). A call still
waiting stays an interruption. Everything else is let through to its gated tool, whose
invoker, executor or editor asks the ledger again and runs the call (approve, edit),
answers it (respond, or a call already recorded) or refuses it; a rejection, an abandoned
unknown outcome, or a call that cannot run at all becomes ``state.reject`` with the core's
text. A hosted MCP call runs on OpenAI's side, so it is approved only to run as reviewed
(anything else is sent back as a rejection with the text the model should read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agents import ToolApprovalItem

from hitl_core.calls import Answer, Run, Wait
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores import CallStatus
from hitl_core.stores.awaitable import AwaitableStore
from hitl_openai_agents.calls import call_id_of, call_of
from hitl_openai_agents.errors import CallNotPending
from hitl_openai_agents.scope import ReleasedPatch, RunScope
from hitl_openai_agents.snapshot import AgentState, item_kind

__all__ = ["Applied", "check_decided_calls", "let_through"]


@dataclass
class Applied:
    """What applying the recorded decisions to a reloaded state did."""

    released: int = 0
    """Calls let through (approved or rejected in the state) for the next ``Runner.run``."""
    waiting: list[ApprovalRequest] = field(default_factory=list)
    """Requests nobody has decided yet, in call order."""


async def check_decided_calls(
    store: AwaitableStore, run_id: str, waits_on: Sequence[ToolApprovalItem]
) -> None:
    """Refuse a run with a decision for a call its stored state does not wait on.

    Raises:
        CallNotPending: a rolled-back or edited state dropped a decided call; nothing is
            written, so the state can be restored and resumed.
    """
    calls = {call_id_of(i) for i in waits_on}
    decided = await store.alist_requests(status=RequestStatus.DECIDED, run_id=run_id)
    stray = [r for r in decided.items if r.action.call_id not in calls and r.kind != "recovery"]
    if stray:
        raise CallNotPending(run_id, stray[0].action.call_id, sorted(calls))


async def let_through(
    scope: RunScope, state: AgentState, items: Sequence[ToolApprovalItem]
) -> Applied:
    """Approve or reject in `state` every interruption the ledger no longer holds back.

    Raises:
        CallRefused: a call is not the one its request reviewed; nothing ran.
    """
    done = Applied()
    scope.patches[:] = [p for p in scope.patches if p.seen < len(p.operations)]
    context = state._context
    assert context is not None, "a RunState always carries its context"
    for item in items:
        kind = item_kind(item)
        call = await call_of(item, scope, context)
        scope.proposed[call.call_id] = call
        step = await scope.ledger.astep(call, scope.store)
        if call.problem is not None and kind == "function_call":
            state.approve(item)  # nothing can run: the SDK's invoker tells the model why
            done.released += 1
            continue
        if isinstance(step, Wait):
            done.waiting.append(step.request)
            continue
        record = scope.ledger.records.get(call.call_id)
        settled_here = record is None or record.status is CallStatus.ABANDONED
        if kind == "mcp_approval_request" and not isinstance(step, Run):
            state.reject(item, rejection_message=step.content)  # never run it remotely
        elif isinstance(step, Answer) and step.is_error and settled_here:
            state.reject(item, rejection_message=step.content)
        else:  # approve, edit, respond, a recorded call: the gated tool applies it
            if kind == "apply_patch_call":
                scope.patches.append(ReleasedPatch(call, list(call.args["operations"])))
            state.approve(item)
        done.released += 1
    return done
