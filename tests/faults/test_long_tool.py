"""Two workers with a 5 s lease share runs whose tool takes 8 s: none is taken over.

A worker's claim holds a run for ``--lease`` seconds; the pass it resumes the run with
must renew that lease while the tool runs, or the other worker takes the run mid-tool
(finding the payment claimed but unsettled: an unknown outcome for a run that was fine).
The agents are built with their default lease, as a deployment's would be: the worker's
``--lease 5`` is the only short one. Each run's lease must be granted exactly twice (its
start, then one worker's claim), its payment made once, and the run completed.
"""

from __future__ import annotations

import time
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

from hitl_conformance.adapters import installed_adapters
from hitl_conformance.driver import DriverConfig, load_factory
from hitl_conformance.journal import Faults, Journal
from hitl_core import Decision, RequestStatus, RunStatus, open_store, verify_store
from tests.every_adapter_app import SCENARIO
from tests.faults.forks import forks, hitl_worker
from tests.faults.sizes import sizes

LEASE = 5.0
TOOL_SECONDS = 8.0
WORKERS = 2


def test_a_tool_that_outlives_the_lease_keeps_its_run(
    postgres_url: str,
    tmp_path: Path,
    forkserver: ForkServerContext,
    figures: dict[str, Any],
) -> None:
    runs = sizes().long_tool_runs
    adapters = installed_adapters()
    plan = {f"run-{i}": adapters[i % len(adapters)] for i in range(runs)}
    journals = tmp_path / "journals"
    for run_id, adapter in plan.items():
        config = DriverConfig(store_url=postgres_url, journal=journals / run_id, scenario=SCENARIO)
        Journal(config.journal).set_faults(Faults(delay_before_effect=TOOL_SECONDS))
        driver = load_factory(adapter)(config)
        try:
            [request_id] = driver.start(run_id).pending
            driver.store.decide(request_id, Decision.approve(by="ana"))
        finally:
            driver.close()
    store = open_store(postgres_url)
    env = {"HITL_TEST_STORE_URL": postgres_url, "HITL_TEST_JOURNAL": str(journals)}
    began = time.monotonic()
    try:
        with forks(forkserver, tmp_path / "logs") as started:
            workers = [
                started.start(
                    hitl_worker,
                    [
                        "worker",
                        "--store",
                        postgres_url,
                        "--app",
                        "tests.every_adapter_app:PER_RUN_REGISTRY",
                        "--lease",
                        str(LEASE),
                        "--poll",
                        "0.2",
                        "--batch",
                        "1",
                        "--id",
                        f"w{i}",
                    ],
                    name=f"w{i}",
                    env=env,
                )
                for i in range(WORKERS)
            ]
            deadline = began + TOOL_SECONDS * (runs // WORKERS + 1) + 60
            while any(store.load_run(r).status is not RunStatus.COMPLETED for r in plan):
                assert time.monotonic() < deadline, "the runs did not complete in time"
                assert not store.list_runs(status=RunStatus.FAILED).items
                assert not store.list_requests(status=RequestStatus.PENDING).items, (
                    "an unknown outcome was surfaced: a worker took over a run mid-tool"
                )
                time.sleep(0.5)
            wall = time.monotonic() - began
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.join(timeout=30)
                name = worker.name
                assert worker.exitcode == 0, (
                    f"{name} exited {worker.exitcode}:\n{started.log(name)}"
                )
                assert "taken over" not in started.log(name), started.log(name)
        executions = {r: len(Journal(journals / r).executions()) for r in plan}
        assert executions == dict.fromkeys(plan, 1)
        grants = {r: store.lease_of(r) for r in plan}
        assert {r: lease.fence if lease else None for r, lease in grants.items()} == dict.fromkeys(
            plan, 2
        ), "a run's lease was granted to a second worker"
        requests = store.list_requests(status=None, limit=1000).items
        assert sorted((r.run_id, r.kind, r.status) for r in requests) == [
            (r, "approval", RequestStatus.RESUMED) for r in sorted(plan)
        ]
        assert verify_store(store).ok
        figures.update(
            store="postgres",
            runs=runs,
            workers=WORKERS,
            lease_seconds=LEASE,
            tool_seconds=TOOL_SECONDS,
            executions=sum(executions.values()),
            duplicates=sum(n - 1 for n in executions.values() if n > 1),
            takeovers=sum(1 for lease in grants.values() if lease and lease.fence > 2),
            wall_seconds=round(wall, 1),
        )
    finally:
        store.close()
