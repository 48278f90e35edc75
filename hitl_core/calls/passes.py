"""`RunPass`: one pass over one run (a start, a resume, a retry), under the run's lease.

Every adapter's start and resume is a pass: it takes the run's lease (a concurrent pass
gets `RunBusy` at once, or waits up to `wait` seconds), keeps it renewed while it works,
loads or creates the run, hands its calls to a `CallLedger`, saves the run where it stops
(with the requests it raised and the ones it applied, carrying the lease's fencing token),
and hands the lease back. A pass that raises once it has started working leaves the run
``failed`` with the error recorded, unless the error is transient (the store unreachable,
the lease lost): then the run stays as it was stored, resumable. `AsyncRunPass` is the
awaited twin; both share the pure helpers at the bottom.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterable
from datetime import timedelta
from types import TracebackType
from typing import Any
from uuid import uuid4

from hitl_core.audit import AuditEvent, AuditKind
from hitl_core.calls.keeper import AsyncLeaseKeeper, LeaseKeeper
from hitl_core.calls.ledger import CallLedger
from hitl_core.errors import (
    CallRefused,
    InvalidRunState,
    LeaseLost,
    RunBusy,
    RunChanged,
    RunExists,
    RunNotPaused,
    StoreUnavailable,
)
from hitl_core.identities import checked_requester
from hitl_core.policy import Policy
from hitl_core.requests import REQUESTER_KEY
from hitl_core.stores.awaitable import AnyStore, AwaitableStore
from hitl_core.stores.base import ApprovalStore
from hitl_core.stores.leases import Lease
from hitl_core.stores.records import RunRecord, RunStatus

__all__ = ["DEFAULT_LEASE", "TRANSIENT", "AsyncRunPass", "RunPass", "holder_id"]

log = logging.getLogger("hitl.pass")

DEFAULT_LEASE = timedelta(seconds=60)
"""How long a pass's lease runs between renewals (renewed every third of it)."""
WAIT_POLL = 0.05
"""Seconds between tries while a pass waits for another's lease."""
TRANSIENT: tuple[type[BaseException], ...] = (StoreUnavailable, LeaseLost, RunBusy)
"""Errors that leave the run as it was stored (resumable), not failed."""


def holder_id(purpose: str = "pass") -> str:
    """A lease holder name for this host, process and pass, unique per call."""
    return f"{socket.gethostname()}:{os.getpid()}:{purpose}:{uuid4().hex[:8]}"


class _PassBase:
    """What both twins keep: the run, its lease, the stored version, the ledger."""

    def __init__(
        self,
        run_id: str,
        *,
        adapter: str,
        policy: Policy | None = None,
        lease: Lease | None = None,
        ttl: timedelta = DEFAULT_LEASE,
        wait: float | None = None,
        holder: str | None = None,
        ask_human: bool = True,
        pauses: tuple[type[BaseException], ...] = (),
        reraise: bool = False,
    ) -> None:
        self.run_id = run_id
        self.adapter = adapter
        self.policy = policy
        self.ttl = ttl
        self.wait = wait
        self.holder = lease.holder if lease is not None else holder or holder_id()
        self.given_lease = lease
        self.ask_human = ask_human
        self.pauses = pauses
        self.reraise = reraise
        self.version = 0
        """The stored run's version: the next save must find it."""
        self.ledger: CallLedger | None = None
        self.new = False
        """The pass created the run (brand new: no ledger lines to load)."""
        self._lease: Lease | None = lease
        self._released = False

    @property
    def lease(self) -> Lease:
        assert self._lease is not None, "the pass has not taken its lease yet"
        return self._lease

    @property
    def working(self) -> bool:
        """The pass has begun its calls: a failure from here on fails the run."""
        return self.ledger is not None

    def _ledger(self, context: dict[str, Any], records: dict[str, Any], clock: Any) -> CallLedger:
        self.ledger = CallLedger(
            run_id=self.run_id,
            adapter=self.adapter,
            policy=self.policy,
            lease=self.lease,
            clock=clock,
            records=records,
            context=context,
            ask_human=self.ask_human,
            pauses=self.pauses,
            reraise=self.reraise,
        )
        return self.ledger

    def _saved(self, saved: RunRecord, final: bool) -> RunRecord:
        self.version = saved.version
        if self.ledger is not None:
            self.ledger.new_requests.clear()
            self.ledger.applied.clear()
        self._released = self._released or final
        return saved


