"""What a gated tool needs to know about the run it executes in, carried by a context variable.

The SDK calls a tool with its own `ToolContext`; it knows nothing of hitl-kit's run, store
or ledger. The runner puts a `RunScope` in a context variable for the length of one pass
(`Runner.run` to the next pause or the end). asyncio copies context variables into every
task it starts, so the tools of a sub-agent run by ``Agent.as_tool`` see the scope of the
root run too, and so raise and read requests under the root run id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hitl_core.calls import CallLedger, GatedCall
from hitl_core.errors import HITLError, UnknownRequest
from hitl_core.identity import request_id
from hitl_core.stores import CallStatus
from hitl_core.stores.awaitable import AwaitableStore

__all__ = [
    "ADAPTER",
    "ReleasedPatch",
    "RunScope",
    "active_scope",
    "call_in_scope",
    "current_scope",
]

ADAPTER = "hitl_openai_agents"
"""The adapter name on this adapter's runs, requests and ledger lines."""

T = TypeVar("T")


@dataclass
class ReleasedPatch:
    """An ``apply_patch`` call let through to the SDK, waiting for its editor calls.

    The SDK hands the editor one operation at a time and never the call id, so the gated
    editor recognises a call by its operations, in order (`RunScope.take_patch`).
    """

    call: GatedCall
    """The call as it was reviewed (``{"operations": [...]}``)."""
    operations: list[dict[str, Any]]
    """The operations the model proposed, which the SDK will hand the editor one by one."""
    seen: int = 0
    """How many of them the editor has been handed so far."""


@dataclass
class RunScope:
    """One pass of one run, as the gated tools see it."""

    run_id: str
    """The root run's id: every request and ledger line of the pass is filed under it."""
    store: AwaitableStore
    ledger: CallLedger
    proposed: dict[str, GatedCall] = field(default_factory=dict)
    """Call id -> the call as the gate saw it in this pass, with why the tool's own
    setting asks for a human (``required_by``; None: it does not)."""
    patches: list[ReleasedPatch] = field(default_factory=list)
    """``apply_patch`` calls let through in this pass, in call order."""
    raised: list[HITLError] = field(default_factory=list)
    """hitl-kit errors raised inside shell and patch tools, whose failures the SDK turns
    into text for the model: the runner raises the first once ``Runner.run`` returns."""

    async def needs_human(self, call: GatedCall) -> bool:
        """Whether the SDK must stop before `call` (the ledger's verdict, reviews included).

        A call the ledger has settled runs (its invoker answers from the record); a call
        with a stored request, or one a crash left claimed, waits for the runner to apply
        what a person decided.
        """
        record = self.ledger.records.get(call.call_id)
        if record is not None and record.is_settled:
            return False
        if record is not None and record.status is not CallStatus.SUSPENDED:
            return True  # claimed and never settled: a person must resolve it first
        try:
            await self.store.aget(request_id(self.run_id, call.call_id))
        except UnknownRequest:
            return self.ledger.verdict(call).required
        return True

    def take_patch(self, tool: str, operation: dict[str, Any]) -> tuple[ReleasedPatch, int] | None:
        """The released ``apply_patch`` call the editor's `operation` belongs to, and its
        position in that call; None when no released call proposed it (nothing may run)."""
        for patch in self.patches:
            ops = patch.operations
            if patch.call.tool == tool and patch.seen < len(ops) and ops[patch.seen] == operation:
                patch.seen += 1
                return patch, patch.seen - 1
        return None


_SCOPE: ContextVar[RunScope | None] = ContextVar("hitl_run_scope", default=None)


def current_scope() -> RunScope | None:
    """The scope of the pass running now, or None outside an `ApprovalRunner` pass."""
    return _SCOPE.get()


@contextmanager
def active_scope(scope: RunScope) -> Iterator[None]:
    """Make `scope` current for the code inside (a whole ``Runner.run``)."""
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def call_in_scope(scope: RunScope, function: Callable[[], T]) -> T:
    """Call `function` in a copy of this context where `scope` is current.

    ``Runner.run_streamed`` starts its run as a task when called; the task copies the
    caller's context then, so the scope only has to be current for that call.
    """
    context = copy_context()
    context.run(_SCOPE.set, scope)
    return context.run(function)
