"""Many paused runs of the worker app, fast: rows the store would write, loaded with COPY.

Starting 100,000 runs through `ToolLoop.start` takes several transactions each, which
would make the benchmarks about loading rather than about what they measure. Instead
the real loop pauses one template run in memory; every further run is that template
with its run id, request id, recipient and times substituted, passed through the same
`lifecycle.create` the store calls, linked into its run's audit chain as the store links
it, and copied in. `check_shape` proves the result is what the store itself writes: it
pauses a real run on PostgreSQL and compares every column of every row with the rows
built here for the same ids and times, then verifies the copied run's chain.
"""

from __future__ import annotations

import atexit
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench._common import fresh_schema
from hitl_core import ApprovalRequest, ApprovalStore, RunRecord, open_store, verify_store
from hitl_core.audit_chain import linked_document
from hitl_core.clock import utcnow
from hitl_core.identity import args_digest, request_id
from hitl_core.stores import lifecycle
from hitl_core.stores.postgres import PostgresStore
from hitl_loop import Paused
from tests.worker_app import build

__all__ = ["PausedRun", "Template", "check_shape", "load_paused_runs", "pause", "use_ledger"]

_RUN = "TPLRUN"
_RECIPIENT = "TPLRECIPIENT"

Row = tuple[Any, ...]


def use_ledger() -> str:
    """Point the worker app's ledger (``HITL_TEST_LEDGER``) at a fresh temporary file.

    The file is removed when the benchmark exits.
    """
    fd, path = tempfile.mkstemp(prefix="hitl-bench-ledger-", suffix=".jsonl")
    os.close(fd)
    os.environ["HITL_TEST_LEDGER"] = path
    atexit.register(Path(path).unlink, missing_ok=True)
    return path


@dataclass(frozen=True)
class PausedRun:
    """The rows one paused run has: its snapshot, its request, the request's audit event
    (the first link of the run's chain) and the run's chain head."""

    run: Row
    request: Row
    audit: Row
    head: Row
    request_id: str


@dataclass(frozen=True)
class Template:
    """One run of `tests.worker_app`, paused by the real loop on its 4,200 payment."""

    run: RunRecord
    request: ApprovalRequest

    @classmethod
    def make(cls) -> Template:
        store = open_store("memory://")
        request = pause(store, _RECIPIENT, _RUN)
        template = cls(store.load_run(_RUN), request)
        store.close()
        return template

    def paused(
        self, run_id: str, recipient: str, started: datetime, asked: datetime, saved: datetime
    ) -> PausedRun:
        """The rows the store writes when the app pauses `run_id` paying `recipient`.

        `started` is when the run was first saved, `asked` when the request was raised,
        `saved` when the paused snapshot was written.
        """
        action = self.request.action
        args = {**action.args, "recipient": recipient}
        request = self.request.model_copy(
            update={
                "id": request_id(run_id, action.call_id),
                "run_id": run_id,
                "action": action.model_copy(update={"args": args}),
                "args_digest": args_digest(args),
                "created_at": asked,
            }
        )
        fresh, event = lifecycle.create(None, request)
        assert event is not None
        state = (
            self.run.state.replace(_RUN, run_id)
            .replace(self.request.id, request.id)
            .replace(_RECIPIENT, recipient)
        )
        run = self.run.model_copy(
            update={"run_id": run_id, "state": state, "created_at": started, "updated_at": saved}
        )
        doc, head = linked_document(event, None)
        return PausedRun(
            run=(run.run_id, run.adapter, run.status.value, run.version, run.model_dump_json()),
            request=(
                fresh.id,
                fresh.run_id,
                fresh.action.tool,
                fresh.status.value,
                fresh.created_at,
                fresh.expires_at,
                fresh.model_dump_json(),
            ),
            audit=(event.run_id, event.request_id, json.dumps(doc)),
            head=(head.run_id, head.chain_index, head.hash),
            request_id=fresh.id,
        )


def pause(store: ApprovalStore, recipient: str, run_id: str) -> ApprovalRequest:
    """Start a worker-app run that pays `recipient`; return the request it pauses on."""
    outcome = build(store).start(recipient, run_id=run_id)
    if not isinstance(outcome, Paused):
        raise SystemExit(f"the worker app did not pause run {run_id}: {outcome}")
    return outcome.requests[0]


