"""What an adapter tells the core about a call, and what the core tells it to do next.

An adapter translates its framework's tool call into a `GatedCall` and asks the run's
`CallLedger` for the next `Step`: `Wait` on a person, `Answer` the call without running
anything, or `Run` it (through `CallLedger.run`, which claims it first). That is all an
adapter decides: whether a call runs, what it runs with, and what the model reads are the
core's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hitl_core.decisions import DecisionKind
from hitl_core.outcomes import Answer, RunTool
from hitl_core.requests import ApprovalRequest

__all__ = ["Answer", "CallInfo", "Executed", "GatedCall", "Ran", "Run", "Step", "Wait"]


@dataclass(frozen=True, slots=True)
class GatedCall:
    """One tool call of a run, as the framework proposes it."""

    tool: str
    """The tool's name, as the model called it."""
    args: dict[str, Any]
    """The arguments exactly as the model sent them (a JSON object)."""
    call_id: str
    """The framework's id for the call, unique within the run."""
    schema: dict[str, Any] | None = None
    """JSON Schema of the tool's arguments: edits are validated against it."""
    required_by: str | None = None
    """The reason the framework or the tool's author requires approval (a tool's own
    ``needs_approval``, a plan's validator): the policy may add a gate, never remove one."""
    allowed: tuple[DecisionKind, ...] | None = None
    """Decision kinds the framework can carry out for this call (None: all the policy allows)."""
    problem: str | None = None
    """Why the call cannot run at all (an unknown tool, malformed arguments): the model is
    told this and nobody is asked."""
    idempotent: bool = False
    """The tool is safe to run again: a claim a crash left unsettled is retried, not
    surfaced to a person."""
    composite: bool = False
    """An agent used as a tool: it has no side effect of its own (its calls go through the
    ledger themselves), so it is recorded when it finishes, not claimed before it starts."""


@dataclass(frozen=True, slots=True)
class Wait:
    """The call waits on a person: `request` is pending (and `new` if raised just now)."""

    request: ApprovalRequest
    new: bool = False


@dataclass(frozen=True, slots=True)
class Run:
    """The call may run, with `args`; hand this to `CallLedger.run` to claim and run it."""

    call: GatedCall
    args: dict[str, Any]
    """Exactly what runs: the proposed arguments, or a reviewer's edit."""
    request: ApprovalRequest | None = None
    """The request whose decision released it; None when no person was asked."""
    review: RunTool | None = None
    """The decision's effect on what the model is told (the edit notice, feedback)."""
    attempt: int = 1
    """Which claim of the call this is (above 1: a retry after an unknown outcome)."""


Step = Wait | Answer | Run
"""What to do with one call next."""


@dataclass(frozen=True, slots=True)
class Executed:
    """What a framework's tool produced: the text of its result, and its own reply object."""

    output: str
    is_error: bool = False
    reply: Any = None
    """The framework's result object (a LangGraph `ToolMessage` or `Command`), passed back."""
    suspended: bool = False
    """The tool paused on a person itself (a sub-agent waits on an approval): not done."""


@dataclass(frozen=True, slots=True)
class Ran:
    """A call the ledger ran (or replayed): what the model reads for it."""

    content: str
    """The recorded result, after the edit notice and feedback."""
    is_error: bool
    reply: Any = None
    """The framework's own reply, when it ran in this pass (None when replayed)."""
    suspended: bool = False
    """The tool paused on a person itself; it runs again (next attempt) on resume."""


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What a running tool can know about its own call (`hitl_core.calls.current_call`)."""

    run_id: str
    call_id: str
    tool: str
    idempotency_key: str
    """Stable for the call across every attempt: hand it to downstream APIs."""
    attempt: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
