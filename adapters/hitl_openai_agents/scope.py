"""What a gated tool needs to know about the run it executes in, carried by a context variable.

The SDK calls a tool with its own `ToolContext`; it knows nothing of hitl-kit's run id,
store or recorded decisions. The runner puts a `RunScope` in a context variable for the
length of one pass (`Runner.run` to the next pause or the end). asyncio copies context
variables into every task it starts, so the tools of a sub-agent run by ``Agent.as_tool``
see the scope of the root run too, and so raise and read requests under the root run id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from dataclasses import dataclass, field
from typing import TypeVar

from hitl_core.errors import UnknownRequest
from hitl_core.identity import request_id
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import ExecutionRecord
from hitl_openai_agents.errors import RunStateTampered
from hitl_openai_agents.stores import StoreView

__all__ = ["ADAPTER", "RunScope", "active_scope", "call_in_scope", "current_scope"]

ADAPTER = "hitl_openai_agents"
"""The adapter name on this adapter's runs, requests and executions."""

T = TypeVar("T")


@dataclass
class RunScope:
    """One pass of one run, as the gated tools see it."""

    run_id: str
    """The root run's id: every request and execution record of the pass is filed under it."""
    store: StoreView
    executions: dict[str, ExecutionRecord]
    """Calls recorded as executed, by call id, loaded when the pass began: never run twice."""
    released: dict[str, ApprovalRequest] = field(default_factory=dict)
    """Calls a human decision lets through in this pass (approve, edit, respond), by call id."""
    ungated: set[str] = field(default_factory=set)
    """Calls the policy let through in this pass, which no human decision concerns."""

    async def decision_for(self, call_id: str) -> ApprovalRequest | None:
        """The request whose decision released `call_id`, when it is not in `released`.

        A sub-agent keeps the calls it was approved until every call of its turn is
        decided, so a call may run a pass or more after its decision was applied.
        """
        request = self.released.get(call_id)
        if request is not None or call_id in self.ungated:
            return request
        try:
            request = await self.store.aget(request_id(self.run_id, call_id))
        except UnknownRequest:
            return None
        if request.is_pending:
            raise RunStateTampered(self.run_id, call_id, "runs, but nobody has decided it")
        self.released[call_id] = request
        return request


_SCOPE: ContextVar[RunScope | None] = ContextVar("hitl_openai_agents_scope", default=None)


def current_scope() -> RunScope | None:
    """The scope of the pass this code runs in, or None outside a runner's pass."""
    return _SCOPE.get()


@contextmanager
def active_scope(scope: RunScope) -> Iterator[RunScope]:
    """Make `scope` current for the block (and for every task started inside it)."""
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def call_in_scope(scope: RunScope, start: Callable[[], T]) -> T:
    """Call `start` with `scope` current, leaving the caller's context untouched.

    For ``Runner.run_streamed``, which starts its task before returning: the task keeps a
    copy of the context it was started in, so the scope lives exactly as long as the run.
    """
    context = copy_context()
    context.run(_SCOPE.set, scope)
    return context.run(start)
