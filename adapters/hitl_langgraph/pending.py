"""Reading a paused graph's interrupts as core requests, and the values that resume them.

An interrupt raised by one of our gates carries its request. Any other goes through the
runner's codec: it becomes a `GatedCall` the ledger treats like any other, except that the
graph's own node does the work after its resume value, so nothing is claimed for it. The
graph asked, so a person is always asked: a policy only sets the terms (who, which kinds,
how long), never lets the graph's own question through unanswered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph.types import Interrupt

from hitl_core.access import Reviewer, check_decider
from hitl_core.calls import GatedCall
from hitl_core.calls.verdicts import request_for, verdict_for
from hitl_core.decisions import AnyDecision
from hitl_core.policy import Policy
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.validation import bind_decision
from hitl_langgraph.codec import InterruptCodec
from hitl_langgraph.errors import ForeignInterrupt, UnknownInterrupt
from hitl_langgraph.payload import decision_of, request_of, resume_value
from hitl_langgraph.scope import ADAPTER

__all__ = ["Reader", "Waiting", "bind_all", "is_settled"]


@dataclass(frozen=True)
class Waiting:
    """One interrupt the run waits on, as a core request."""

    interrupt_id: str
    request: ApprovalRequest
    """The request as the interrupt describes it; the stored copy holds the decision."""
    call: GatedCall | None = None
    """For an interrupt read through the codec: the call, as the ledger sees it."""

    @property
    def native(self) -> bool:
        """Raised by a hitl gate (True) or read through the codec (False)."""
        return self.call is None


def is_settled(request: ApprovalRequest) -> bool:
    """Answered (decided or expired) or already applied: the run can go on."""
    return request.is_answered or request.status is RequestStatus.RESUMED


class Reader:
    """Turns a paused graph's interrupts into `Waiting` requests.

    Args:
        codec: translates interrupts the graph raises with its own payload.
        policy: the terms of codec interrupts' requests (who may decide, which kinds,
            expiry), by their tool's rule.
    """

    def __init__(self, codec: InterruptCodec | None, policy: Policy | None) -> None:
        self.codec = codec
        self.policy = policy or Policy()

    def read(
        self,
        run_id: str,
        interrupts: Sequence[Interrupt],
        context: Mapping[str, Any],
        now: datetime,
    ) -> list[Waiting]:
        """The requests the run waits on, in order.

        Raises:
            ForeignInterrupt: an interrupt that is not ours and there is no codec.
        """
        waiting: list[Waiting] = []
        for item in interrupts:
            request = request_of(item.value)
            if request is not None:
                waiting.append(Waiting(item.id, request))
                continue
            if self.codec is None:
                raise ForeignInterrupt(run_id, item.id, item.value)
            call = self.call_of(item)
            verdict = verdict_for(self.policy, call, dict(context), ask_human=False)
            fresh = request_for(
                call,
                verdict,
                run_id=run_id,
                adapter=ADAPTER,
                context=dict(context),
                now=now,
                ask_human=False,
            )
            waiting.append(Waiting(item.id, fresh, call))
        return waiting

    def call_of(self, item: Interrupt) -> GatedCall:
        """The call a codec interrupt proposes; its graph's own question makes it gated."""
        assert self.codec is not None
        action = self.codec.to_action(item.value, item.id)
        return GatedCall(
            tool=action.tool,
            args=dict(action.args),
            call_id=action.call_id,
            schema=action.args_schema,
            required_by=self.codec.reason(item.value),
            allowed=self.codec.allowed,
        )

    def resume_value(self, waiting: Waiting, stored: ApprovalRequest) -> Any:
        """The value that resumes `waiting`'s interrupt with `stored`'s decision."""
        if waiting.native:
            return resume_value(stored)
        assert self.codec is not None
        assert stored.decision is not None
        return self.codec.to_resume(stored.decision, stored)


def bind_all(
    thread_id: str,
    waiting: Sequence[Waiting],
    stored: Mapping[str, ApprovalRequest],
    decisions: Mapping[str, Any],
    *,
    by: str | None,
    roles: Sequence[str] = (),
    now: datetime,
) -> list[tuple[str, AnyDecision]]:
    """Check every resume value before any is recorded: (request id, decision) pairs.

    Args:
        decisions: interrupt id or request id -> a decision (see `decision_of`).
        by: the authenticated reviewer, for payloads that carry no identity.
        roles: that reviewer's roles, as authenticated.

    Raises:
        UnknownInterrupt: a key names no pending interrupt or request.
        InvalidInput / StateConflict: a value is not a decision the request accepts.
        NotAuthorized / SelfApproval: its reviewer may not decide that request.
    """
    by_key = {w.interrupt_id: w for w in waiting} | {w.request.id: w for w in waiting}
    bound: list[tuple[str, AnyDecision]] = []
    for key, value in decisions.items():
        match = by_key.get(key)
        if match is None:
            raise UnknownInterrupt(thread_id, key, [w.interrupt_id for w in waiting])
        request = stored[match.request.id]
        decision = bind_decision(request, decision_of(value, by=by), now)
        check_decider(request, Reviewer(id=decision.by, roles=tuple(roles)), decision.kind)
        bound.append((request.id, decision))
    return bound