RUN_COLUMNS = "run_id, adapter, status, version, doc"
REQUEST_COLUMNS = "id, run_id, tool, status, created_at, expires_at, doc"
AUDIT_COLUMNS = "run_id, request_id, doc"
HEAD_COLUMNS = "run_id, chain_index, hash"
TABLES = (
    ("hitl_runs", RUN_COLUMNS),
    ("hitl_requests", REQUEST_COLUMNS),
    ("hitl_audit", AUDIT_COLUMNS),
    ("hitl_audit_heads", HEAD_COLUMNS),
)
"""Each table a paused run has rows in, with the columns `PausedRun` fills, in its order."""


def bulk_run_id(index: int) -> str:
    return f"bulk-{index:07d}"


def generate(template: Template, count: int, start: int = 0) -> Iterator[PausedRun]:
    """`count` paused runs, one microsecond apart, so pages have a stable order."""
    base = utcnow() - timedelta(days=1)
    for index in range(start, start + count):
        moment = base + timedelta(microseconds=index)
        yield template.paused(bulk_run_id(index), f"recipient-{index:07d}", moment, moment, moment)


def load_paused_runs(url: str, count: int, start: int = 0) -> list[str]:
    """COPY `count` paused runs into the store at `url` (schema already set up).

    Returns their request ids, in creation order. Runs ``ANALYZE`` afterwards, as
    autovacuum eventually would, so that plans are those of a settled database.
    """
    template = Template.make()
    ids: list[str] = []
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        rows: list[list[Row]] = [[] for _ in TABLES]
        for paused in generate(template, count, start):
            for table_rows, row in zip(rows, _rows_of(paused), strict=True):
                table_rows.append(row)
            ids.append(paused.request_id)
        for (table, columns), table_rows in zip(TABLES, rows, strict=True):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in table_rows:
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        cur.execute(f"ANALYZE {', '.join(table for table, _ in TABLES)}")
    return ids


def _rows_of(paused: PausedRun) -> tuple[Row, ...]:
    """`paused`'s rows in `TABLES` order."""
    return paused.run, paused.request, paused.audit, paused.head


def _rows(cur: psycopg.Cursor[Any], run_id: str) -> list[Row]:
    """What is stored for one run, in `TABLES` order, in the column order `PausedRun` uses."""
    stored = []
    for table, columns in TABLES:
        row = cur.execute(f"SELECT {columns} FROM {table} WHERE run_id = %s", (run_id,)).fetchone()
        if row is None:
            raise SystemExit(f"{run_id} has no row in {table}")
        stored.append(row)
    return stored


def check_shape(server_url: str) -> None:
    """Insist that bulk rows equal the store's own rows, column by column.

    Pauses a real run through the store in a scratch schema, builds the bulk rows for
    the same id, recipient and times, copies them into another scratch schema, and
    compares every table; then reads the bulk run back through the store and verifies
    its audit chain.

    Raises:
        SystemExit: naming the table whose rows differ, or the chain's problems.
    """
    real_url, bulk_url = fresh_schema(server_url, "shape"), fresh_schema(server_url, "shape")
    store = PostgresStore(real_url, max_size=1)
    request = pause(store, "recipient-real", "real-run")
    run = store.load_run("real-run")
    store.close()
    bulk = PostgresStore(bulk_url, max_size=1)
    built = Template.make().paused(
        "real-run", "recipient-real", run.created_at, request.created_at, run.updated_at
    )
    with psycopg.connect(bulk_url) as conn, conn.cursor() as cur:
        for (table, columns), row in zip(TABLES, _rows_of(built), strict=True):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write_row(row)
    stored, copied = _stored(real_url, "real-run"), _stored(bulk_url, "real-run")
    for (table, _), theirs, ours in zip(TABLES, stored, copied, strict=True):
        if ours != theirs:
            raise SystemExit(f"bulk {table} row differs from the store's:\n{ours}\n{theirs}")
    if bulk.get(request.id) != request or bulk.load_run("real-run") != run:
        raise SystemExit("the store reads bulk rows back differently")
    report = verify_store(bulk)
    if not report.ok or report.events != 1:
        raise SystemExit(f"the bulk run's audit chain does not verify: {report.problems}")
    bulk.close()


def _stored(url: str, run_id: str) -> list[Row]:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        return _rows(cur, run_id)
