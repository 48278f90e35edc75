"""How big the fault runs are: small for `make test`, full for `make faults`.

``HITL_FAULTS=full`` picks the full sizes (the issue's "Must show" figures); any single
size can be set on its own, e.g. ``HITL_FAULT_RACE_TRIALS=200``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

__all__ = ["FULL", "SMALL", "Sizes", "sizes"]


@dataclass(frozen=True)
class Sizes:
    race_trials: int
    """Races of two processes resuming one run, per adapter and store."""
    long_tool_runs: int
    """Runs two workers share whose tool outlives the workers' lease."""
    chaos_postgres_runs: int
    chaos_postgres_workers: int
    chaos_sqlite_runs: int
    chaos_sqlite_workers: int
    worker_runs: int
    """Runs over every adapter four workers resume, unharmed (tests/core/test_worker.py)."""


SMALL = Sizes(
    race_trials=5,
    long_tool_runs=2,
    chaos_postgres_runs=60,
    chaos_postgres_workers=4,
    chaos_sqlite_runs=30,
    chaos_sqlite_workers=3,
    worker_runs=250,
)
FULL = Sizes(
    race_trials=50,
    long_tool_runs=4,
    chaos_postgres_runs=1000,
    chaos_postgres_workers=4,
    chaos_sqlite_runs=200,
    chaos_sqlite_workers=3,
    worker_runs=1000,
)


def sizes() -> Sizes:
    """The sizes asked for by the environment."""
    base = FULL if os.environ.get("HITL_FAULTS", "").lower() == "full" else SMALL
    overrides = {
        field.name: int(os.environ[key])
        for field in dataclasses.fields(Sizes)
        if (key := f"HITL_FAULT_{field.name.upper()}") in os.environ
    }
    return dataclasses.replace(base, **overrides)
