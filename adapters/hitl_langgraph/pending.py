"""Reading a paused graph's interrupts as core requests, and answering them.

Pure functions of the interrupts and the stored requests, so the runner's sync and async
halves share them and differ only in their I/O. An interrupt raised by one of our gates
carries its request; any other goes through the runner's codec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph.types import Interrupt

from hitl_core.decisions import AnyDecision, Approve
from hitl_core.policy import Policy
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.validation import bind_decision
from hitl_langgraph.codec import InterruptCodec
from hitl_langgraph.errors import ForeignInterrupt, UnknownInterrupt
from hitl_langgraph.payload import decision_of, request_of, resume_value
from hitl_langgraph.scope import ADAPTER

__all__ = ["POLICY_REVIEWER", "Reader", "Waiting", "bind_all", "is_settled"]

POLICY_REVIEWER = "hitl:policy"
"""The `by` of approvals the policy gives on its own (calls it does not gate)."""


@dataclass(frozen=True)
class Waiting:
    """One interrupt the run waits on, as a core request."""

    interrupt_id: str
    request: ApprovalRequest
    """The request as the interrupt describes it; the stored copy holds the decision."""
    native: bool
    """Raised by a hitl gate (True) or read through the codec (False)."""


def is_settled(request: ApprovalRequest) -> bool:
    """Answered (decided or expired) or already applied: the run can go on."""
    return request.is_answered or request.status is RequestStatus.RESUMED


class Reader:
    """Turns a paused graph's interrupts into `Waiting` requests.

    Args:
        codec: translates interrupts the graph raises with its own payload.
        policy: gates codec interrupts; calls it does not gate are approved at once.
    """

    def __init__(self, codec: InterruptCodec | None, policy: Policy | None) -> None:
        self.codec = codec
        self.policy = policy

    def read(
        self,
        run_id: str,
        interrupts: Sequence[Interrupt],
        context: Mapping[str, Any],
        now: datetime,
    ) -> tuple[list[Waiting], dict[str, Any]]:
        """The requests the run waits on, in order, and resume values for interrupts the
        policy lets through without a human.

        Raises:
            ForeignInterrupt: an interrupt that is not ours and there is no codec.
        """
        waiting: list[Waiting] = []
        through: dict[str, Any] = {}
        for item in interrupts:
            request = request_of(item.value)
            if request is not None:
                waiting.append(Waiting(item.id, request, native=True))
                continue
            if self.codec is None:
                raise ForeignInterrupt(run_id, item.id, item.value)
            request, required = self._foreign(run_id, item, context, now)
            if required:
                waiting.append(Waiting(item.id, request, native=False))
            else:
                approval = Approve(by=POLICY_REVIEWER, feedback=request.reason, at=now)
                through[item.id] = self.codec.to_resume(approval, request)
        return waiting, through

    def _foreign(
        self, run_id: str, item: Interrupt, context: Mapping[str, Any], now: datetime
    ) -> tuple[ApprovalRequest, bool]:
        assert self.codec is not None
        action = self.codec.to_action(item.value, item.id)
        allowed = self.codec.allowed
        reason, required, expires_in, on_expiry = self.codec.reason(item.value), True, None, None
        if self.policy is not None:
            verdict = self.policy.check(action.tool, action.args, context)
            required, reason = verdict.required, verdict.reason
            allowed = tuple(k for k in verdict.allowed if k in allowed) or allowed
            expires_in, on_expiry = verdict.expires_in, verdict.on_expiry
        request = ApprovalRequest.create(
            run_id=run_id,
            adapter=ADAPTER,
            action=action,
            reason=reason,
            allowed=allowed,
            context=context,
            now=now,
            expires_in=expires_in,
            on_expiry=on_expiry,
        )
        return request, required

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
    now: datetime,
) -> list[tuple[str, AnyDecision]]:
    """Check every resume value before any is recorded: (request id, decision) pairs.

    Args:
        decisions: interrupt id or request id -> a decision (see `decision_of`).
        by: the authenticated reviewer, for payloads that carry no identity.

    Raises:
        UnknownInterrupt: a key names no pending interrupt or request.
        InvalidInput / StateConflict: a value is not a decision the request accepts.
    """
    by_key = {w.interrupt_id: w for w in waiting} | {w.request.id: w for w in waiting}
    bound: list[tuple[str, AnyDecision]] = []
    for key, value in decisions.items():
        match = by_key.get(key)
        if match is None:
            raise UnknownInterrupt(thread_id, key, [w.interrupt_id for w in waiting])
        request = stored[match.request.id]
        bound.append((request.id, bind_decision(request, decision_of(value, by=by), now)))
    return bound
