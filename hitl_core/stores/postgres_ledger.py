"""The call ledger on PostgreSQL: run leases with fencing tokens, claimed calls, ready runs.

`PostgresLedger` is the part of `PostgresStore` that implements the port's ledger group,
and `AsyncPostgresLedger` its async twin in `AsyncPostgresStore`; they sit side by side
so the two cannot drift apart. Every write takes the run's lock (`LOCK_RUN`) first and
checks the lease (`lease_rules`) in the same transaction as what it writes, so a holder
that was taken over can write nothing. `claim_ready` never waits: it skips runs whose row
or run lock someone holds, and reads the ones it locked again before granting.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import timedelta

from hitl_core.clock import Clock
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import call_rules, lease_rules, lifecycle
from hitl_core.stores import postgres_cursor as pc
from hitl_core.stores import postgres_rows as rows
from hitl_core.stores import postgres_sql as sql
from hitl_core.stores.calls import CallRecord
from hitl_core.stores.leases import Claim, Lease

__all__ = ["AsyncPostgresLedger", "PostgresLedger"]

_STORE_ONLY = "provided by the store class this ledger is part of"


class PostgresLedger:
    """`ApprovalStore`'s ledger operations and `RunLeases`, for `PostgresStore`."""

    clock: Clock

    def _tx(self) -> AbstractContextManager[pc.Cursor]:
        raise NotImplementedError(_STORE_ONLY)

    def _read(self) -> AbstractContextManager[pc.Cursor]:
        raise NotImplementedError(_STORE_ONLY)

    def acquire_lease(self, run_id: str, holder: str, *, ttl: timedelta) -> Lease:
        now = self.clock.now()
        with self._tx() as cur:
            pc.lock_runs(cur, [run_id])
            lease = lease_rules.acquire(pc.load_lease(cur, run_id), run_id, holder, now, ttl)
            pc.write_lease(cur, lease)
            return lease

    def renew_lease(self, lease: Lease, *, ttl: timedelta) -> Lease:
        now = self.clock.now()
        with self._tx() as cur:
            pc.lock_runs(cur, [lease.run_id])
            renewed = lease_rules.renew(pc.load_lease(cur, lease.run_id), lease, now, ttl)
            pc.write_lease(cur, renewed)
            return renewed

    def release_lease(self, lease: Lease) -> None:
        with self._tx() as cur:
            pc.lock_runs(cur, [lease.run_id])
            pc.release(cur, lease, self.clock.now())

    def lease_of(self, run_id: str) -> Lease | None:
        with self._read() as cur:
            return pc.load_lease(cur, run_id)

    def claim_call(self, record: CallRecord, lease: Lease) -> CallRecord:
        now = self.clock.now()
        with self._tx() as cur:
            pc.lock_runs(cur, [record.run_id])
            lease_rules.check(pc.load_lease(cur, record.run_id), lease, record.run_id, now)
            stored, event = call_rules.claim(pc.load_call(cur, record), record)
            if event is not None:
                pc.write_call(cur, stored)
                pc.append(cur, event, {})
            return stored

    def settle_call(
        self, record: CallRecord, lease: Lease, requests: Sequence[ApprovalRequest] = ()
    ) -> CallRecord:
        now = self.clock.now()
        with self._tx() as cur:
            pc.lock_runs(cur, rows.runs_to_lock(record.run_id, requests))
            lease_rules.check(pc.load_lease(cur, record.run_id), lease, record.run_id, now)
            stored, event = call_rules.settle(pc.load_call(cur, record), record)
            if event is None:
                return stored
            transitions = [
                lifecycle.create(pc.load_request(cur, r.id, lock=True), r) for r in requests
            ]
            pc.write_call(cur, stored)
            heads: rows.Heads = {}
            pc.append(cur, event, heads)
            for transition in transitions:
                pc.apply(cur, transition, heads)
            return stored

    def calls(self, run_id: str) -> dict[str, CallRecord]:
        with self._read() as cur:
            return rows.calls_of(cur.execute(sql.SELECT_CALLS, (run_id,)).fetchall())

    def claim_ready(self, worker: str, *, lease: timedelta, limit: int = 10) -> list[Claim]:
        """Lease ready runs, as `RunLeases.claim_ready` says, without waiting on anyone.

        Runs being saved (row locked) or worked on (run lock held) are skipped; those it
        locks are read again, so a lease granted in the meantime is never granted over.
        """
        now = self.clock.now()
        with self._tx() as cur:
            ready = [r[0] for r in cur.execute(sql.READY_RUNS, (now, limit)).fetchall()]
            if not ready:
                return []
            locked = [r[0] for r in cur.execute(sql.TRY_LOCK_RUNS, (ready,)).fetchall()]
            found = cur.execute(sql.READY_LOCKED, (locked, now)).fetchall()
            claims = rows.grants(found, worker, now, lease)
            if claims:
                cur.executemany(sql.UPSERT_LEASE, [rows.lease_row(c.lease) for c in claims])
            return claims


