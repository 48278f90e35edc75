"""What every benchmark shares: a throwaway server, fresh schemas, percentiles, a table.

Each benchmark starts its own PostgreSQL (or uses ``HITL_TEST_POSTGRES_URL``) so that it
runs from a clean checkout with one command, and gives every store under test a schema
of its own so that the store and its raw baseline never see each other's rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar
from uuid import uuid4

import psycopg

from tests.postgres_server import start_server

__all__ = [
    "ROOT",
    "Stopwatch",
    "base_parser",
    "fresh_schema",
    "median_ms",
    "p95_ms",
    "postgres",
    "print_load",
    "print_table",
    "ratio",
    "rss_kib",
    "time_each",
]

ROOT = Path(__file__).parents[1]
"""The checkout, where worker processes run so that ``tests.worker_app`` imports."""


@contextmanager
def postgres() -> Iterator[str]:
    """A superuser URL to a server started for this benchmark, stopped afterwards."""
    server = start_server()
    try:
        yield server.url
    finally:
        server.stop()


def fresh_schema(server_url: str, prefix: str = "b") -> str:
    """A URL to a new empty schema, as ``tests/conftest.py`` makes one per test."""
    schema = f"{prefix}_{uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{server_url}?options=-csearch_path%3D{schema}"


class Stopwatch:
    """Wall and CPU time of a block, in seconds: ``with Stopwatch() as sw: ...; sw.seconds``.

    CPU time is this process's (all threads): the client-side cost, which on a loaded
    machine says more about what the code costs than the wall time does.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self._start = self._cpu_start = 0.0

    def __enter__(self) -> Stopwatch:
        self._start, self._cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self._start
        self.cpu_seconds = time.process_time() - self._cpu_start


def time_each(calls: int, operation: Callable[[], object]) -> list[float]:
    """The duration of each of `calls` calls, in seconds (for latency percentiles)."""
    durations: list[float] = []
    for _ in range(calls):
        start = time.perf_counter()
        operation()
        durations.append(time.perf_counter() - start)
    return durations


def median_ms(seconds: Sequence[float]) -> float:
    return statistics.median(seconds) * 1000


def p95_ms(seconds: Sequence[float]) -> float:
    """The 95th percentile (inclusive method, so it is an observed-range value)."""
    if len(seconds) < 2:
        return max(seconds) * 1000
    return statistics.quantiles(seconds, n=100, method="inclusive")[94] * 1000


def ratio(numerator: float, denominator: float) -> str:
    """``1.23x``, or ``n/a`` when the baseline took no measurable time."""
    return f"{numerator / denominator:.2f}x" if denominator > 0 else "n/a"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain fixed-width table: first column left-aligned, figures right-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        print(line.rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def base_parser(description: str | None) -> argparse.ArgumentParser:
    """A parser with ``--quick``; each benchmark adds its own size options."""
    parser = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run, for a smoke test")
    return parser


def rss_kib(pid: int) -> int:
    """The process's resident set size (VmRSS) in KiB, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"process {pid} has no VmRSS (has it exited?)")


def print_load(moment: str) -> None:
    """The machine's 1-minute load average, so a reader can tell a quiet run from a busy one.

    On a shared 2-core machine a load above 2 means other work competed for the CPUs,
    which slows every round trip and stretches ratios (see ``bench/README.md``).
    """
    print(f"load average {moment}: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


PHASES = ("pause", "decide", "resume")
"""The phases of one pause -> decide -> resume cycle, as `Laps` records them."""


class Laps:
    """Wall and CPU seconds of each phase of one cycle: call it with a phase to end it."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def __call__(self, phase: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.wall[phase], self.cpu[phase] = wall - self._wall, cpu - self._cpu
        self._wall, self._cpu = wall, cpu


@dataclass
class Samples:
    """Every timed cycle of one side of a pause -> decide -> resume benchmark, in seconds."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    phase_wall: dict[str, list[float]] = field(default_factory=dict)
    phase_cpu: dict[str, list[float]] = field(default_factory=dict)

    def add(self, laps: Laps) -> None:
        self.wall.append(sum(laps.wall.values()))
        self.cpu.append(sum(laps.cpu.values()))
        for phase in PHASES:
            self.phase_wall.setdefault(phase, []).append(laps.wall[phase])
            self.phase_cpu.setdefault(phase, []).append(laps.cpu[phase])


T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Side(Protocol[T_co]):
    """One side of a pause -> decide -> resume comparison (the raw framework, or hitl-kit)."""

    name: str

    def cycle(self, run_id: str, lap: Laps) -> T_co:
        """Run one payment through pause, decision and resume; what the model ended with."""
        ...


def interleave(
    raw: Side[T],
    hitl: Side[T],
    prefix: str,
    cycles: int,
    warmup: int,
    into: dict[str, Samples],
    *,
    work: Callable[[T], object] = lambda outcome: outcome,
) -> None:
    """`warmup` untimed then `cycles` timed cycles a side, alternating which side goes first.

    Stops the benchmark if the two sides' `work` (e.g. their final conversations) differ:
    a ratio between sides doing different work means nothing.
    """
    for n in range(warmup + cycles):
        did: dict[str, object] = {}
        for side in (raw, hitl) if n % 2 == 0 else (hitl, raw):
            lap = Laps()
            did[side.name] = work(side.cycle(f"{prefix}-{side.name}-{n}", lap))
            if n >= warmup:
                into[side.name].add(lap)
        if did[raw.name] != did[hitl.name]:
            raise SystemExit(f"The sides did different work:\n{did[raw.name]}\n{did[hitl.name]}")


def comparison_rows(label: str, samples: dict[str, Samples]) -> list[tuple[object, ...]]:
    """Median and p95 wall and CPU ms per side, then hitl-kit / raw (sides: raw first)."""
    rows: list[tuple[object, ...]] = [
        (f"{label}{name}", median_ms(s.wall), p95_ms(s.wall), median_ms(s.cpu), p95_ms(s.cpu))
        for name, s in samples.items()
    ]
    raw, hitl = samples.values()
    rows.append(
        (
            f"{label}hitl-kit / raw",
            ratio(median_ms(hitl.wall), median_ms(raw.wall)),
            ratio(p95_ms(hitl.wall), p95_ms(raw.wall)),
            ratio(median_ms(hitl.cpu), median_ms(raw.cpu)),
            ratio(p95_ms(hitl.cpu), p95_ms(raw.cpu)),
        )
    )
    return rows


def phase_rows(label: str, samples: dict[str, Samples]) -> list[tuple[object, ...]]:
    """Median wall and CPU ms of each phase, raw then hitl-kit (sides: raw first)."""
    raw, hitl = samples.values()
    return [
        (
            f"{label}{phase}",
            median_ms(raw.phase_wall[phase]),
            median_ms(hitl.phase_wall[phase]),
            median_ms(raw.phase_cpu[phase]),
            median_ms(hitl.phase_cpu[phase]),
        )
        for phase in PHASES
    ]


def median_ratios(samples: dict[str, Samples]) -> str:
    """``"1.23x wall / 1.30x CPU"``: hitl-kit over raw, medians per cycle (sides: raw first)."""
    raw, hitl = samples.values()
    wall = statistics.median(hitl.wall) / statistics.median(raw.wall)
    cpu = statistics.median(hitl.cpu) / statistics.median(raw.cpu)
    return f"{wall:.2f}x wall / {cpu:.2f}x CPU"
