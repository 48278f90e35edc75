"""What an adapter can do, declared by the adapter and never inferred from its code."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MAY", "MUST", "Capability"]


class Capability(StrEnum):
    """One behaviour the suite can check. Tests name the capability they need."""

    APPROVE = "approve"
    """Approve runs exactly the proposed arguments."""
    REJECT = "reject"
    """Reject runs nothing and the model receives the feedback."""
    THRESHOLD = "threshold"
    """The policy gates on arguments: small calls run unattended, large ones pause."""
    PERSIST = "persist"
    """A paused run survives the process: it resumes in a fresh Python process."""
    EXACTLY_ONCE = "exactly_once"
    """No tool runs twice across pauses, resumes and repeated resumes."""
    BOUND_DECISION = "bound_decision"
    """A decision binds to its request and arguments: wrong, stale and second ones refused."""
    EDIT = "edit"
    """Edit runs corrected arguments and the model is told what ran."""
    RESPOND = "respond"
    """A human answer replaces the tool's result; the ask-human tool works."""
    PARALLEL = "parallel"
    """Several gated calls in one turn, decided separately."""
    EXPIRY = "expiry"
    """An unanswered request takes its configured expiry outcome."""
    NESTED = "nested"
    """A gated call inside an agent used as a tool pauses and resumes the whole run."""
    STREAMING = "streaming"
    """A streamed run surfaces its pause and resumes like a non-streamed one."""


MUST: frozenset[Capability] = frozenset(
    {
        Capability.APPROVE,
        Capability.REJECT,
        Capability.THRESHOLD,
        Capability.PERSIST,
        Capability.EXACTLY_ONCE,
        Capability.BOUND_DECISION,
    }
)
"""Every adapter needs these for level BASE."""

MAY: frozenset[Capability] = frozenset(Capability) - MUST
"""Optional; all of them (with every MUST) make level FULL."""
