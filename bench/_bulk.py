"""Many paused runs of the worker app, fast: rows the store would write, loaded with COPY.

Starting 100,000 runs through `ToolLoop.start` takes several transactions each, which
would make the benchmarks about loading rather than about what they measure. Instead
the real loop pauses one template run in memory; every further run is that template
with its run id, request id, recipient and times substituted, passed through the same
`lifecycle.create` the store calls, and copied in. `check_shape` proves the result is
what the store itself writes: it pauses a real run on PostgreSQL and compares every
column of every row with the rows built here for the same ids and times.
"""

from __future__ import annotations

import atexit
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench._common import fresh_schema
from hitl_core import ApprovalRequest, ApprovalStore, RunRecord, open_store
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
    """The three rows one paused run has: its snapshot, its request, the request's audit."""

    run: Row
    request: Row
    audit: Row
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
            audit=(event.run_id, event.request_id, event.model_dump_json(exclude={"seq"})),
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
        runs, requests, audits = [], [], []
        for paused in generate(template, count, start):
            runs.append(paused.run)
            requests.append(paused.request)
            audits.append(paused.audit)
            ids.append(paused.request_id)
        for table, columns, rows in (
            ("hitl_runs", RUN_COLUMNS, runs),
            ("hitl_requests", REQUEST_COLUMNS, requests),
            ("hitl_audit", AUDIT_COLUMNS, audits),
        ):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE hitl_runs, hitl_requests, hitl_audit")
    return ids


def _rows(cur: psycopg.Cursor[Any], run_id: str) -> tuple[Row, Row, Row]:
    """What is stored for one run, in the column order `PausedRun` uses."""
    run = cur.execute(f"SELECT {RUN_COLUMNS} FROM hitl_runs WHERE run_id = %s", (run_id,))
    run_row = run.fetchone()
    request = cur.execute(
        f"SELECT {REQUEST_COLUMNS} FROM hitl_requests WHERE run_id = %s", (run_id,)
    )
    request_row = request.fetchone()
    audit = cur.execute(f"SELECT {AUDIT_COLUMNS} FROM hitl_audit WHERE run_id = %s", (run_id,))
    audit_row = audit.fetchone()
    if run_row is None or request_row is None or audit_row is None:
        raise SystemExit(f"{run_id} is not fully stored")
    return run_row, request_row, audit_row


def check_shape(server_url: str) -> None:
    """Insist that bulk rows equal the store's own rows, column by column.

    Pauses a real run through the store in a scratch schema, builds the bulk rows for
    the same id, recipient and times, copies them into another scratch schema, and
    compares all three tables; then reads the bulk run back through the store.

    Raises:
        SystemExit: naming the table whose rows differ.
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
        for table, columns, row in (
            ("hitl_runs", RUN_COLUMNS, built.run),
            ("hitl_requests", REQUEST_COLUMNS, built.request),
            ("hitl_audit", AUDIT_COLUMNS, built.audit),
        ):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write_row(row)
    stored, copied = _stored(real_url, "real-run"), _stored(bulk_url, "real-run")
    for table, theirs, ours in zip(("runs", "requests", "audit"), stored, copied, strict=True):
        if ours != theirs:
            raise SystemExit(f"bulk hitl_{table} row differs from the store's:\n{ours}\n{theirs}")
    if bulk.get(request.id) != request or bulk.load_run("real-run") != run:
        raise SystemExit("the store reads bulk rows back differently")
    bulk.close()


def _stored(url: str, run_id: str) -> tuple[Row, Row, Row]:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        return _rows(cur, run_id)
