"""What can go wrong between a stored Agents SDK run and this process, as hitl_core errors.

A pending call that differs from the request a human reviewed is the core's `CallRefused`.
Every class here subclasses a `hitl_core.errors` base, so a caller that catches
`InvalidRunState`, `InvalidInput` or `AdapterError` catches these too; the SDK's own
exceptions never leave the adapter without being translated (the original is chained as
``__cause__``). Each message says what was found and that the stored run is unchanged::

    InvalidRunState
    ├── RunStateUnreadable     not JSON, truncated, or refused by ``RunState.from_json``
    └── AgentGraphMismatch     saved by a different agent graph (agents or tools missing)
    InvalidInput
    └── CallNotPending         a decision for a call id the stored state does not wait on
    AdapterError
    ├── CannotGate             the policy may gate a tool or handoff the SDK cannot pause
    ├── TurnLimitReached       the model kept calling tools past ``max_turns``
    ├── AgentRunFailed         the SDK raised while running (model or tool failure)
    └── SyncCallInEventLoop    ``start``/``resume`` called where ``astart``/``aresume`` belong
"""

from __future__ import annotations

from collections.abc import Iterable

from hitl_core.errors import AdapterError, InvalidInput, InvalidRunState

__all__ = [
    "AgentGraphMismatch",
    "AgentRunFailed",
    "CallNotPending",
    "CannotGate",
    "RunStateUnreadable",
    "SyncCallInEventLoop",
    "TurnLimitReached",
]


class RunStateUnreadable(InvalidRunState):
    """The stored text is not a `RunState` the SDK can read (corrupt or truncated)."""


class AgentGraphMismatch(InvalidRunState):
    """The stored state names agents or tools this runner's agent graph does not have."""

    missing: list[str]

    def __init__(self, run_id: str, missing: Iterable[str]) -> None:
        names = sorted(set(missing))
        super().__init__(
            run_id,
            f"it was saved by a different agent graph; this one has no {', '.join(names)}. "
            "Resume it with the agents and tools that paused it",
        )
        self.missing = names


class CallNotPending(InvalidInput):
    """A decision for a call the stored run is not waiting on."""

    run_id: str
    call_id: str
    pending: list[str]

    def __init__(self, run_id: str, call_id: str, pending: Iterable[str]) -> None:
        waiting = list(pending)
        super().__init__(
            f"Run {run_id} is not waiting on call {call_id!r}; it waits on: "
            f"{', '.join(waiting) or '(nothing)'}. Decide one of those. The stored state "
            "and its requests are unchanged.",
            run_id=run_id,
            call_id=call_id,
            pending=waiting,
        )


class CannotGate(AdapterError):
    """The policy may require approval for a tool or handoff the Agents SDK runs unasked.

    Raised when the runner is built (nothing is gated yet), so that no call the policy
    names ever runs with nobody asked.
    """

    agent: str
    tool: str
    why: str

    def __init__(self, agent: str, tool: str, why: str) -> None:
        super().__init__(
            f"The policy may require approval for {tool!r} on agent {agent!r}, but {why}, so "
            f"such a call would run with nobody asked. Gate what it leads to instead, or "
            f"exempt it explicitly with a never() rule for {tool!r}. Nothing was gated.",
            agent=agent,
            tool=tool,
            why=why,
        )


class TurnLimitReached(AdapterError):
    """The model kept calling tools past `max_turns`; the run is saved as failed."""

    run_id: str
    max_turns: int

    def __init__(self, run_id: str, max_turns: int) -> None:
        super().__init__(
            f"Run {run_id} took {max_turns} model turns without a final answer and was "
            "stopped. Raise max_turns or check the agent's instructions.",
            run_id=run_id,
            max_turns=max_turns,
        )


class AgentRunFailed(AdapterError):
    """The Agents SDK raised while running; the stored run is as it was before this pass."""

    run_id: str
    problem: str

    def __init__(self, run_id: str, problem: str) -> None:
        super().__init__(
            f"Run {run_id} failed inside the Agents SDK: {problem}. The stored run is as "
            "it was before this pass: a paused run can be resumed again once the cause is fixed.",
            run_id=run_id,
            problem=problem,
        )


class SyncCallInEventLoop(AdapterError):
    """A blocking twin called from inside a running event loop."""

    call: str

    def __init__(self, call: str) -> None:
        super().__init__(
            f"{call}() blocks, and this thread is running an event loop. Use "
            f"`await a{call}(...)` instead. Nothing was run.",
            call=call,
        )
