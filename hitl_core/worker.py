"""The worker: resumes decided runs from a shared store, each at most once, holding nothing.

Any number of workers on any number of machines share one store. Each pass expires due
requests, leases runs that have an answered request (each claim a fenced lease, see
`hitl_core.stores.leases`), and resumes each through its adapter under that lease, which
the adapter's pass keeps renewed while tools run and hands back when it saves. A run whose
resume raises is marked failed by its pass (or, for a transient store failure, left to
the next claim); a worker that dies leaves leases that run out, and another worker takes
the runs, finding any call the dead one had started as an unknown outcome, never re-run.
Between passes a worker waits for the store's events (PostgreSQL NOTIFY) or polls.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from hitl_core.errors import HITLError, StoreError
from hitl_core.stores.base import ApprovalStore
from hitl_core.stores.leases import Lease, RunLeases

__all__ = ["Registry", "Resume", "Worker", "WorkerPass"]

log = logging.getLogger("hitl.worker")

EXPIRY_BATCH = 500
"""Due requests expired per pass: a mass deadline is worked off in short transactions."""
STOP_CHECK = 0.5
"""Longest a wait runs before the worker looks at its stop flag again."""


class Resume(Protocol):
    """Resume one run by id under a lease already taken (e.g. a bound ``ToolLoop.resume``)."""

    def __call__(self, run_id: str, /, *, lease: Lease | None = None) -> object: ...


Registry = Mapping[str, Callable[[ApprovalStore], Resume]]
"""Adapter name -> how to rebuild that adapter's agent on a store and get its resume."""


@dataclass
class WorkerPass:
    """What one pass did."""

    expired: int = 0
    resumed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    """Claimed but handed back unresumed (the worker was stopping)."""

    @property
    def idle(self) -> bool:
        return not (self.expired or self.resumed or self.failed)


class Worker:
    """Resumes ready runs from `store` using the adapters in `registry`.

    Args:
        store: a store with the `RunLeases` capability (memory, SQLite, PostgreSQL).
        registry: how to rebuild each adapter's agent; built once per worker, not per run.
        worker_id: this worker's name in leases (default: host and process id).
        lease: how long a claim holds. The pass that resumes the run renews it before it
            runs out (for the agent's own lease length); a run whose worker died goes to
            another worker once the lease last granted runs out.
        batch: runs claimed per pass.
        poll_interval: seconds to wait for events between idle passes.
    """

    def __init__(
        self,
        store: ApprovalStore,
        registry: Registry,
        *,
        worker_id: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 10,
        poll_interval: float = 1.0,
    ) -> None:
        if not isinstance(store, RunLeases):
            raise StoreError(f"The store {store.url} cannot lease runs to workers.")
        self.store = store
        self.leases: RunLeases = store
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = lease
        self.batch = batch
        self.poll_interval = poll_interval
        self._resumers = {name: build(store) for name, build in registry.items()}
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Finish the run in hand, hand back the other claims, and return from `run`."""
        self._stopping.set()

    def run_once(self) -> WorkerPass:
        """One pass: expire what is due (a bounded batch), then resume what is ready."""
        done = WorkerPass(expired=len(self.store.expire_due(limit=EXPIRY_BATCH)))
        for claim in self.leases.claim_ready(self.worker_id, lease=self.lease, limit=self.batch):
            if self._stopping.is_set():
                self.store.release_lease(claim.lease)
                done.released.append(claim.run_id)
                continue
            resume = self._resumers.get(claim.adapter)
            if resume is None:
                log.error("run %s: no adapter %r in the registry", claim.run_id, claim.adapter)
                self.store.release_lease(claim.lease)  # another worker may know the adapter
                done.failed.append(claim.run_id)
                continue
            try:
                resume(claim.run_id, lease=claim.lease)  # its pass renews and hands it back
            except HITLError as error:
                log.error("run %s: %s", claim.run_id, error)
                done.failed.append(claim.run_id)
                continue
            except Exception:
                log.exception("run %s: resume failed; the run is marked failed", claim.run_id)
                done.failed.append(claim.run_id)
                continue
            done.resumed.append(claim.run_id)
        return done

    def run(self, *, until_idle: bool = False) -> int:
        """Work until `stop()` (or, with `until_idle`, until a pass finds nothing).

        Returns the number of runs resumed.
        """
        total = 0
        self._wait(0)  # start listening before the first pass, so no event is missed
        while not self._stopping.is_set():
            try:
                done = self.run_once()
            except StoreError as error:
                # A dropped connection or a restarting server: the pool reconnects.
                log.warning("store unavailable (%s); retrying in %.1f s", error, self.poll_interval)
                self._wait(self.poll_interval)
                continue
            total += len(done.resumed)
            if done.idle:
                if until_idle:
                    break
                self._wait(self.poll_interval)
        return total

    def _wait(self, seconds: float) -> None:
        """Wait for a store event or `seconds`, in slices short enough to notice `stop()`."""
        wait = getattr(self.store, "wait_for_events", None)
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if self._stopping.is_set() or remaining <= 0:
                if callable(wait) and seconds == 0:
                    wait(0)
                return
            if callable(wait):
                if wait(min(remaining, STOP_CHECK)):
                    return
            else:
                self._stopping.wait(min(remaining, STOP_CHECK))
