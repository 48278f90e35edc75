"""Resident memory of an idle `hitl worker` over 0 and over 100,000 paused runs.

A worker must hold nothing per paused run: between passes it waits for events, and
each pass asks the database only for due requests and ready runs. So the process's
RSS (``VmRSS`` in ``/proc/<pid>/status``) should be the same over an empty store and
over one with 100,000 runs waiting on humans. The benchmark starts the real worker
(``python -m hitl_cli worker``) on each store with a short poll, so that it makes dozens
of passes while RSS is sampled; then it decides one run and waits until the worker pays
it, which proves the worker was alive and watching that store. It also times one idle
pass (`expire_due` + `claim_ready`) from this process on each store.

    .venv/bin/python -m bench.worker_memory            # 0 vs 100,000 paused runs
    .venv/bin/python -m bench.worker_memory --quick    # 0 vs 20,000
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench._bulk import check_shape, load_paused_runs, use_ledger
from bench._common import (
    ROOT,
    Stopwatch,
    base_parser,
    fresh_schema,
    median_ms,
    postgres,
    print_load,
    print_table,
    rss_kib,
    time_each,
)
from hitl_core import Decision
from hitl_core.stores.postgres import PostgresStore

POLL = 0.2
"""Seconds between idle passes: short, so the sampling window spans many passes."""


@dataclass
class Sample:
    """What one idle worker looked like over one store."""

    paused: int
    first_kib: int
    last_kib: int
    peak_kib: int
    pass_ms: float
    after_resume_kib: int


def start_worker(url: str, name: str) -> subprocess.Popen[str]:
    """The real worker command, as an operator would run it."""
    command = [sys.executable, "-m", "hitl_cli", "worker", "--store", url]
    command += ["--app", "tests.worker_app:REGISTRY", "--poll", str(POLL), "--id", name]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def sample_rss(pid: int, seconds: float, every: float = 0.25) -> list[int]:
    """VmRSS readings over `seconds`."""
    readings = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        readings.append(rss_kib(pid))
        time.sleep(every)
    return readings


def idle_pass_seconds(store: PostgresStore, calls: int) -> list[float]:
    """What one idle worker pass costs: expiring nothing, then claiming nothing."""

    def one_pass() -> None:
        store.expire_due()
        store.claim_ready("probe", lease=timedelta(seconds=60), limit=10)

    return time_each(calls, one_pass)


def wait_for_payment(ledger: Path, count: int, timeout: float = 30) -> None:
    """Block until the ledger has `count` lines (the worker paid)."""
    deadline = time.monotonic() + timeout
    while not ledger.exists() or len(ledger.read_text().splitlines()) < count:
        if time.monotonic() > deadline:
            raise SystemExit("the worker never resumed the decided run")
        time.sleep(0.05)


def measure(
    server: str, paused: int, ledger: Path, settle: float, window: float, paid: int
) -> Sample:
    """Load `paused` runs, idle a worker over them, sample its RSS, then feed it one run."""
    url = fresh_schema(server)
    store = PostgresStore(url, max_size=2)
    if paused:
        load_paused_runs(url, paused)
    pass_ms = median_ms(idle_pass_seconds(store, 50))
    worker = start_worker(url, f"mem-{paused}")
    time.sleep(settle)
    readings = sample_rss(worker.pid, window)
    [extra] = load_paused_runs(url, 1, start=paused)
    store.decide(extra, Decision.approve(by="ana"))
    wait_for_payment(ledger, paid)
    after = rss_kib(worker.pid)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=30)
    if worker.returncode != 0:
        raise SystemExit(f"worker failed: {err}")
    store.close()
    return Sample(paused, readings[0], readings[-1], max(readings), pass_ms, after)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--runs", type=int, help="paused runs in the full store (default 100,000)")
    parser.add_argument("--window", type=float, help="seconds of RSS sampling (default 8)")
    args = parser.parse_args()
    runs = args.runs or (20_000 if args.quick else 100_000)
    window = args.window or (4.0 if args.quick else 8.0)
    ledger = Path(use_ledger())
    samples = []
    print_load("before")
    with postgres() as server:
        check_shape(server)
        for paid, paused in enumerate((0, runs), start=1):
            with Stopwatch() as took:
                samples.append(measure(server, paused, ledger, 3.0, window, paid))
            print(f"{paused:,} paused runs: measured in {took.seconds:.1f} s")
    report(samples, window)
    print_load("after")


def report(samples: list[Sample], window: float) -> None:
    mib = 1024
    rows: list[tuple[object, ...]] = [
        (
            f"{s.paused:,}",
            s.first_kib / mib,
            s.last_kib / mib,
            s.peak_kib / mib,
            s.after_resume_kib / mib,
            s.pass_ms,
        )
        for s in samples
    ]
    empty, full = samples[0], samples[-1]
    differences = (
        (full.first_kib - empty.first_kib) / mib,
        (full.last_kib - empty.last_kib) / mib,
        (full.peak_kib - empty.peak_kib) / mib,
        (full.after_resume_kib - empty.after_resume_kib) / mib,
        full.pass_ms - empty.pass_ms,
    )
    rows.append(("difference", *(f"{d:+.2f}" for d in differences)))
    headers = ("paused runs", "RSS MiB at start", f"after {window:.0f} s", "peak")
    print_table((*headers, "after 1 resume", "idle pass ms"), rows)


if __name__ == "__main__":
    main()
