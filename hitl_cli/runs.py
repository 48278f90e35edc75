"""`hitl runs` lists runs (failed ones, say); `hitl retry RUN_ID` reopens a failed run.

A pass that raises leaves its run ``failed`` with the error recorded and its last good
snapshot kept. Retrying reopens it as paused: a `hitl worker` resumes it when it has an
answered request, or any process resumes it with its runner's ``resume``. Calls that ran
before the failure are answered from the ledger, never run again.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hitl_cli.options import JsonFlag, StoreURL, console, existing_store, print_json, print_models
from hitl_core.stores import RunStatus

__all__ = ["retry", "runs"]

STATUSES = [status.value for status in RunStatus]


def runs(
    store: StoreURL,
    status: Annotated[
        str | None,
        typer.Option(help=f"Only runs in this status: {', '.join(STATUSES)}."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many runs.")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List runs, oldest first, with their status and, for failed ones, the error."""
    if status is not None and status not in STATUSES:
        raise typer.BadParameter(f"unknown status {status!r}; use one of {', '.join(STATUSES)}.")
    with existing_store(store) as opened:
        page = opened.list_runs(
            status=RunStatus(status) if status is not None else None, limit=limit
        )
    if as_json:
        print_models(page.items)
        return
    table = Table("run", "adapter", "status", "updated", "error")
    for run in page.items:
        table.add_row(
            run.run_id, run.adapter, run.status.value, run.updated_at.isoformat(), run.error or ""
        )
    console().print(table)


def retry(
    run_id: Annotated[str, typer.Argument(help="The failed run to reopen.")],
    store: StoreURL,
    name: Annotated[
        str, typer.Option("--as", envvar="HITL_REVIEWER", help="Who reopens it (audited).")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Reopen a failed run (or one whose process died mid-pass) so it can be resumed."""
    with existing_store(store) as opened:
        reopened = opened.retry_run(run_id, by=name)
    if as_json:
        print_json(reopened.model_dump_json(indent=2))
        return
    console().print(
        f"Run {run_id} reopened as {reopened.status.value}; resume it with its runner, "
        "or let a worker pick it up once it has an answered request.",
        markup=False,
    )
