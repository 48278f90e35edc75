"""`hitl audit RUN_ID` shows a run's trail; `hitl audit verify` checks the hash chain.

One command with one positional, not a group: a Click group would read ``verify`` as
the optional RUN_ID before looking for a subcommand. So the literal ``verify`` means
verify, anything else is a run id, and ``--run`` names a run either way, which is how
a run that is literally called "verify" is reached: ``hitl audit --run verify``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from hitl_cli.options import (
    JsonFlag,
    StoreURL,
    console,
    error_console,
    existing_store,
    print_json,
    print_models,
)
from hitl_cli.render import audit_table

if TYPE_CHECKING:
    from hitl_core.audit_chain import ChainReport

__all__ = ["VERIFY", "audit"]

VERIFY = "verify"
"""The positional that means "verify the chain" rather than "show this run"."""


def audit(
    store: StoreURL,
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="RUN_ID|verify",
            help="A run whose trail to show, or `verify` to check the whole audit chain.",
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            help="The run to show (use for a run named 'verify'), or with `verify`, the "
            "only run to check."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a run's audit trail, or verify the audit chain (exit 1 if it was tampered with)."""
    if target == VERIFY:
        _verify(store, run, as_json)
        return
    if target is not None and run is not None and target != run:
        raise typer.BadParameter(f"the run is given twice ({target!r} and --run {run!r}).")
    run_id = target or run
    if run_id is None:
        raise typer.BadParameter("give a RUN_ID, --run RUN_ID, or `verify`.")
    _trail(store, run_id, as_json)


def _trail(store_url: str, run_id: str, as_json: bool) -> None:
    with existing_store(store_url) as store:
        events = store.audit(run_id=run_id)
        if not events:
            store.load_run(run_id)  # UnknownRun (exit 1) when there is no such run at all
    if as_json:
        print_models(events)
    else:
        out = console()
        out.print(audit_table(events, f"Audit trail of run {run_id}", width=out.width))


def _verify(store_url: str, run_id: str | None, as_json: bool) -> None:
    from hitl_core.audit_chain import verify_store

    with existing_store(store_url) as store:
        report = verify_store(store, run_id=run_id)
    if as_json:
        print_json(report.model_dump_json(indent=2))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: ChainReport) -> None:
    out = console()
    unchained = (
        f" ({report.unchained} older events predate the chain and were not checked)"
        if report.unchained
        else ""
    )
    if report.ok:
        out.print(f"{report.events} events in {report.runs} runs verified{unchained}.")
        return
    table = Table(title="Audit chain problems", title_justify="left")
    for column in ("run", "seq", "chain index", "kind", "message"):
        table.add_column(column, overflow="fold")
    for problem in report.problems:
        table.add_row(
            Text(problem.run_id),
            Text(_or_dash(problem.seq)),
            Text(_or_dash(problem.chain_index)),
            Text(str(problem.kind)),
            Text(problem.message),
        )
    out.print(table)
    error_console().print(
        f"[red]The audit chain does not verify:[/] {len(report.problems)} problems in "
        f"{report.events} events{unchained}."
    )


def _or_dash(number: int | None) -> str:
    return "-" if number is None else str(number)
