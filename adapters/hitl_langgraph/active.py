"""The pass a gate works in: the runner's, or one of its own when a graph runs without it.

Under `ApprovalRunner` the runner holds the run's lease and its `CallLedger` for the whole
pass and makes them current in a context variable (LangGraph copies context into the
threads and tasks that run nodes), so gates defer their new requests and applied decisions
to the runner's single save. A graph invoked directly has no runner: its gates share one
lease per run per process (parallel tool tasks of one invocation work side by side), store
their requests at once and mark applied ones resumed themselves.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hitl_core.calls import DEFAULT_LEASE, CallLedger, holder_id
from hitl_core.calls.keeper import AsyncLeaseKeeper, LeaseKeeper
from hitl_core.errors import RunBusy
from hitl_core.policy import Policy
from hitl_core.stores import ApprovalStore, Lease
from hitl_core.stores.awaitable import AnyStore, AwaitableStore
from hitl_langgraph.errors import SyncCallOnAsyncStore
from hitl_langgraph.scope import ADAPTER, Scope

__all__ = ["PAUSES", "Active", "aactive", "active", "runner_active", "sync_of"]

WAIT_FOR_LEASE = 30.0
"""Seconds a directly invoked graph's gate waits for another process's lease on the run."""


def _pauses() -> tuple[type[BaseException], ...]:
    from langgraph.errors import GraphBubbleUp

    return (GraphBubbleUp,)


PAUSES = _pauses()
"""How a tool pauses on a person inside LangGraph: an `interrupt()` bubbling up."""


@dataclass
class Active:
    """The ledger a gate uses, the store to drive it on, and whether the runner saves."""

    ledger: CallLedger
    store: AwaitableStore
    deferred: bool
    """Under the runner: new requests and applied decisions wait for its save."""

    @property
    def sync(self) -> ApprovalStore:
        """The store for sync nodes. Raises `SyncCallOnAsyncStore` for the async-only one."""
        return sync_of(self.store)


def sync_of(store: AwaitableStore) -> ApprovalStore:
    """The sync store behind `store`. Raises `SyncCallOnAsyncStore` for the async-only one."""
    sync = store.sync_store
    if sync is None:
        raise SyncCallOnAsyncStore()
    return sync


_ACTIVE: ContextVar[Active | None] = ContextVar("hitl_langgraph_active", default=None)


@contextmanager
def runner_active(ledger: CallLedger, store: AwaitableStore) -> Iterator[Active]:
    """Make the runner's pass current for the gates of the graph it drives."""
    current = Active(ledger, store, deferred=True)
    token = _ACTIVE.set(current)
    try:
        yield current
    finally:
        _ACTIVE.reset(token)


@contextmanager
def active(
    scope: Scope, store: AnyStore, policy: Policy | None, ask_human: bool
) -> Iterator[Active]:
    """The pass a sync gate works in: the runner's, else a direct one for this call."""
    current = _ACTIVE.get()
    if current is not None and current.ledger.run_id == scope.run_id:
        yield _scoped(current, policy, ask_human)
        return
    io = store if isinstance(store, AwaitableStore) else AwaitableStore(store)
    sync = sync_of(io)
    lease = _SHARED.acquire(sync, scope.run_id)
    try:
        ledger = _direct_ledger(scope, lease, sync.calls(scope.run_id), io, policy, ask_human)
        yield Active(ledger, io, deferred=False)
        for request_id in ledger.applied:
            sync.mark_resumed(request_id)
    finally:
        _SHARED.release(sync, lease)


@asynccontextmanager
async def aactive(
    scope: Scope, store: AnyStore, policy: Policy | None, ask_human: bool
) -> AsyncIterator[Active]:
    """Async twin of `active`."""
    current = _ACTIVE.get()
    if current is not None and current.ledger.run_id == scope.run_id:
        yield _scoped(current, policy, ask_human)
        return
    io = store if isinstance(store, AwaitableStore) else AwaitableStore(store)
    lease = await _SHARED.aacquire(io, scope.run_id)
    try:
        records = await io.acalls(scope.run_id)
        ledger = _direct_ledger(scope, lease, records, io, policy, ask_human)
        yield Active(ledger, io, deferred=False)
        for request_id in ledger.applied:
            await io.amark_resumed(request_id)
    finally:
        await _SHARED.arelease(io, lease)


