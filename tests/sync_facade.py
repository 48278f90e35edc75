"""A sync face on `AsyncPostgresStore`, so the public store suite runs on it unchanged.

Every call runs its ``a``-prefixed twin on one event loop that lives in a thread of its
own (the store's pool belongs to that loop); threads calling at once run concurrently on
it, as coroutines would. It forwards the port's names and `claim_ready`, nothing more.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from hitl_core import ApprovalStore, ManualClock
from hitl_core.stores.postgres_aio import AsyncPostgresStore

__all__ = ["SyncFacade"]

T = TypeVar("T")

FORWARDED = (
    "put",
    "get",
    "list_requests",
    "decide",
    "expire_due",
    "mark_resumed",
    "cancel_run",
    "save_run",
    "load_run",
    "list_runs",
    "fail_run",
    "retry_run",
    "acquire_lease",
    "renew_lease",
    "release_lease",
    "lease_of",
    "claim_call",
    "settle_call",
    "calls",
    "claim_ready",
    "audit",
    "audit_heads",
    "last_audit_seq",
)
"""The sync names whose ``a``-prefixed twins the facade calls."""


class SyncFacade:
    """`AsyncPostgresStore` opened on `url`, called through sync methods."""

    def __init__(self, url: str, clock: ManualClock) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.store = self._run(AsyncPostgresStore.open(url, clock=clock, max_size=10))
        self.url = self.store.url
        self.clock = clock

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def as_store(self) -> ApprovalStore:
        """The facade, typed as the port it implements (its methods are added below)."""
        store: ApprovalStore = self  # type: ignore[assignment]
        return store

    def close(self) -> None:
        self._run(self.store.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def _forward(name: str) -> Callable[..., Any]:
    def method(self: SyncFacade, *args: Any, **kwargs: Any) -> Any:
        return self._run(getattr(self.store, f"a{name}")(*args, **kwargs))

    method.__name__ = name
    method.__doc__ = f"`AsyncPostgresStore.a{name}`, awaited."
    return method


for _name in FORWARDED:
    setattr(SyncFacade, _name, _forward(_name))
