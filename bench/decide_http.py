"""Deciding over HTTP: 200 concurrent reviewers post decisions to a PostgreSQL-backed server.

N pending requests are decided by R reviewers at once (each reviewer posts its share of
the decisions one after another, all reviewers in flight together) over loopback HTTP
to the review app as ``hitl serve`` builds it (`hitl_server.settings.build_app`),
running under uvicorn in a process of its own. Each decision is timed from the moment
the post is sent until its answer arrives. Every post must get a 200, and every
request must end decided by the reviewer who posted it, or the benchmark fails.

The baseline is the same N decisions made in this process with `store.decide` by R
threads, on a `PostgresStore` of the same pool size as the server's, in a fresh schema
on the same server in the same run: what HTTP, authentication, the access check and
FastAPI add on top of the store.

    .venv/bin/python -m bench.decide_http            # N=2000, R=200
    .venv/bin/python -m bench.decide_http --quick    # N=400
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
from fastapi import FastAPI

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
from hitl_core import Decision, RequestStatus, open_store
from hitl_core.reviewers import hash_token
from hitl_core.stores.base import ApprovalStore
from hitl_server.settings import ServerSettings, build_app
from tests.factories import payment_request
from tests.server.live import free_port, reviewer_clients

STARTUP_TIMEOUT = 30.0


def app_from_env() -> FastAPI:
    """The server process's app (``uvicorn --factory``), from the benchmark's files."""
    return build_app(
        ServerSettings(
            store_url=os.environ["HITL_BENCH_STORE"],
            reviewers_file=Path(os.environ["HITL_BENCH_REVIEWERS"]),
        )
    )


@dataclass
class Result:
    """One side's run: each decision's latency in seconds, and the wall time of all of them."""

    label: str
    latencies: list[float]
    seconds: float

    def row(self) -> tuple[object, ...]:
        return (
            self.label,
            len(self.latencies),
            percentile_ms(self.latencies, 50),
            percentile_ms(self.latencies, 95),
            percentile_ms(self.latencies, 99),
            len(self.latencies) / self.seconds,
        )


def percentile_ms(seconds: Sequence[float], pct: int) -> float:
    """The `pct`-th percentile (inclusive method: an observed-range value), in ms."""
    return statistics.quantiles(seconds, n=100, method="inclusive")[pct - 1] * 1000


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def token(index: int) -> str:
    return f"bench-token-{index:04d}"


def reviewer_id(index: int) -> str:
    return f"reviewer-{index:04d}"


def shares(request_ids: list[str], reviewers: int) -> list[list[str]]:
    """Request ids dealt round-robin: reviewer i decides ids i, i+R, i+2R..."""
    return [request_ids[i::reviewers] for i in range(reviewers)]


def put_pending(store: ApprovalStore, count: int) -> list[str]:
    return [store.put(payment_request()).id for _ in range(count)]


def check_decided(store: ApprovalStore, dealt: list[list[str]]) -> None:
    """Every request decided once, by the reviewer it was dealt to."""
    for index, share in enumerate(dealt):
        for request_id in share:
            request = store.get(request_id)
            decided_by = request.decision.by if request.decision else None
            if request.status is not RequestStatus.DECIDED or decided_by != reviewer_id(index):
                raise SystemExit(f"{request_id}: {request.status}, by {decided_by}")


# -- over HTTP ----------------------------------------------------------------------------


def write_reviewers(path: Path, reviewers: int) -> None:
    path.write_text(
        "".join(
            f'[[reviewer]]\nid = "{reviewer_id(i)}"\ntoken_sha256 = "{hash_token(token(i))}"\n\n'
            for i in range(reviewers)
        )
    )


def start_server(store_url: str, reviewers_file: Path) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn in its own process, serving `app_from_env`; returns it once it answers."""
    port = free_port()
    env = {**os.environ, "HITL_BENCH_STORE": store_url, "HITL_BENCH_REVIEWERS": str(reviewers_file)}
    server = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "bench.decide_http:app_from_env", "--factory",
            "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise SystemExit(f"the review server did not start on port {port}")
        time.sleep(0.1)


