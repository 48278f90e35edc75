"""Run leases with fencing tokens: who may work on a run right now, and until when.

Every pass over a run (a start, a resume from anywhere, a worker's) holds the run's lease.
Each grant carries a fencing token that only grows, and the store refuses a claim or save
whose token is not the run's current one: a holder that paused past its lease (a long
tool, a stopped process) can write nothing after another holder took the run over.

`RunLeases` is the workers' capability on top: lease, in one go, the runs that are ready
to resume (paused, with an answered request, no live lease).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

__all__ = ["Claim", "Lease", "RunLeases", "supports_leases"]


class Lease(BaseModel):
    """One grant of a run's lease: `holder` may work on `run_id` until `until`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    holder: str
    """Who holds it: a worker id, or host, process and purpose."""
    fence: int
    """The fencing token: 1 for the run's first grant, one more for each later grant."""
    until: datetime
    """When it runs out unless renewed; after that another holder may take the run."""

    def is_live(self, now: datetime) -> bool:
        return self.until > now


class Claim(BaseModel):
    """A ready run a worker leased, with the lease to resume it under."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    adapter: str
    lease: Lease

    @property
    def worker(self) -> str:
        return self.lease.holder

    @property
    def until(self) -> datetime:
        return self.lease.until


@runtime_checkable
class RunLeases(Protocol):
    """Lease ready runs for a while, to resume them one worker at a time."""

    def claim_ready(self, worker: str, *, lease: timedelta, limit: int = 10) -> list[Claim]:
        """Lease up to `limit` paused runs that have an answered request and no live lease.

        Two workers calling at once never get the same run; each claim's lease has a new
        fencing token.
        """
        ...


def supports_leases(store: object) -> bool:
    """Whether the store can lease ready runs to workers."""
    return isinstance(store, RunLeases)
