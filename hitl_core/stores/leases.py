"""Run leases: the optional store capability workers use to resume each run exactly once.

A worker claims runs that are paused with at least one answered (decided or expired)
request, for a limited time. While the lease holds no other worker gets the run; if the
worker dies, the lease runs out and another worker claims it. A store offers this by
implementing `RunLeases`; `supports_leases(store)` tells.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

__all__ = ["Claim", "RunLeases", "supports_leases"]


class Claim(BaseModel):
    """A run a worker may resume until `until`."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    adapter: str
    worker: str
    until: datetime


@runtime_checkable
class RunLeases(Protocol):
    """Claim ready runs for a while; release them when done."""

    def claim_ready(self, worker: str, *, lease: timedelta, limit: int = 10) -> list[Claim]:
        """Lease up to `limit` paused runs that have an answered request and no live lease.

        Two workers calling at once never get the same run.
        """
        ...

    def release(self, run_id: str, worker: str) -> None:
        """End `worker`'s lease on the run (a no-op if it holds none)."""
        ...


def supports_leases(store: object) -> bool:
    """Whether the store can lease runs to workers."""
    return isinstance(store, RunLeases)
