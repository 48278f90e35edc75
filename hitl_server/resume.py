"""Resuming decided runs from the server: a `Worker` in one background thread, woken by decisions.

The server does not resume a run itself. It wakes a worker that leases ready runs
through the store (`RunLeases`), exactly as ``hitl worker`` does, so a run is resumed
once and never by two threads or processes at the same time, whichever of them gets
to it first. A resume that fails keeps its lease until it runs out and is then left to
any worker; the request's decision is already stored, so nothing is lost.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from hitl_core.errors import StoreError
from hitl_core.stores.base import ApprovalStore
from hitl_core.worker import Registry, Worker

__all__ = ["BackgroundResumer"]

log = logging.getLogger("hitl.server")

STOP_TIMEOUT = 30.0
"""Longest the server waits, when shutting down, for the resume in hand to finish."""


class BackgroundResumer:
    """Runs worker passes in a background thread each time a decision wakes it.

    Args:
        store: the server's store; it must support `RunLeases` (every bundled store does).
        registry: adapter name -> builder, as for ``hitl worker --app``.
        lease: how long a claim holds before another worker may take the run.
    """

    def __init__(
        self,
        store: ApprovalStore,
        registry: Registry,
        *,
        worker_id: str | None = None,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self.worker = Worker(
            store,
            registry,
            worker_id=worker_id or f"hitl-server:{socket.gethostname()}:{os.getpid()}",
            lease=lease,
        )
        self.adapters = frozenset(registry)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def handles(self, adapter: str) -> bool:
        """Whether the registry can resume runs of `adapter`."""
        return adapter in self.adapters

    def wake(self) -> None:
        """Run passes soon (starting the thread on first use) until nothing is ready."""
        with self._lock:
            if self._stopping.is_set():
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="hitl-server-resume", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Finish the resume in hand, hand back other claims, and end the thread."""
        with self._lock:
            self._stopping.set()
            self.worker.stop()
            self._wake.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("a resume was still running after %.0f s; leaving it", timeout)

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            if self._stopping.is_set():
                return
            self._wake.clear()  # a decision arriving during the passes wakes another round
            self._drain()

    def _drain(self) -> None:
        """Passes until one finds nothing to do (failed runs keep their leases, so it ends)."""
        while not self._stopping.is_set():
            try:
                done = self.worker.run_once()
            except StoreError as error:
                log.warning("resume pass failed (%s); the runs wait for the next decision", error)
                return
            except Exception:
                log.exception("resume pass failed; the runs wait for the next decision")
                return
            if done.idle:
                return
