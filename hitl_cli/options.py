"""What every store command shares: the store option, ``--json``, and where output goes.

Machine output (``--json``) is plain text on stdout and nothing else, so it pipes into
``jq``; human output goes through Rich, created per command so ``COLUMNS`` is honoured.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.console import Console

from hitl_core import ApprovalStore, open_store

__all__ = [
    "JsonFlag",
    "StoreURL",
    "console",
    "error_console",
    "existing_store",
    "print_json",
    "print_models",
]

StoreURL = Annotated[
    str,
    typer.Option(
        "--store",
        envvar="HITL_STORE_URL",
        help="The approval store's URL, e.g. sqlite:///approvals.db or postgresql://…",
        show_envvar=True,
    ),
]
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON on stdout, nothing else.")
]


def console() -> Console:
    """Rich output on stdout, for people."""
    return Console(highlight=False)


def error_console() -> Console:
    """Rich output on stderr: diagnostics that must not mix with `--json` output."""
    return Console(stderr=True, highlight=False)


def print_json(text: str) -> None:
    """Write JSON text to stdout untouched (no Rich wrapping or markup)."""
    print(text)


def print_models(models: Sequence[BaseModel]) -> None:
    """A list of Pydantic models as one JSON array, each in its own JSON form."""
    items = ",\n".join(model.model_dump_json(indent=2) for model in models)
    print_json(f"[\n{items}\n]" if items else "[]")


@contextmanager
def existing_store(url: str) -> Iterator[ApprovalStore]:
    """Open the store at `url` for reviewing, and close it afterwards.

    A SQLite URL must name an existing file: opening creates one, and a typo would
    otherwise show an empty store (nothing pending) instead of an error.
    """
    if url.startswith("sqlite:"):
        from hitl_core.stores.sqlite import path_from_url

        path: Path = path_from_url(url)
        if not path.exists():
            raise typer.BadParameter(
                f"no SQLite store at {path}; check the path (sqlite:///relative.db or "
                "sqlite:////absolute.db).",
                param_hint="'--store' / HITL_STORE_URL",
            )
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()