def _scoped(current: Active, policy: Policy | None, ask_human: bool) -> Active:
    return Active(current.ledger.scoped(policy=policy, ask_human=ask_human), current.store, True)


def _direct_ledger(
    scope: Scope,
    lease: Lease,
    records: dict[str, Any],
    store: AwaitableStore,
    policy: Policy | None,
    ask_human: bool,
) -> CallLedger:
    return CallLedger(
        run_id=scope.run_id,
        adapter=ADAPTER,
        policy=policy,
        lease=lease,
        clock=store.clock,
        records=records,
        context=dict(scope.context),
        ask_human=ask_human,
        eager=True,
        pauses=PAUSES,
        reraise=True,
    )


class _SharedLeases:
    """One lease per (store, run) in this process, shared by the gates of direct runs."""

    def __init__(self, ttl: timedelta = DEFAULT_LEASE) -> None:
        self.ttl = ttl
        self.holder = holder_id("graph")
        self._lock = threading.Lock()
        self._held: dict[tuple[int, str], tuple[Lease, int, Any]] = {}

    def acquire(self, store: ApprovalStore, run_id: str) -> Lease:
        key = (id(store), run_id)
        with self._lock:
            if key in self._held:
                lease, count, keeper = self._held[key]
                self._held[key] = (lease, count + 1, keeper)
                return lease
            lease = _wait_for(lambda: store.acquire_lease(run_id, self.holder, ttl=self.ttl))
            keeper = LeaseKeeper(store, lease, self.ttl)
            keeper.start()
            self._held[key] = (lease, 1, keeper)
            return lease

    def release(self, store: ApprovalStore, lease: Lease) -> None:
        key = (id(store), lease.run_id)
        with self._lock:
            held, count, keeper = self._held[key]
            if count > 1:
                self._held[key] = (held, count - 1, keeper)
                return
            del self._held[key]
        keeper.stop()
        store.release_lease(held)

    async def aacquire(self, store: AwaitableStore, run_id: str) -> Lease:
        key = (id(store.store), run_id)
        with self._lock:
            if key in self._held:
                lease, count, keeper = self._held[key]
                self._held[key] = (lease, count + 1, keeper)
                return lease
        lease = await _await_for(store, run_id, self.holder, self.ttl)
        sync = store.sync_store
        renewer: LeaseKeeper | AsyncLeaseKeeper = (
            LeaseKeeper(sync, lease, self.ttl) if sync else AsyncLeaseKeeper(store, lease, self.ttl)
        )
        renewer.start()
        with self._lock:
            self._held[key] = (lease, 1, renewer)
        return lease

    async def arelease(self, store: AwaitableStore, lease: Lease) -> None:
        key = (id(store.store), lease.run_id)
        with self._lock:
            held, count, keeper = self._held[key]
            if count > 1:
                self._held[key] = (held, count - 1, keeper)
                return
            del self._held[key]
        if isinstance(keeper, AsyncLeaseKeeper):
            await keeper.stop()
        else:
            keeper.stop()
        await store.arelease_lease(held)


def _wait_for(acquire: Any) -> Lease:
    import time

    deadline = time.monotonic() + WAIT_FOR_LEASE
    while True:
        try:
            lease: Lease = acquire()
            return lease
        except RunBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


async def _await_for(store: AwaitableStore, run_id: str, holder: str, ttl: timedelta) -> Lease:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_FOR_LEASE
    while True:
        try:
            return await store.aacquire_lease(run_id, holder, ttl=ttl)
        except RunBusy:
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.05)


_SHARED = _SharedLeases()
