"""Latency from a reviewer's decision to the approved tool running, with and without NOTIFY.

An idle worker waits on ``LISTEN hitl_events`` between passes, so a decision should
reach it in milliseconds. Here the worker runs in a thread with a 5 s poll interval,
so anything well under 5 s can only have come through NOTIFY. N runs of
`tests.worker_app` are paused; they are approved one at a time, and for each the
latency is the time from `store.decide` returning to the payment tool starting (the
tool records `time.perf_counter()`). Decisions are spaced out at random so that each
finds the worker idle, as sparse human decisions would. The baseline is the same worker on a
store that does not offer `wait_for_events` (as behind a pooler that drops LISTEN),
polling every 0.2 s.

    .venv/bin/python -m bench.decide_latency            # 100 decisions per mode
    .venv/bin/python -m bench.decide_latency --quick    # 30
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from bench._bulk import load_paused_runs, use_ledger
from bench._common import (
    base_parser,
    fresh_schema,
    median_ms,
    p95_ms,
    postgres,
    print_load,
    print_table,
)
from hitl_core import ApprovalStore, Decision
from hitl_core.stores import postgres_sql as sql
from hitl_core.stores.postgres import PostgresStore
from hitl_core.worker import Registry, Resume, Worker
from hitl_loop import Tool
from tests.worker_app import build

LISTEN_POLL = 5.0
"""Long, so that a fast pickup proves NOTIFY woke the worker."""
FALLBACK_POLL = 0.2
GAPS = (0.05, 0.25)
"""Seconds between a payment and the next decision, drawn uniformly: long enough for the
worker to go idle, and random so that decisions land at every phase of a poll cycle."""


class PaymentClock:
    """Stamps the moment each recipient's payment starts and wakes whoever waits for it."""

    def __init__(self) -> None:
        self.paid_at: dict[str, float] = {}
        self._changed = threading.Condition()

    def send_payment(self, amount: float, recipient: str) -> str:
        """Send a payment."""
        now = time.perf_counter()
        with self._changed:
            self.paid_at[recipient] = now
            self._changed.notify_all()
        return f"paid {amount:.2f} to {recipient}"

    def wait(self, recipient: str, timeout: float) -> float:
        """When `recipient` was paid; raises SystemExit if not within `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: recipient in self.paid_at, timeout):
                raise SystemExit(f"{recipient} was not paid within {timeout} s")
            return self.paid_at[recipient]

    def registry(self) -> Registry:
        """The worker app, with its payment tool swapped for this clock's (same schema)."""

        def resumer(store: ApprovalStore) -> Resume:
            loop = build(store)
            loop.tools["send_payment"] = Tool.from_function(self.send_payment)
            return loop.resume

        return {"hitl_loop": resumer}


class WithoutNotify(PostgresStore):
    """The store minus `wait_for_events`, so the worker falls back to polling."""

    def __getattribute__(self, name: str) -> Any:
        if name == "wait_for_events":
            raise AttributeError(name)
        return super().__getattribute__(name)


@dataclass
class Mode:
    """One way for the worker to learn of decisions: its store class and poll interval."""

    label: str
    store_class: type[PostgresStore]
    poll: float


def latencies(server: str, mode: Mode, decisions: int) -> list[float]:
    """Seconds from each `decide` returning to its payment starting, in one worker thread."""
    url = fresh_schema(server)
    store = PostgresStore(url, max_size=2)
    request_ids = load_paused_runs(url, decisions)
    clock = PaymentClock()
    worker = Worker(
        mode.store_class(url, max_size=2),
        clock.registry(),
        worker_id="lat",
        poll_interval=mode.poll,
    )
    thread = threading.Thread(target=worker.run, name="worker", daemon=True)
    thread.start()
    time.sleep(0.5)  # the worker is listening and idle
    seconds = []
    gaps = random.Random(11)
    for index, request_id in enumerate(request_ids):
        store.decide(request_id, Decision.approve(by="ana"))
        decided = time.perf_counter()
        seconds.append(clock.wait(f"recipient-{index:07d}", timeout=mode.poll + 10) - decided)
        time.sleep(gaps.uniform(*GAPS))
    stop(worker, thread, url)
    store.close()
    return seconds


def stop(worker: Worker, thread: threading.Thread, url: str) -> None:
    """Stop the worker thread; a NOTIFY wakes it, since `stop()` cannot cut a LISTEN wait."""
    worker.stop()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.NOTIFY, (sql.CHANNEL, "{}"))
    thread.join(timeout=FALLBACK_POLL + LISTEN_POLL + 5)
    worker.store.close()


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("-n", type=int, help="decisions per mode (default 100)")
    args = parser.parse_args()
    decisions = args.n or (30 if args.quick else 100)
    use_ledger()
    modes = (
        Mode(f"LISTEN/NOTIFY, poll {LISTEN_POLL:.0f} s", PostgresStore, LISTEN_POLL),
        Mode(f"raw: polling every {FALLBACK_POLL} s", WithoutNotify, FALLBACK_POLL),
    )
    rows = []
    print_load("before")
    with postgres() as server:
        results = [latencies(server, mode, decisions) for mode in modes]
    baseline = median_ms(results[-1])
    for mode, seconds in zip(modes, results, strict=True):
        median = median_ms(seconds)
        rows.append(
            (
                mode.label,
                len(seconds),
                median,
                p95_ms(seconds),
                max(seconds) * 1000,
                f"{median / baseline:.3f}x",
            )
        )
    headers = ("worker wakes by", "decisions", "median ms", "p95 ms", "max ms")
    print_table((*headers, "median vs polling"), rows)
    print_load("after")


if __name__ == "__main__":
    main()
