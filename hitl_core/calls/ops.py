"""The ledger's logic is written once, as generators that yield the store operations they
need; `drive` performs them on a sync store and `adrive` awaits them on any store.

So the sync and async halves of every adapter run the same lines of logic and differ
only in how each operation's I/O is done, the way httpx's sync and async clients share
everything but their transports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from hitl_core.calls.model import CallInfo, Executed
from hitl_core.errors import UnknownRequest
from hitl_core.requests import ApprovalRequest
from hitl_core.stores.awaitable import AwaitableStore
from hitl_core.stores.base import ApprovalStore
from hitl_core.stores.calls import CallRecord
from hitl_core.stores.leases import Lease

__all__ = [
    "Claim",
    "Expire",
    "Find",
    "Invoke",
    "Op",
    "Put",
    "Settle",
    "adrive",
    "drive",
]

T = TypeVar("T")


class Op(Protocol):
    """One store operation (or the tool itself) the logic waits for."""

    def run(self, store: ApprovalStore) -> Any: ...

    async def arun(self, store: AwaitableStore) -> Any: ...


@dataclass(frozen=True)
class Find:
    """The stored request with this id, or None."""

    request_id: str

    def run(self, store: ApprovalStore) -> ApprovalRequest | None:
        try:
            return store.get(self.request_id)
        except UnknownRequest:
            return None

    async def arun(self, store: AwaitableStore) -> ApprovalRequest | None:
        try:
            return await store.aget(self.request_id)
        except UnknownRequest:
            return None


@dataclass(frozen=True)
class Expire:
    """Expire the run's due requests (a gate met one past its deadline)."""

    run_id: str

    def run(self, store: ApprovalStore) -> list[ApprovalRequest]:
        return store.expire_due(run_id=self.run_id)

    async def arun(self, store: AwaitableStore) -> list[ApprovalRequest]:
        return await store.aexpire_due(run_id=self.run_id)


@dataclass(frozen=True)
class Put:
    """Store a new request now (graphs driven without a runner write their own)."""

    request: ApprovalRequest

    def run(self, store: ApprovalStore) -> ApprovalRequest:
        return store.put(self.request)

    async def arun(self, store: AwaitableStore) -> ApprovalRequest:
        return await store.aput(self.request)


@dataclass(frozen=True)
class Claim:
    """Claim an attempt (or record a composite call that finished)."""

    record: CallRecord
    lease: Lease

    def run(self, store: ApprovalStore) -> CallRecord:
        return store.claim_call(self.record, self.lease)

    async def arun(self, store: AwaitableStore) -> CallRecord:
        return await store.aclaim_call(self.record, self.lease)


@dataclass(frozen=True)
class Settle:
    """Record what came of an attempt, with any recovery request."""

    record: CallRecord
    lease: Lease
    requests: Sequence[ApprovalRequest] = ()

    def run(self, store: ApprovalStore) -> CallRecord:
        return store.settle_call(self.record, self.lease, self.requests)

    async def arun(self, store: AwaitableStore) -> CallRecord:
        return await store.asettle_call(self.record, self.lease, self.requests)


@dataclass(frozen=True)
class Invoke:
    """Run the tool itself, with the call's identity readable as `current_call()`."""

    args: dict[str, Any]
    info: CallInfo
    sync: Callable[[dict[str, Any]], Executed] | None = None
    asynchronous: Callable[[dict[str, Any]], Awaitable[Executed]] | None = field(default=None)

    def run(self, store: ApprovalStore) -> Executed:
        from hitl_core.calls.context import using_call

        assert self.sync is not None, "a sync pass needs a sync tool invoker"
        with using_call(self.info):
            return self.sync(self.args)

    async def arun(self, store: AwaitableStore) -> Executed:
        from hitl_core.calls.context import using_call

        with using_call(self.info):
            if self.asynchronous is not None:
                return await self.asynchronous(self.args)
            assert self.sync is not None, "an invoker is needed"
            return self.sync(self.args)


def drive(logic: Generator[Op, Any, T], store: ApprovalStore) -> T:
    """Run `logic`, performing each operation it yields on `store`; its return value."""
    try:
        op = next(logic)
        while True:
            try:
                result = op.run(store)
            except Exception as error:  # the logic may handle it (UnknownRequest, say)
                op = logic.throw(error)
            else:
                op = logic.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value


async def adrive(logic: Generator[Op, Any, T], store: AwaitableStore) -> T:
    """Async twin of `drive`: each operation is awaited."""
    try:
        op = next(logic)
        while True:
            try:
                result = await op.arun(store)
            except Exception as error:
                op = logic.throw(error)
            else:
                op = logic.send(result)
    except StopIteration as stop:
        value: T = stop.value
        return value
