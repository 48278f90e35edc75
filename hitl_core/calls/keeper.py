"""Keeping a run's lease alive while a pass works on it (a tool may run for minutes).

A pass renews its lease every third of its length, from a thread (sync stores, whatever
the pass runs on: a tool that blocks the event loop must not starve the renewal) or an
asyncio task (the async PostgreSQL store). A renewal that finds the lease taken over
stops: from then on every claim and save of the pass is refused (`LeaseLost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from datetime import timedelta

from hitl_core.errors import LeaseLost
from hitl_core.stores.awaitable import AwaitableStore
from hitl_core.stores.base import ApprovalStore
from hitl_core.stores.leases import Lease

__all__ = ["AsyncLeaseKeeper", "LeaseKeeper"]

log = logging.getLogger("hitl.lease")


class LeaseKeeper:
    """Renews `lease` on a sync store from a daemon thread until stopped."""

    def __init__(self, store: ApprovalStore, lease: Lease, ttl: timedelta) -> None:
        self.store = store
        self.lease = lease
        self.ttl = ttl
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"hitl-lease-{lease.run_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        interval = self.ttl.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                self.lease = self.store.renew_lease(self.lease, ttl=self.ttl)
            except LeaseLost:
                self.lost = True
                log.warning("lease on run %s was taken over", self.lease.run_id)
                return
            except Exception as error:  # a store hiccup: try again at the next tick
                log.warning("could not renew the lease on run %s: %s", self.lease.run_id, error)


class AsyncLeaseKeeper:
    """Renews `lease` on an async store from an asyncio task until stopped."""

    def __init__(self, store: AwaitableStore, lease: Lease, ttl: timedelta) -> None:
        self.store = store
        self.lease = lease
        self.ttl = ttl
        self.lost = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        interval = self.ttl.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                self.lease = await self.store.arenew_lease(self.lease, ttl=self.ttl)
            except LeaseLost:
                self.lost = True
                log.warning("lease on run %s was taken over", self.lease.run_id)
                return
            except Exception as error:
                log.warning("could not renew the lease on run %s: %s", self.lease.run_id, error)
