"""`hitl pending` and `hitl show`: what waits for a reviewer, and one request in full."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from hitl_cli.options import JsonFlag, StoreURL, console, existing_store, print_json, print_models
from hitl_cli.render import request_view, requests_table
from hitl_core import ApprovalRequest, ApprovalStore, RequestStatus

__all__ = ["PAGE_SIZE", "StatusFilter", "collect", "pending", "show"]

PAGE_SIZE = 100
"""Requests asked of the store per page; `collect` follows cursors for more."""


class StatusFilter(StrEnum):
    """A request status to list, or ``any``."""

    PENDING = "pending"
    DECIDED = "decided"
    EXPIRED = "expired"
    RESUMED = "resumed"
    CANCELLED = "cancelled"
    ANY = "any"


def collect(
    store: ApprovalStore,
    *,
    status: RequestStatus | None,
    run_id: str | None,
    tool: str | None,
    limit: int,
) -> list[ApprovalRequest]:
    """Up to `limit` requests in (created_at, id) order, following the store's cursors."""
    found: list[ApprovalRequest] = []
    cursor: str | None = None
    while len(found) < limit:
        page = store.list_requests(
            status=status,
            run_id=run_id,
            tool=tool,
            limit=min(PAGE_SIZE, limit - len(found)),
            cursor=cursor,
        )
        found += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


def pending(
    store: StoreURL,
    tool: Annotated[str | None, typer.Option(help="Only calls to this tool.")] = None,
    run: Annotated[str | None, typer.Option(help="Only requests of this run.")] = None,
    status: Annotated[
        StatusFilter, typer.Option(help="Which requests to list; any lists them all.")
    ] = StatusFilter.PENDING,
    limit: Annotated[int, typer.Option(min=1, help="List at most this many, oldest first.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List requests waiting for a reviewer (or with another status), oldest first."""
    wanted = None if status is StatusFilter.ANY else RequestStatus(status.value)
    with existing_store(store) as opened:
        found = collect(opened, status=wanted, run_id=run, tool=tool, limit=limit)
        now = opened.clock.now()
    if as_json:
        print_models(found)
        return
    out = console()
    if not found:
        out.print(f"No {'' if wanted is None else status.value + ' '}requests.")
        return
    out.print(
        requests_table(
            found, now, show_run=run is None, show_status=wanted is None, width=out.width
        )
    )
    if len(found) == limit:
        out.print(f"Listed {limit} (the --limit); there may be more.")


def show(
    request_id: Annotated[str, typer.Argument(metavar="ID", help="The request's id.")],
    store: StoreURL,
    as_json: JsonFlag = False,
) -> None:
    """Show one request: the proposed call, why it is gated, and any decision."""
    with existing_store(store) as opened:
        request = opened.get(request_id)
        now = opened.clock.now()
    if as_json:
        print_json(request.model_dump_json(indent=2))
    else:
        console().print(request_view(request, now))
