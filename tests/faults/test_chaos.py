"""Workers SIGKILLed about every half second, PostgreSQL crashed once: each run paid once.

See `tests.faults.chaos` for what is done and checked. PostgreSQL gets a server of its own
(it is crashed mid-run); SQLite shares one file between every worker.
"""

from __future__ import annotations

from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

from tests.faults.chaos import Chaos, Plan
from tests.faults.forks import forks
from tests.faults.sizes import sizes
from tests.postgres_server import PostgresServer


def test_workers_killed_and_postgres_crashed_pay_each_run_once(
    own_postgres: PostgresServer,
    tmp_path: Path,
    forkserver: ForkServerContext,
    figures: dict[str, Any],
) -> None:
    plan = Plan(
        runs=sizes().chaos_postgres_runs, workers=sizes().chaos_postgres_workers, restart_at=0.3
    )
    with forks(forkserver, tmp_path / "logs") as started:
        chaos = Chaos(started, own_postgres.url, tmp_path, plan, server=own_postgres)
        try:
            chaos.run()
        finally:
            figures.update(store="postgres", **chaos.figures.as_dict())


def test_workers_killed_on_one_sqlite_file_pay_each_run_once(
    tmp_path: Path, forkserver: ForkServerContext, figures: dict[str, Any]
) -> None:
    plan = Plan(runs=sizes().chaos_sqlite_runs, workers=sizes().chaos_sqlite_workers)
    url = f"sqlite:///{tmp_path / 'hitl.db'}"
    with forks(forkserver, tmp_path / "logs") as started:
        chaos = Chaos(started, url, tmp_path, plan)
        try:
            chaos.run()
        finally:
            figures.update(store="sqlite", **chaos.figures.as_dict())
