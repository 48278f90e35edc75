"""The ``/v1`` endpoints: requests and their decisions, the audit trail, the event stream.

Store calls are synchronous, so the endpoints that make them are plain functions, which
FastAPI runs in its thread pool, off the event loop; the others are coroutines. Every
path and query value is bounded, and checked for text no store can hold, before it
reaches the store.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from hitl_core.access import Reviewer, check_decider
from hitl_core.audit import AuditEvent
from hitl_core.audit_chain import ChainReport, verify_store
from hitl_core.errors import InvalidInput
from hitl_core.policy import Policy
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.reviewers import Reviewers
from hitl_core.stores.base import ApprovalStore, Page, decode_cursor
from hitl_server.auth import CurrentReviewer
from hitl_server.events import EventFeed
from hitl_server.http_errors import documented
from hitl_server.models import DecisionBody, DecisionResult
from hitl_server.resume import BackgroundResumer

__all__ = ["MAX_ID", "MAX_SEQ", "ReviewContext", "router"]

MAX_ID = 256
"""Longest run, request or tool name accepted; real ones are far shorter."""
MAX_SEQ = 2**63 - 1
"""The largest audit sequence number a store can hold (a signed 64-bit integer)."""
_SEQ = re.compile(r"[0-9]{1,19}")
"""An event id as this server sends them (ASCII digits only: ``"²".isdigit()`` is true)."""
_TEXT = r"^[^\x00]+$"
"""Any text but NUL, which PostgreSQL cannot store or compare."""

Id = Annotated[str, Path(min_length=1, max_length=MAX_ID, pattern=_TEXT)]
OptionalText = Annotated[str | None, Query(min_length=1, max_length=MAX_ID, pattern=_TEXT)]
StatusFilter = Literal["pending", "decided", "expired", "resumed", "cancelled", "any"]


@dataclass(frozen=True)
class ReviewContext:
    """What the endpoints work with; one per app, at ``app.state.hitl``."""

    store: ApprovalStore
    reviewers: Reviewers
    policy: Policy | None
    resumer: BackgroundResumer | None
    feed: EventFeed


async def _context(request: Request) -> ReviewContext:
    """The app's context (async: no I/O, so no trip through the thread pool)."""
    context: ReviewContext = request.app.state.hitl
    return context


Context = Annotated[ReviewContext, Depends(_context)]

router = APIRouter(prefix="/v1", tags=["review"])


@router.get("/me", responses=documented(401))
async def me(reviewer: CurrentReviewer) -> Reviewer:
    """The reviewer the bearer token belongs to (the inbox shows who is signed in)."""
    return reviewer


@router.get("/requests", responses=documented(401, 422, 503))
def list_requests(
    context: Context,
    _: CurrentReviewer,
    status: StatusFilter = "pending",
    run_id: OptionalText = None,
    tool: OptionalText = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024, pattern=_TEXT)] = None,
) -> Page:
    """Requests oldest first, filtered; pass `next_cursor` back as `cursor` for the next page."""
    if cursor is not None:
        _check_cursor(cursor)
    return context.store.list_requests(
        status=None if status == "any" else RequestStatus(status),
        run_id=run_id,
        tool=tool,
        limit=limit,
        cursor=cursor,
    )


def _check_cursor(cursor: str) -> None:
    """Refuse cursors no `next_cursor` could be, before a store compares with them."""
    created, request_id = decode_cursor(cursor)
    if created.tzinfo is None or "\x00" in request_id:
        raise InvalidInput(f"Invalid page cursor {cursor!r}; pass back a next_cursor.")


@router.get("/requests/{request_id}", responses=documented(401, 404, 422, 503))
def get_request(context: Context, _: CurrentReviewer, request_id: Id) -> ApprovalRequest:
    """One request, with its decision once it has one."""
    return context.store.get(request_id)


@router.post(
    "/requests/{request_id}/decision", responses=documented(400, 401, 403, 404, 409, 422, 503)
)
def decide(
    context: Context, reviewer: CurrentReviewer, request_id: Id, body: DecisionBody
) -> DecisionResult:
    """Record the reviewer's decision, then have the run resumed if this server can.

    The decision is recorded under the token's reviewer. When the server was given a
    registry with the request's adapter, a background worker resumes the run (exactly
    once, through run leases) and `resume` is ``scheduled``; otherwise it is ``none``
    and a ``hitl worker`` resumes it.
    """
    request = context.store.get(request_id)
    check_decider(request, reviewer, body.type, policy=context.policy)
    decision = body.decision(by=reviewer.id, at=context.store.clock.now())
    decided = context.store.decide(request_id, decision, roles=reviewer.roles)
    resumer = context.resumer
    if resumer is None or not resumer.handles(decided.adapter):
        return DecisionResult(request=decided, resume="none")
    resumer.wake()
    return DecisionResult(request=decided, resume="scheduled")


@router.get("/runs/{run_id}/audit", responses=documented(401, 404, 422, 503))
def run_audit(context: Context, _: CurrentReviewer, run_id: Id) -> list[AuditEvent]:
    """The run's audit trail in the order it was written."""
    events = context.store.audit(run_id=run_id)
    if not events:
        context.store.load_run(run_id)  # UnknownRun (404) when there is no such run at all
    return events


@router.get("/audit/verify", responses=documented(401, 422, 503))
def verify_audit(context: Context, _: CurrentReviewer, run_id: OptionalText = None) -> ChainReport:
    """Check the audit trail's hash chains (of one run, or of the whole store)."""
    return verify_store(context.store, run_id=run_id)


def _start(
    context: Context,
    after: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> int:
    """Where a stream starts: after `Last-Event-ID`, else after `after`, else now."""
    if last_event_id is not None:
        if not _SEQ.fullmatch(last_event_id) or int(last_event_id) > MAX_SEQ:
            raise InvalidInput(
                f"Last-Event-ID {last_event_id!r} is not an event id; send the id of the "
                "last event received, or leave it out to start from now."
            )
        return int(last_event_id)
    return after if after is not None else context.feed.now()


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses=documented(401, 422, 503, stream=True),
)
async def events(
    context: Context,
    _: CurrentReviewer,
    start: Annotated[int, Depends(_start)],
    run_id: OptionalText = None,
) -> AsyncIterator[ServerSentEvent]:
    """Server-Sent Events for requests created, decided, expired and resumed.

    Each event has ``id`` (the audit sequence number), ``event`` (the kind) and ``data``
    (JSON: seq, kind, run_id, request_id, tool, at, actor, decision). Reconnect with the
    ``Last-Event-ID`` header (browsers do) to receive only later events.
    """
    async for message in context.feed.stream(start, run_id):
        yield message