class RunPass(_PassBase):
    """One pass over a run on a sync store; use it as a context manager."""

    def __init__(self, store: ApprovalStore, run_id: str, **options: Any) -> None:
        super().__init__(run_id, **options)
        self.store = store
        self._keeper: LeaseKeeper | None = None

    def __enter__(self) -> RunPass:
        if self._lease is None:
            self._lease = _acquire(self.store, self.run_id, self.holder, self.ttl, self.wait)
        self._keeper = LeaseKeeper(self.store, self._lease, self.ttl)
        self._keeper.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if isinstance(error, Exception) and self.working and not isinstance(error, TRANSIENT):
                self.fail(error)
        finally:
            self.close()

    def _stop_renewing(self) -> None:
        if self._keeper is not None:
            self._keeper.stop()
            self._keeper = None

    def close(self) -> None:
        """Stop renewing and hand the lease back (if no save did)."""
        self._stop_renewing()
        if self._lease is not None and not self._released:
            with contextlib.suppress(Exception):
                self.store.release_lease(self._lease)
            self._released = True

    def load(self, *, statuses: Iterable[RunStatus] = (RunStatus.PAUSED,)) -> RunRecord:
        """The stored run, checked to be this adapter's and in one of `statuses`; due
        requests of the run take their expiry outcome first."""
        record = self.store.load_run(self.run_id)
        _check_loaded(record, self.adapter, statuses)
        self.version = record.version
        self.store.expire_due(run_id=self.run_id)
        return record

    def create(self, state: str, context: dict[str, Any], *, again: bool = False) -> RunRecord:
        """Store a new run (status running) under this pass's lease.

        Args:
            again: a completed run of this adapter may start again under its id (the
                next turn of a conversation thread).

        Raises:
            InvalidIdentity: the context names a requester that cannot be compared safely.
            RunExists: the id is taken; the stored run is unchanged.
        """
        checked_requester(context, REQUESTER_KEY)
        record = _record(self, RunStatus.RUNNING, state)
        try:  # most runs are new: try that first, and look only when the id is taken
            saved = self.store.save_run(record, expected_version=0, lease=self.lease)
            self.new = True
        except RunChanged:
            existing = self.store.load_run(self.run_id)
            expected = _expected_for_new(self.run_id, existing, self.adapter, again)
            try:
                saved = self.store.save_run(record, expected_version=expected, lease=self.lease)
            except RunChanged:
                raise RunExists(self.run_id, "running") from None
        return self._saved(saved, final=False)

    def calls(self, context: dict[str, Any]) -> CallLedger:
        """The ledger for this pass's calls; from now on a failure fails the run."""
        records = {} if self.new else self.store.calls(self.run_id)
        return self._ledger(context, records, self.store.clock)

    def save(self, status: RunStatus, state: str) -> RunRecord:
        """Save the run where it stopped, with the requests raised and applied; a pause or
        the end hands the lease back in the same transaction."""
        final = status is not RunStatus.RUNNING
        if final:
            self._stop_renewing()  # before the release: no renewal may extend it after
        ledger = self.ledger
        saved = self.store.save_run(
            _record(self, status, state),
            ledger.new_requests if ledger else (),
            resumed=ledger.applied if ledger else (),
            expected_version=self.version,
            lease=self.lease,
            release=final,
        )
        return self._saved(saved, final)

    def fail(self, error: BaseException) -> None:
        """Mark the run failed with `error` (the stored snapshot is kept for inspection)."""
        message, events = _failure(self, error)
        self._stop_renewing()
        try:
            self.store.fail_run(self.run_id, message, lease=self.lease, events=events)
            self._released = True
        except Exception as failure:  # the store itself is down: the run stays as it was
            log.warning("could not mark run %s failed: %s", self.run_id, failure)


