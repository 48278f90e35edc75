"""Two processes resume one approved run at the same instant: the payment is made once.

Per adapter and store, each trial pauses a run on a gated payment (the standard policy,
4,200), approves it, and forks two fresh processes that each build the adapter's driver
and call ``resume`` at the same moment (a shared barrier). The run's lease lets exactly
one of them through: the other gets `RunBusy`, or `RunNotPaused` if it came after the
first had finished. Executions are counted from the trial's own journal, which the tool
fsyncs before it returns.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any

import pytest

from hitl_conformance.adapters import installed_adapters
from hitl_conformance.driver import DriverConfig, load_factory
from hitl_conformance.journal import Journal
from hitl_core import Decision, RequestStatus, RunStatus, open_store, verify_store
from tests.every_adapter_app import SCENARIO
from tests.faults.forks import Forks, forks
from tests.faults.race import BARRIER_TIMEOUT, resume_run
from tests.faults.sizes import sizes

BATCH = 5
"""Trials raced at once (two processes each)."""
LOSERS = {"RunBusy", "RunNotPaused"}
"""What the process that did not resume may be told."""


def _paused_and_approved(adapter: str, config: DriverConfig, run_id: str) -> str:
    """Start `run_id` (it pauses on the payment) and approve it; the request's id."""
    driver = load_factory(adapter)(config)
    try:
        outcome = driver.start(run_id)
        assert outcome.status == "paused", outcome
        [request_id] = outcome.pending
        driver.store.decide(request_id, Decision.approve(by="ana"))
    finally:
        driver.close()
    return request_id


def _race(
    started: Forks, adapter: str, configs: dict[str, DriverConfig], directory: Path
) -> dict[str, list[dict[str, Any]]]:
    """Race two processes over each run at once; each run's two outcome lines."""
    racers = []
    barriers = []  # kept until the end: a barrier collected here is gone for the children
    for run_id, config in configs.items():
        barrier = started.context.Barrier(2)
        barriers.append(barrier)
        for contender in ("a", "b"):
            out = directory / f"{run_id}-{contender}.json"
            process = started.start(
                resume_run,
                adapter,
                config.model_dump_json(),
                run_id,
                barrier,
                str(out),
                name=f"{run_id}-{contender}",
            )
            racers.append((run_id, contender, process, out))
    lines: dict[str, list[dict[str, Any]]] = {run_id: [] for run_id in configs}
    for run_id, contender, process, out in racers:
        process.join(timeout=BARRIER_TIMEOUT + 60)
        name = f"{run_id}-{contender}"
        assert process.exitcode == 0, f"{name} exited {process.exitcode}:\n{started.log(name)}"
        lines[run_id].append(json.loads(out.read_text()))
    return lines


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize("adapter", installed_adapters())
def test_two_processes_resuming_one_run_execute_it_once(
    adapter: str,
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    forkserver: ForkServerContext,
    figures: dict[str, Any],
) -> None:
    url = (
        request.getfixturevalue("postgres_url")
        if kind == "postgres"
        else f"sqlite:///{tmp_path / 'hitl.db'}"
    )
    trials = sizes().race_trials
    began = time.monotonic()
    losers: Counter[str] = Counter()
    executions = duplicates = 0
    store = open_store(url)
    try:
        with forks(forkserver, tmp_path / "logs") as started:
            for first in range(0, trials, BATCH):
                configs = {
                    f"run-{i:03d}": DriverConfig(
                        store_url=url, journal=tmp_path / f"run-{i:03d}", scenario=SCENARIO
                    )
                    for i in range(first, min(first + BATCH, trials))
                }
                requests = {
                    run_id: _paused_and_approved(adapter, config, run_id)
                    for run_id, config in configs.items()
                }
                for run_id, (one, other) in _race(started, adapter, configs, tmp_path).items():
                    made = len(Journal(configs[run_id].journal).executions())
                    executions += made
                    duplicates += max(made - 1, 0)
                    assert made == 1, f"{run_id}: the payment was made {made} times"
                    winner, loser = (one, other) if "status" in one else (other, one)
                    assert winner == {"status": "completed"}, (one, other)
                    assert loser.get("error") in LOSERS, (one, other)
                    losers[loser["error"]] += 1
                    assert store.get(requests[run_id]).status is RequestStatus.RESUMED
                    assert store.load_run(run_id).status is RunStatus.COMPLETED
                    report = verify_store(store, run_id=run_id)
                    assert report.ok, report
        assert verify_store(store).ok
    finally:
        figures.update(
            store=kind,
            adapter=adapter,
            trials=trials,
            processes=2 * trials,
            executions=executions,
            duplicates=duplicates,
            run_busy=losers["RunBusy"],
            run_not_paused=losers["RunNotPaused"],
            wall_seconds=round(time.monotonic() - began, 1),
        )
        store.close()
