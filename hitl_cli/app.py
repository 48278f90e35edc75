"""The ``hitl`` console script (Typer + Rich)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from hitl_cli import audit, inbox, review, runs, serve, tokens
from hitl_cli.options import error_console
from hitl_cli.schemas import SCHEMAS, schema_of
from hitl_core.errors import HITLError

app = typer.Typer(
    help="hitl-kit: pause an agent before a consequential action; resume it after a human decides.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def demo(
    store: Annotated[
        str, typer.Option(help="Store URL for the demo's paused runs.")
    ] = "sqlite:///.hitl/demo.db",
    keep: Annotated[bool, typer.Option(help="Keep earlier demo runs in the store.")] = False,
) -> None:
    """Run the payments scenario: a small payment runs, 4,200 pauses; approve, edit, reject."""
    from hitl_cli.demo import run_demo

    if store.startswith("sqlite:///") and not keep:
        db = Path(store.removeprefix("sqlite:///"))
        db.unlink(missing_ok=True)
        db.with_name(db.stem + "-checkpoints" + db.suffix).unlink(missing_ok=True)
    run_demo(store, Console())


@app.command()
def schema(
    name: Annotated[str | None, typer.Argument(help=f"One of: {', '.join(SCHEMAS)}.")] = None,
) -> None:
    """Print the JSON Schema of the wire models (all of them, or one)."""
    if name is None:
        document = {key: schema_of(key) for key in SCHEMAS}
    elif name in SCHEMAS:
        document = schema_of(name)
    else:
        error_console().print(
            f"[red]Unknown schema {name!r}.[/] Choose one of: {', '.join(SCHEMAS)}."
        )
        raise typer.Exit(2)
    print(json.dumps(document, indent=2, sort_keys=True))


@app.command()
def conformance(
    adapter: Annotated[
        str, typer.Argument(help="A package (hitl_loop) or a driver factory (module:factory).")
    ],
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON here.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show pytest's output.")] = False,
) -> None:
    """Run the conformance suite against an adapter; exit non-zero below level BASE."""
    from hitl_cli.conformance import print_report
    from hitl_conformance.driver import factory_ref, load_factory
    from hitl_conformance.runner import run_suite

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` would: factories next to the user
    try:
        load_factory(factory_ref(adapter))
    except (ImportError, AttributeError) as error:
        error_console().print(f"[red]Cannot import the driver factory for {adapter!r}:[/] {error}")
        raise typer.Exit(2) from None
    _, report = run_suite(
        adapter, pytest_args=() if verbose else ("--quiet", "--no-header", "-rN", "--tb=no")
    )
    print_report(report, Console())
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_dict(), indent=2))
    if report.level() == "NONE":
        raise typer.Exit(1)


@app.command()
def worker(
    store: Annotated[str, typer.Option(envvar="HITL_STORE_URL", help="The shared store's URL.")],
    app_ref: Annotated[
        str, typer.Option("--app", help="MODULE:REGISTRY, mapping adapter names to builders.")
    ],
    lease: Annotated[float, typer.Option(help="Seconds a claim on a run holds.")] = 60.0,
    poll: Annotated[float, typer.Option(help="Seconds between idle passes.")] = 1.0,
    batch: Annotated[int, typer.Option(help="Runs claimed per pass.")] = 10,
    worker_id: Annotated[str | None, typer.Option("--id", help="This worker's name.")] = None,
    until_idle: Annotated[bool, typer.Option(help="Exit once a pass finds nothing to do.")] = False,
) -> None:
    """Resume decided runs from a shared store until stopped (SIGTERM/SIGINT)."""
    import importlib
    import signal
    from datetime import timedelta

    from hitl_core import open_store
    from hitl_core.worker import Worker

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attribute = app_ref.partition(":")
    registry = getattr(importlib.import_module(module_name), attribute or "REGISTRY")
    opened = open_store(store)
    runner = Worker(
        opened,
        registry,
        worker_id=worker_id,
        lease=timedelta(seconds=lease),
        batch=batch,
        poll_interval=poll,
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: runner.stop())
    resumed = runner.run(until_idle=until_idle)
    opened.close()
    error_console().print(f"worker {runner.worker_id}: resumed {resumed} runs")


# The reviewer's commands: each lives in the module of its concept.
app.command("pending")(inbox.pending)
app.command("show")(inbox.show)
app.command("approve")(review.approve)
app.command("reject")(review.reject)
app.command("edit")(review.edit)
app.command("respond")(review.respond)
app.command("audit")(audit.audit)
app.command("runs")(runs.runs)
app.command("retry")(runs.retry)
app.command("serve")(serve.serve)
app.command("token")(tokens.token)


@app.command()
def webhooks(
    store: Annotated[str, typer.Option(envvar="HITL_STORE_URL", help="The store's URL.")],
    config: Annotated[
        Path, typer.Option(help="TOML file of webhook endpoints (see docs/webhooks.md).")
    ] = Path("webhooks.toml"),
    poll: Annotated[float, typer.Option(help="Seconds between idle passes.")] = 1.0,
    until_idle: Annotated[
        bool, typer.Option(help="Exit once every event is delivered or given up.")
    ] = False,
) -> None:
    """Post approval events to the configured webhooks until stopped (SIGTERM/SIGINT)."""
    import signal

    from hitl_core import open_store
    from hitl_server.dispatcher import Dispatcher
    from hitl_server.webhook_config import load_webhooks

    endpoints = load_webhooks(config)
    opened = open_store(store)
    try:
        with Dispatcher(opened, endpoints, poll_interval=poll) as dispatcher:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: dispatcher.stop())
            done = dispatcher.run(until_idle=until_idle)
    finally:
        opened.close()
    error_console().print(
        f"webhooks: delivered {done.delivered}, gave up {done.gave_up}, "
        f"skipped {done.skipped} events"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: runs the app and turns hitl errors into a message and exit code 1.

    `argv` defaults to the process's arguments; tests pass their own.
    """
    try:
        app(args=list(argv) if argv is not None else None)
    except HITLError as error:
        # soft_wrap: the message stays one line per sentence, whatever the terminal's width
        error_console().print(
            f"[red]{type(error).__name__}:[/] {escape(str(error))}", soft_wrap=True
        )
        raise SystemExit(1) from None