class AsyncPostgresLedger:
    """Async twin of `PostgresLedger`, for `AsyncPostgresStore`."""

    clock: Clock

    def _tx(self) -> AbstractAsyncContextManager[pc.ACursor]:
        raise NotImplementedError(_STORE_ONLY)

    def _read(self) -> AbstractAsyncContextManager[pc.ACursor]:
        raise NotImplementedError(_STORE_ONLY)

    async def aacquire_lease(self, run_id: str, holder: str, *, ttl: timedelta) -> Lease:
        """Async twin of `PostgresLedger.acquire_lease`."""
        now = self.clock.now()
        async with self._tx() as cur:
            await pc.alock_runs(cur, [run_id])
            existing = await pc.aload_lease(cur, run_id)
            lease = lease_rules.acquire(existing, run_id, holder, now, ttl)
            await pc.awrite_lease(cur, lease)
            return lease

    async def arenew_lease(self, lease: Lease, *, ttl: timedelta) -> Lease:
        """Async twin of `PostgresLedger.renew_lease`."""
        now = self.clock.now()
        async with self._tx() as cur:
            await pc.alock_runs(cur, [lease.run_id])
            renewed = lease_rules.renew(await pc.aload_lease(cur, lease.run_id), lease, now, ttl)
            await pc.awrite_lease(cur, renewed)
            return renewed

    async def arelease_lease(self, lease: Lease) -> None:
        """Async twin of `PostgresLedger.release_lease`."""
        async with self._tx() as cur:
            await pc.alock_runs(cur, [lease.run_id])
            await pc.arelease(cur, lease, self.clock.now())

    async def alease_of(self, run_id: str) -> Lease | None:
        """Async twin of `PostgresLedger.lease_of`."""
        async with self._read() as cur:
            return await pc.aload_lease(cur, run_id)

    async def aclaim_call(self, record: CallRecord, lease: Lease) -> CallRecord:
        """Async twin of `PostgresLedger.claim_call`."""
        now = self.clock.now()
        async with self._tx() as cur:
            await pc.alock_runs(cur, [record.run_id])
            current = await pc.aload_lease(cur, record.run_id)
            lease_rules.check(current, lease, record.run_id, now)
            stored, event = call_rules.claim(await pc.aload_call(cur, record), record)
            if event is not None:
                await pc.awrite_call(cur, stored)
                await pc.aappend(cur, event, {})
            return stored

    async def asettle_call(
        self, record: CallRecord, lease: Lease, requests: Sequence[ApprovalRequest] = ()
    ) -> CallRecord:
        """Async twin of `PostgresLedger.settle_call`."""
        now = self.clock.now()
        async with self._tx() as cur:
            await pc.alock_runs(cur, rows.runs_to_lock(record.run_id, requests))
            current = await pc.aload_lease(cur, record.run_id)
            lease_rules.check(current, lease, record.run_id, now)
            stored, event = call_rules.settle(await pc.aload_call(cur, record), record)
            if event is None:
                return stored
            transitions = [
                lifecycle.create(await pc.aload_request(cur, r.id, lock=True), r) for r in requests
            ]
            await pc.awrite_call(cur, stored)
            heads: rows.Heads = {}
            await pc.aappend(cur, event, heads)
            for transition in transitions:
                await pc.aapply(cur, transition, heads)
            return stored

    async def acalls(self, run_id: str) -> dict[str, CallRecord]:
        """Async twin of `PostgresLedger.calls`."""
        async with self._read() as cur:
            return rows.calls_of(await (await cur.execute(sql.SELECT_CALLS, (run_id,))).fetchall())

    async def aclaim_ready(self, worker: str, *, lease: timedelta, limit: int = 10) -> list[Claim]:
        """Async twin of `PostgresLedger.claim_ready`."""
        now = self.clock.now()
        async with self._tx() as cur:
            found = await (await cur.execute(sql.READY_RUNS, (now, limit))).fetchall()
            if not found:
                return []
            ready = [r[0] for r in found]
            locked = await (await cur.execute(sql.TRY_LOCK_RUNS, (ready,))).fetchall()
            runs = [r[0] for r in locked]
            found = await (await cur.execute(sql.READY_LOCKED, (runs, now))).fetchall()
            claims = rows.grants(found, worker, now, lease)
            if claims:
                await cur.executemany(sql.UPSERT_LEASE, [rows.lease_row(c.lease) for c in claims])
            return claims
