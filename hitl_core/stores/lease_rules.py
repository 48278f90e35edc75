"""The rules of a run's lease, as pure functions every store calls inside its transaction.

A store keeps one lease row per run and never deletes it: a released or expired lease
keeps its fencing token, so the next grant's token is always higher than every earlier one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hitl_core.errors import LeaseLost, RunBusy
from hitl_core.stores.leases import Lease

__all__ = ["acquire", "check", "release", "renew", "revoke"]


def acquire(
    existing: Lease | None, run_id: str, holder: str, now: datetime, ttl: timedelta
) -> Lease:
    """A new grant to `holder`, with the next fencing token.

    The same holder may take its own live lease again (a restarted worker with a fixed id):
    it gets a new token, so whatever its old self still does is fenced off.

    Raises:
        RunBusy: another holder's lease is live.
    """
    if existing is not None and existing.is_live(now) and existing.holder != holder:
        raise RunBusy(run_id, existing.holder, existing.until.isoformat())
    fence = existing.fence + 1 if existing is not None else 1
    return Lease(run_id=run_id, holder=holder, fence=fence, until=now + ttl)


def check(existing: Lease | None, lease: Lease | None, run_id: str, now: datetime) -> None:
    """Whether a write under `lease` (None: under no lease) may go ahead.

    A write under a lease needs that very grant of this run's lease to be the current one,
    live or not: an expired lease nobody took over is still its holder's. Fences count per
    run, so another run's lease with the same holder and fence is no grant of this one. A
    write under no lease (a reviewer's, the CLI's) needs nobody to hold a live one.

    Raises:
        LeaseLost: `lease` is no longer the run's current grant.
        RunBusy: no lease was given and someone holds a live one.
    """
    if lease is None:
        if existing is not None and existing.is_live(now):
            raise RunBusy(run_id, existing.holder, existing.until.isoformat())
        return
    if (
        existing is None
        or lease.run_id != run_id
        or existing.fence != lease.fence
        or existing.holder != lease.holder
    ):
        raise LeaseLost(run_id, lease.holder, lease.fence)


def renew(existing: Lease | None, lease: Lease, now: datetime, ttl: timedelta) -> Lease:
    """The same grant, running until ``now + ttl``.

    Raises:
        LeaseLost: the run was taken over (or revoked) since `lease` was granted.
    """
    check(existing, lease, lease.run_id, now)
    return lease.model_copy(update={"until": now + ttl})


def release(existing: Lease | None, lease: Lease, now: datetime) -> Lease | None:
    """The lease row after `lease` is handed back (None: it is not the current grant)."""
    if existing is None or existing.fence != lease.fence or existing.holder != lease.holder:
        return None
    return existing.model_copy(update={"until": min(existing.until, now)})


def revoke(existing: Lease | None, run_id: str, by: str, now: datetime) -> Lease:
    """A grant that ends the current one at once (cancelling a run): its holder is fenced off."""
    fence = existing.fence + 1 if existing is not None else 1
    return Lease(run_id=run_id, holder=by, fence=fence, until=now)
