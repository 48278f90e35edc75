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
    LEASED = "leased"
    """One pass at a time: two processes resuming one run get one execution and a `RunBusy`."""
    CRASH_SAFE = "crash_safe"
    """A crash between a call's effect and its record leaves an unknown outcome for a person,
    never a silent re-run."""
    FENCED = "fenced"
    """A pass whose lease was taken over during a long tool writes nothing more, and the call
    does not run a second time."""
    REVIEWED_ONLY = "reviewed_only"
    """Only the reviewed call runs: a tampered request or snapshot makes the run refuse."""
    DECISION_STANDS = "decision_stands"
    """A recorded decision wins over the policy: relaxing it after a reject runs nothing."""
    AUTHOR_GATES = "author_gates"
    """A tool's own approval flag is kept: a policy adds gates, never removes one."""
    TOOL_FAILURE = "tool_failure"
    """A tool that raises is recorded once and never run again."""
    RUN_FAILURE = "run_failure"
    """A pass that raises leaves the run failed with its error recorded, and a retry runs
    nothing twice."""
    UNKNOWN_TOOL = "unknown_tool"
    """A call to a tool that does not exist runs nothing and asks nobody."""


MUST: frozenset[Capability] = frozenset(
    {
        Capability.APPROVE,
        Capability.REJECT,
        Capability.THRESHOLD,
        Capability.PERSIST,
        Capability.EXACTLY_ONCE,
        Capability.BOUND_DECISION,
        Capability.LEASED,
        Capability.CRASH_SAFE,
        Capability.FENCED,
        Capability.REVIEWED_ONLY,
        Capability.DECISION_STANDS,
        Capability.TOOL_FAILURE,
        Capability.RUN_FAILURE,
        Capability.UNKNOWN_TOOL,
    }
)
"""Every adapter needs these for level BASE."""

MAY: frozenset[Capability] = frozenset(Capability) - MUST
"""Optional; all of them (with every MUST) make level FULL."""
