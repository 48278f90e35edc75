"""`hitl serve`: the review server (HTTP API, event stream, inbox) under uvicorn."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hitl_cli.options import StoreURL
from hitl_core.errors import MissingDependency

__all__ = ["serve"]


def _file_option(help_text: str, *, envvar: str | None = None) -> Any:
    """An option naming a file that must exist."""
    return typer.Option(
        envvar=envvar, show_envvar=envvar is not None, exists=True, dir_okay=False, help=help_text
    )


def serve(
    store: StoreURL,
    reviewers: Annotated[
        Path,
        _file_option(
            "Reviewers TOML file: ids, roles and token digests (`hitl token` makes entries).",
            envvar="HITL_REVIEWERS",
        ),
    ],
    policy: Annotated[
        Path | None,
        _file_option("Policy file whose per-tool reviewers and roles apply.", envvar="HITL_POLICY"),
    ] = None,
    app_ref: Annotated[
        str | None,
        typer.Option(
            "--app", help="MODULE:REGISTRY, to resume runs in the server as they are decided."
        ),
    ] = None,
    webhooks: Annotated[
        Path | None, _file_option("Webhooks file: where to send request events.")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8000,
) -> None:
    """Serve the review API and inbox; reviewers authenticate with their bearer tokens."""
    try:
        from hitl_server.serving import serve as run_server
        from hitl_server.settings import ServerSettings, build_app
    except ModuleNotFoundError as error:
        if error.name not in ("uvicorn", "fastapi", "starlette", "httpx"):
            raise
        raise MissingDependency(error.name, "server") from None

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `worker` does: the --app module next to the user
    settings = ServerSettings(
        store_url=store,
        reviewers_file=reviewers,
        policy_file=policy,
        app=app_ref,
        webhooks_file=webhooks,
    )
    # `run_server` is uvicorn.run, except that shutting down first ends open event
    # streams, which would otherwise hold a SIGTERM until every inbox disconnects.
    run_server(build_app(settings), host=host, port=port)
