"""Keeping a run's lease alive while a pass works on it (a tool may run for minutes).

A pass renews its lease every third of its length. Sync stores are renewed by one daemon
thread per process that serves every pass (a thread, whatever the pass runs on: a tool
that blocks the event loop must not starve the renewal; one for all, so a pass costs no
thread start). The async PostgreSQL store is renewed by an asyncio task per pass. A
renewal that finds the lease taken over stops: from then on every claim and save of the
pass is refused (`LeaseLost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from datetime import datetime, timedelta

from hitl_core.errors import LeaseLost
from hitl_core.stores.awaitable import AwaitableStore
from hitl_core.stores.base import ApprovalStore
from hitl_core.stores.leases import Lease

__all__ = ["AsyncLeaseKeeper", "LeaseKeeper", "renewal_interval"]

log = logging.getLogger("hitl.lease")


def renewal_interval(lease: Lease, ttl: timedelta, now: datetime) -> float:
    """Seconds until `lease` should next be renewed.

    A third of the pass's lease length, or of what is left of `lease` if that is sooner
    (a worker's short claim adopted by a pass that renews for longer; a renewal that
    failed on a store hiccup), and never more often than every 0.1 s.
    """
    third = ttl.total_seconds() / 3
    left = (lease.until - now).total_seconds()
    return max(min(third, left / 3), min(0.1, third))


class LeaseKeeper:
    """Renews `lease` on a sync store, from the process's renewal thread, until stopped."""

    def __init__(self, store: ApprovalStore, lease: Lease, ttl: timedelta) -> None:
        self.store = store
        self.lease = lease
        self.ttl = ttl
        self.lost = False
        self.due = self._next_due()
        self._stopped = False
        self._renewing = threading.Lock()

    def start(self) -> None:
        _RENEWALS.add(self)

    def stop(self) -> None:
        """Stop renewing; returns once no renewal is in flight (so a release that follows
        cannot be undone by a late renewal extending the released lease)."""
        _RENEWALS.remove(self)
        with self._renewing:
            self._stopped = True

    def renew(self) -> bool:
        """Renew once; False once the lease is lost or the keeper stopped."""
        with self._renewing:
            if self._stopped:
                return False
            return self._renew()

    def _renew(self) -> bool:
        try:
            self.lease = self.store.renew_lease(self.lease, ttl=self.ttl)
        except LeaseLost:
            self.lost = True
            log.warning("lease on run %s was taken over", self.lease.run_id)
            return False
        except Exception as error:  # a store hiccup: try again at the next tick
            log.warning("could not renew the lease on run %s: %s", self.lease.run_id, error)
        self.due = self._next_due()
        return True

    def _next_due(self) -> float:
        return time.monotonic() + renewal_interval(self.lease, self.ttl, self.store.clock.now())


class _Renewals:
    """The one renewal thread of this process and the keepers it serves."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._keepers: set[LeaseKeeper] = set()
        self._thread: threading.Thread | None = None

    def add(self, keeper: LeaseKeeper) -> None:
        with self._changed:
            self._keepers.add(keeper)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="hitl-lease-renewals", daemon=True
                )
                self._thread.start()
            self._changed.notify()

    def remove(self, keeper: LeaseKeeper) -> None:
        with self._changed:
            self._keepers.discard(keeper)

    def _loop(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [k for k in self._keepers if k.due <= now]
                if not due:
                    soonest = min((k.due for k in self._keepers), default=now + 60)
                    self._changed.wait(max(soonest - now, 0.01))
                    continue
            for keeper in due:  # outside the lock: a slow store must not block add/remove
                if keeper in self._keepers and not keeper.renew():
                    self.remove(keeper)


_RENEWALS = _Renewals()


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
        while True:
            await asyncio.sleep(renewal_interval(self.lease, self.ttl, self.store.clock.now()))
            try:
                self.lease = await self.store.arenew_lease(self.lease, ttl=self.ttl)
            except LeaseLost:
                self.lost = True
                log.warning("lease on run %s was taken over", self.lease.run_id)
                return
            except Exception as error:
                log.warning("could not renew the lease on run %s: %s", self.lease.run_id, error)
