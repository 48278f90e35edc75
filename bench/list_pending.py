"""Latency of `list_requests(limit=50)` over 100,000 pending requests, store against raw.

A review queue opens on the first page of pending requests and pages on with the
cursor, so both pages are timed: the first one and one halfway down (a cursor taken at
row rows/2). The baseline is a plain psycopg connection running the same SELECT (the
store's own `list_query`) and fetching the same rows as dicts, without the Pydantic
models. Calls alternate store, raw, store, raw... so that load from elsewhere on the
machine falls on both alike. Target from the issue: a median under 10 ms.

    .venv/bin/python -m bench.list_pending             # 100,000 rows, 300 calls per page
    .venv/bin/python -m bench.list_pending --quick     # 20,000 rows, 100 calls per page
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg

from bench._bulk import check_shape, load_paused_runs, use_ledger
from bench._common import (
    Stopwatch,
    base_parser,
    fresh_schema,
    median_ms,
    p95_ms,
    postgres,
    print_load,
    print_table,
    ratio,
)
from bench._raw_store import RawStore
from hitl_core import ApprovalRequest, RequestStatus
from hitl_core.stores import postgres_sql as sql
from hitl_core.stores.base import encode_cursor
from hitl_core.stores.postgres import PostgresStore

TARGET_MS = 10.0
LIMIT = 50


def cursor_at(url: str, position: int) -> str:
    """The page cursor a reviewer would hold after reading `position` pending requests."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT doc FROM hitl_requests WHERE status = 'pending' "
            "ORDER BY created_at, id OFFSET %s LIMIT 1",
            (position - 1,),
        ).fetchone()
    if row is None:
        raise SystemExit(f"there are fewer than {position} pending requests")
    return encode_cursor(ApprovalRequest.model_validate(row[0]))


def alternate(
    calls: int, store: Callable[[], object], raw: Callable[[], object]
) -> tuple[list[float], list[float]]:
    """Each call's seconds, store and raw taking turns (the first pair warms up)."""
    store()
    raw()
    store_times: list[float] = []
    raw_times: list[float] = []
    for _ in range(calls):
        for operation, times in ((store, store_times), (raw, raw_times)):
            with Stopwatch() as watch:
                operation()
            times.append(watch.seconds)
    return store_times, raw_times


def plan(url: str, cursor: str | None) -> str:
    """The query plan's nodes, e.g. ``Limit > Index Scan (hitl_requests_status)``."""
    query, params = sql.list_query(RequestStatus.PENDING, None, None, cursor, LIMIT)
    with psycopg.connect(url) as conn:
        row = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", params).fetchone()
    assert row is not None
    nodes: list[str] = []
    node: dict[str, Any] | None = row[0][0]["Plan"]
    while node is not None:
        index = f" ({node['Index Name']})" if "Index Name" in node else ""
        nodes.append(f"{node['Node Type']}{index}")
        children = node.get("Plans") or [None]
        node = children[0]
    return " > ".join(nodes) + f", {row[0][0]['Execution Time']:.2f} ms in the server"


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--rows", type=int, help="pending requests (default 100,000)")
    parser.add_argument("--calls", type=int, help="timed calls per page and side (default 300)")
    args = parser.parse_args()
    rows = args.rows or (20_000 if args.quick else 100_000)
    calls = args.calls or (100 if args.quick else 300)
    use_ledger()
    print_load("before")
    with postgres() as server:
        check_shape(server)
        url = fresh_schema(server)
        store = PostgresStore(url, max_size=2)
        with Stopwatch() as loading:
            load_paused_runs(url, rows)
        print(f"loaded {rows:,} paused runs in {loading.seconds:.1f} s")
        raw = RawStore(url)
        deep = cursor_at(url, rows // 2)
        pages = {"first page": None, f"page after row {rows // 2:,}": deep}
        table = []
        for name, cursor in pages.items():
            ours, base = alternate(
                calls,
                partial(store.list_requests, limit=LIMIT, cursor=cursor),
                partial(raw.page, LIMIT, cursor),
            )
            verdict = "ok" if median_ms(ours) < TARGET_MS else "missed"
            table.append(
                (
                    name,
                    median_ms(ours),
                    p95_ms(ours),
                    median_ms(base),
                    p95_ms(base),
                    ratio(median_ms(ours), median_ms(base)),
                    verdict,
                )
            )
            print(f"{name}: {plan(url, cursor)}")
        store.close()
        raw.close()
    headers = ("list_requests(limit=50)", "store median ms", "store p95 ms")
    print_table((*headers, "raw median ms", "raw p95 ms", "store/raw", "median < 10 ms"), table)
    print_load("after")


if __name__ == "__main__":
    main()
