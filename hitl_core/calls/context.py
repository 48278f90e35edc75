"""The call a tool is running for, readable from inside the tool in every framework.

The ledger sets it around each tool invocation, so a tool can hand its call's stable
idempotency key to a downstream API (a payment provider's ``Idempotency-Key`` header)::

    def send_payment(amount: float, recipient: str) -> str:
        call = current_call()
        bank.pay(amount, recipient, idempotency_key=call.idempotency_key if call else None)

Context variables follow asyncio tasks and LangGraph's executor threads, so this works in
the plain loop, in LangGraph nodes and tools, and in Agents SDK tools alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from hitl_core.calls.model import CallInfo

__all__ = ["current_call", "using_call"]

_CURRENT: ContextVar[CallInfo | None] = ContextVar("hitl_current_call", default=None)


def current_call() -> CallInfo | None:
    """The call the running tool executes for, or None outside a ledger-run tool."""
    return _CURRENT.get()


@contextmanager
def using_call(info: CallInfo) -> Iterator[None]:
    """Make `info` the current call for the code inside."""
    token = _CURRENT.set(info)
    try:
        yield
    finally:
        _CURRENT.reset(token)