class AsyncRunPass(_PassBase):
    """Async twin of `RunPass`; use it as an async context manager."""

    def __init__(self, store: AnyStore | AwaitableStore, run_id: str, **options: Any) -> None:
        super().__init__(run_id, **options)
        self.store = store if isinstance(store, AwaitableStore) else AwaitableStore(store)
        self._keeper: LeaseKeeper | AsyncLeaseKeeper | None = None

    async def __aenter__(self) -> AsyncRunPass:
        if self._lease is None:
            self._lease = await _aacquire(self.store, self.run_id, self.holder, self.ttl, self.wait)
        sync = self.store.sync_store
        if sync is not None:
            self._keeper = LeaseKeeper(sync, self._lease, self.ttl)
        else:
            self._keeper = AsyncLeaseKeeper(self.store, self._lease, self.ttl)
        self._keeper.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if isinstance(error, Exception) and self.working and not isinstance(error, TRANSIENT):
                await self.afail(error)
        finally:
            await self.aclose()

    async def _astop_renewing(self) -> None:
        keeper, self._keeper = self._keeper, None
        if isinstance(keeper, AsyncLeaseKeeper):
            await keeper.stop()
        elif keeper is not None:
            keeper.stop()

    async def aclose(self) -> None:
        """Async twin of `RunPass.close`."""
        await self._astop_renewing()
        if self._lease is not None and not self._released:
            with contextlib.suppress(Exception):
                await self.store.arelease_lease(self._lease)
            self._released = True

    async def aload(self, *, statuses: Iterable[RunStatus] = (RunStatus.PAUSED,)) -> RunRecord:
        """Async twin of `RunPass.load`."""
        record = await self.store.aload_run(self.run_id)
        _check_loaded(record, self.adapter, statuses)
        self.version = record.version
        await self.store.aexpire_due(run_id=self.run_id)
        return record

    async def acreate(
        self, state: str, context: dict[str, Any], *, again: bool = False
    ) -> RunRecord:
        """Async twin of `RunPass.create`."""
        checked_requester(context, REQUESTER_KEY)
        record = _record(self, RunStatus.RUNNING, state)
        try:
            saved = await self.store.asave_run(record, expected_version=0, lease=self.lease)
            self.new = True
        except RunChanged:
            existing = await self.store.aload_run(self.run_id)
            expected = _expected_for_new(self.run_id, existing, self.adapter, again)
            try:
                saved = await self.store.asave_run(
                    record, expected_version=expected, lease=self.lease
                )
            except RunChanged:
                raise RunExists(self.run_id, "running") from None
        return self._saved(saved, final=False)

    async def acalls(self, context: dict[str, Any]) -> CallLedger:
        """Async twin of `RunPass.calls`."""
        records = {} if self.new else await self.store.acalls(self.run_id)
        return self._ledger(context, records, self.store.clock)

    async def asave(self, status: RunStatus, state: str) -> RunRecord:
        """Async twin of `RunPass.save`."""
        final = status is not RunStatus.RUNNING
        if final:
            await self._astop_renewing()
        ledger = self.ledger
        saved = await self.store.asave_run(
            _record(self, status, state),
            ledger.new_requests if ledger else (),
            resumed=ledger.applied if ledger else (),
            expected_version=self.version,
            lease=self.lease,
            release=final,
        )
        return self._saved(saved, final)

    async def afail(self, error: BaseException) -> None:
        """Async twin of `RunPass.fail`."""
        message, events = _failure(self, error)
        await self._astop_renewing()
        try:
            await self.store.afail_run(self.run_id, message, lease=self.lease, events=events)
            self._released = True
        except Exception as failure:
            log.warning("could not mark run %s failed: %s", self.run_id, failure)


# -- shared, I/O-free -------------------------------------------------------------------


def _acquire(
    store: ApprovalStore, run_id: str, holder: str, ttl: timedelta, wait: float | None
) -> Lease:
    deadline = time.monotonic() + (wait or 0)
    while True:
        try:
            return store.acquire_lease(run_id, holder, ttl=ttl)
        except RunBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(WAIT_POLL)


async def _aacquire(
    store: AwaitableStore, run_id: str, holder: str, ttl: timedelta, wait: float | None
) -> Lease:
    deadline = time.monotonic() + (wait or 0)
    while True:
        try:
            return await store.aacquire_lease(run_id, holder, ttl=ttl)
        except RunBusy:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(WAIT_POLL)


def _check_loaded(record: RunRecord, adapter: str, statuses: Iterable[RunStatus]) -> None:
    if record.adapter != adapter:
        raise InvalidRunState(record.run_id, f"it was paused by {record.adapter}, not {adapter}")
    if record.status not in tuple(statuses):
        raise RunNotPaused(record.run_id, record.status.value)


def _expected_for_new(run_id: str, existing: RunRecord | None, adapter: str, again: bool) -> int:
    if existing is None:
        return 0
    if again and existing.status is RunStatus.COMPLETED and existing.adapter == adapter:
        return existing.version
    raise RunExists(run_id, existing.status.value)


def _record(run: _PassBase, status: RunStatus, state: str) -> RunRecord:
    now = _now(run)
    return RunRecord(
        run_id=run.run_id,
        adapter=run.adapter,
        status=status,
        state=state,
        created_at=now,
        updated_at=now,
    )


def _now(run: _PassBase) -> Any:
    store = getattr(run, "store")  # noqa: B009 - both twins have one, typed differently
    return store.clock.now()


def _failure(run: _PassBase, error: BaseException) -> tuple[str, list[AuditEvent]]:
    """The error to record on a failed run, and the events that go before `failed`."""
    message = f"{type(error).__name__}: {error}"
    events: list[AuditEvent] = []
    if isinstance(error, CallRefused):
        events.append(
            AuditEvent(
                kind=AuditKind.REFUSED,
                at=_now(run),
                run_id=run.run_id,
                request_id=error.request_id,
                call_id=error.call_id,
                tool=error.tool,
                actor=run.adapter,
                detail={"problem": error.problem},
            )
        )
    return message, events
