"""Codecs: drive a graph that already calls `interrupt()` with its own payload, unchanged.

A codec translates both ways between the graph's own vocabulary and the core contract:
its interrupt value becomes a `ProposedAction` (so the store, policies, audit trail, CLI
and review surfaces see an ordinary request), and a recorded `Decision` becomes the
resume value the graph's own node reads. No node is edited.

For the payment graph whose gate reads ``decision["action"]``::

    codec = Codec(
        action=lambda value, interrupt_id: ProposedAction(
            tool="send_payment",
            args={"amount": value["amount"], "recipient": value["recipient"]},
            call_id=interrupt_id,
        ),
        resume=lambda decision, request: (
            {"action": "edit", **decision.args} if isinstance(decision, Edit)
            else {"action": decision.kind}
        ),
        allowed=("approve", "edit", "reject"),
    )
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hitl_core.actions import ProposedAction
from hitl_core.decisions import ALL_KINDS, AnyDecision, DecisionKind
from hitl_core.requests import ApprovalRequest

__all__ = ["Codec", "InterruptCodec"]


@runtime_checkable
class InterruptCodec(Protocol):
    """Translates one graph's interrupts to the core contract and decisions back."""

    @property
    def allowed(self) -> tuple[DecisionKind, ...]:
        """The decision kinds the graph's node understands."""
        ...

    def to_action(self, value: Any, interrupt_id: str) -> ProposedAction:
        """The call an interrupt value proposes.

        Its ``call_id`` must be stable across re-runs of the paused node: the interrupt
        id is (LangGraph derives it from the task's place in the checkpoint).
        """
        ...

    def to_resume(self, decision: AnyDecision, request: ApprovalRequest) -> Any:
        """The value to resume the graph's node with, for a recorded decision."""
        ...

    def reason(self, value: Any) -> str:
        """Why a human is asked, shown to reviewers when no policy gives a reason."""
        ...


@dataclass(frozen=True)
class Codec:
    """An `InterruptCodec` from two functions.

    Args:
        action: interrupt value and interrupt id -> the proposed call.
        resume: decision and its request -> the graph's resume value.
        allowed: the decision kinds the graph's node understands.
        describe: interrupt value -> the reviewer-facing reason (default: the value's
            ``question`` or ``reason`` field, else "the graph asks for approval").
    """

    action: Callable[[Any, str], ProposedAction]
    resume: Callable[[AnyDecision, ApprovalRequest], Any]
    allowed: tuple[DecisionKind, ...] = ALL_KINDS
    describe: Callable[[Any], str] | None = None

    def to_action(self, value: Any, interrupt_id: str) -> ProposedAction:
        return self.action(value, interrupt_id)

    def to_resume(self, decision: AnyDecision, request: ApprovalRequest) -> Any:
        return self.resume(decision, request)

    def reason(self, value: Any) -> str:
        if self.describe is not None:
            return self.describe(value)
        if isinstance(value, dict):
            for key in ("question", "reason", "description"):
                if isinstance(value.get(key), str):
                    return str(value[key])
        return "the graph asks for approval"