async def post_all(url: str, dealt: list[list[str]]) -> Result:
    """Every reviewer posts its share, all reviewers at once; each post timed.

    Each reviewer has a client of its own (`reviewer_clients`): one shared client would
    cap the run near 50 decisions/s whatever the server does.
    """
    latencies: list[float] = []
    async with AsyncExitStack() as stack:
        tokens = [token(i) for i in range(len(dealt))]
        clients = await reviewer_clients(stack, url, tokens, timeout=60)
        # Open every reviewer's connection before the clock starts.
        await asyncio.gather(*(client.get("/v1/me") for client in clients))

        async def reviewer(http: httpx.AsyncClient, share: list[str]) -> None:
            for request_id in share:
                start = time.perf_counter()
                response = await http.post(
                    f"/v1/requests/{request_id}/decision", json={"type": "approve"}
                )
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise SystemExit(f"{request_id}: {response.status_code} {response.text}")

        with Stopwatch() as watch:
            await asyncio.gather(*(reviewer(c, s) for c, s in zip(clients, dealt, strict=True)))
    return Result(f"HTTP: {plural(len(dealt), 'reviewer')}", latencies, watch.seconds)


def over_http(server_url: str, decisions: int, reviewers: int) -> Result:
    url = fresh_schema(server_url, "http")
    store = open_store(url)
    dealt = shares(put_pending(store, decisions), reviewers)
    with TemporaryDirectory() as tmp:
        reviewers_file = Path(tmp) / "reviewers.toml"
        write_reviewers(reviewers_file, reviewers)
        server, base = start_server(url, reviewers_file)
        try:
            result = asyncio.run(post_all(base, dealt))
        finally:
            server.terminate()
            server.wait(timeout=30)
    check_decided(store, dealt)
    store.close()
    return result


# -- in process -----------------------------------------------------------------------------


def in_process(server_url: str, decisions: int, reviewers: int) -> Result:
    """The same decisions through `store.decide`, one thread per reviewer."""
    store = open_store(fresh_schema(server_url, "raw"))
    dealt = shares(put_pending(store, decisions), reviewers)
    latencies: list[float] = []
    lock = threading.Lock()
    ready = threading.Barrier(reviewers + 1)

    def reviewer(index: int, share: list[str]) -> None:
        store.get(share[0])  # as over HTTP: warm up before the clock starts
        ready.wait()
        mine = []
        for request_id in share:
            start = time.perf_counter()
            store.decide(request_id, Decision.approve(by=reviewer_id(index)))
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    with ThreadPoolExecutor(reviewers) as pool:
        futures = [pool.submit(reviewer, i, share) for i, share in enumerate(dealt)]
        ready.wait()
        with Stopwatch() as watch:
            for future in futures:
                future.result()
    check_decided(store, dealt)
    store.close()
    return Result(f"raw: store.decide, {plural(reviewers, 'thread')}", latencies, watch.seconds)


def ratios(http: Result, raw: Result) -> str:
    latency = ", ".join(
        f"p{pct} {ratio(percentile_ms(http.latencies, pct), percentile_ms(raw.latencies, pct))}"
        for pct in (50, 95, 99)
    )
    throughput = ratio(len(http.latencies) / http.seconds, len(raw.latencies) / raw.seconds)
    return f"latency {latency}; throughput {throughput}"


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("-n", type=int, help="decisions per side (default 2000)")
    parser.add_argument("-r", "--reviewers", type=int, default=200, help="concurrent reviewers")
    parser.add_argument(
        "--solo", type=int, help="decisions by a single reviewer, unqueued latency (default 300)"
    )
    args = parser.parse_args()
    decisions = args.n or (400 if args.quick else 2000)
    solo = args.solo if args.solo is not None else (100 if args.quick else 300)
    if decisions < args.reviewers:
        raise SystemExit("give every reviewer at least one decision: -n >= --reviewers")
    runs = [(decisions, args.reviewers)] + [(solo, 1)] * (solo > 0)
    print_load("before")
    with postgres() as server:
        results = [
            (over_http(server, n, reviewers), in_process(server, n, reviewers))
            for n, reviewers in runs
        ]
    headers = ("side", "decisions", "p50 ms", "p95 ms", "p99 ms", "decisions/s")
    print_table(headers, [result.row() for pair in results for result in pair])
    for (_, reviewers), (http, raw) in zip(runs, results, strict=True):
        print(f"HTTP/raw with {reviewers} at once: {ratios(http, raw)}")
    print_load("after")


if __name__ == "__main__":
    main()
