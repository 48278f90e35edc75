"""Resume throughput of `hitl worker` processes: one against two, and against a plain loop.

M paused runs of `tests.worker_app` are decided, then resumed three ways, each in a
fresh schema: by one worker process, by two side by side (``--until-idle``, so each
exits once nothing is left), and by the baseline, a loop in this process calling
``build(store).resume(run_id)`` for each run, with no leases, claims or expiry passes.
A worker process spends time starting Python and opening the store before its first
claim; that is measured separately (the same number of workers, idle, over an empty
store) and subtracted, so the figures compare resuming, not interpreter start-up. The
ledger must show each run paid exactly once, or the benchmark fails.

    .venv/bin/python -m bench.worker_throughput            # M=2000
    .venv/bin/python -m bench.worker_throughput --quick    # M=300
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench._bulk import load_paused_runs, use_ledger
from bench._common import (
    ROOT,
    Stopwatch,
    base_parser,
    fresh_schema,
    postgres,
    print_load,
    print_table,
    ratio,
)
from hitl_core import Decision
from hitl_core.stores.postgres import PostgresStore
from tests.worker_app import build


@dataclass
class Result:
    """How long one way of resuming took for `runs` runs."""

    label: str
    runs: int
    seconds: float
    startup: float = 0.0

    @property
    def per_second(self) -> float:
        return self.runs / self.seconds


def decided_runs(server: str, count: int) -> tuple[str, list[str]]:
    """A fresh store holding `count` paused runs, every one approved; returns its URL."""
    url = fresh_schema(server)
    store = PostgresStore(url, max_size=2)
    request_ids = load_paused_runs(url, count)
    for request_id in request_ids:
        store.decide(request_id, Decision.approve(by="ana"))
    run_ids = [store.get(r).run_id for r in request_ids]
    store.close()
    return url, run_ids


def run_workers(url: str, count: int, batch: int) -> tuple[float, int]:
    """Wall seconds until `count` ``--until-idle`` workers all exit; runs they resumed."""
    command = [sys.executable, "-m", "hitl_cli", "worker", "--store", url]
    command += ["--app", "tests.worker_app:REGISTRY", "--until-idle", "--batch", str(batch)]
    with Stopwatch() as watch:
        workers = [
            subprocess.Popen(
                [*command, "--id", f"w{i}"],
                cwd=ROOT,
                env=dict(os.environ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(count)
        ]
        errors = [w.communicate(timeout=600)[1] for w in workers]
    for worker, err in zip(workers, errors, strict=True):
        if worker.returncode != 0:
            raise SystemExit(f"a worker failed: {err}")
    return watch.seconds, sum(int(err.split("resumed ")[1].split()[0]) for err in errors)


def startup_seconds(server: str, count: int, batch: int) -> float:
    """What `count` workers take to start, pass once over nothing, and exit (best of 3)."""
    return min(run_workers(fresh_schema(server), count, batch)[0] for _ in range(3))


def check_ledger(ledger: Path, runs: int, label: str) -> None:
    """Each run paid exactly once: `runs` lines, all distinct."""
    lines = ledger.read_text().splitlines() if ledger.exists() else []
    if len(lines) != runs or len(set(lines)) != runs:
        raise SystemExit(f"{label}: {len(lines)} payments ({len(set(lines))} distinct), not {runs}")


def with_workers(server: str, runs: int, count: int, batch: int) -> Result:
    url, _ = decided_runs(server, runs)
    ledger = Path(use_ledger())
    startup = startup_seconds(server, count, batch)
    seconds, resumed = run_workers(url, count, batch)
    label = f"{count} worker process{'es' if count > 1 else ''}"
    if resumed != runs:
        raise SystemExit(f"{label} resumed {resumed} runs, not {runs}")
    check_ledger(ledger, runs, label)
    return Result(label, runs, seconds - startup, startup)


def in_process(server: str, runs: int) -> Result:
    """The baseline: resume each run directly, one after the other, no leases."""
    url, run_ids = decided_runs(server, runs)
    ledger = Path(use_ledger())
    store = PostgresStore(url, max_size=2)
    resume = build(store).resume
    with Stopwatch() as watch:
        for run_id in run_ids:
            resume(run_id)
    store.close()
    check_ledger(ledger, runs, "in-process loop")
    return Result("raw: in-process resume loop", runs, watch.seconds)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("-m", "--runs", type=int, help="decided runs to resume (default 2000)")
    parser.add_argument("--batch", type=int, default=25, help="runs a worker claims per pass")
    args = parser.parse_args()
    runs = args.runs or (300 if args.quick else 2000)
    print_load("before")
    with postgres() as server:
        raw = in_process(server, runs)
        one = with_workers(server, runs, 1, args.batch)
        two = with_workers(server, runs, 2, args.batch)
    rows = [
        (r.label, r.runs, r.seconds, r.startup, r.per_second, ratio(r.seconds, raw.seconds))
        for r in (one, two, raw)
    ]
    headers = ("resumed by", "runs", "seconds", "start-up s (subtracted)", "runs/s")
    print_table((*headers, "time / raw"), rows)
    print(f"2 workers vs 1: {one.seconds / two.seconds:.2f}x the throughput")
    print_load("after")


if __name__ == "__main__":
    main()
