"""The review server as an ASGI app: the ``/v1`` API, the event stream and the web inbox.

`create_app` assembles it over a store the caller opened and keeps (the app never
closes it); `hitl_server.settings.build_app` does the same from files and a store URL.

    app = create_app(open_store("sqlite:///approvals.db"), reviewers=Reviewers.from_file(...))
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from hitl_core.policy import Policy
from hitl_core.reviewers import Reviewers
from hitl_core.stores.base import ApprovalStore
from hitl_core.worker import Registry
from hitl_server.auth import BearerAuthMiddleware
from hitl_server.events import EventFeed
from hitl_server.http_errors import install_error_handlers
from hitl_server.models import Health
from hitl_server.resume import BackgroundResumer
from hitl_server.routes import ReviewContext, router

__all__ = ["STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).with_name("static")
"""The web inbox's files, served at ``/inbox/``."""

DESCRIPTION = """\
Review the tool calls an agent paused on: list pending approval requests, approve, edit,
reject or answer them, and follow what happens as Server-Sent Events. Every `/v1` route
needs `Authorization: Bearer <token>`; the decision is recorded under the token's
reviewer. Refusals are `ErrorBody` JSON naming the hitl-kit exception.
"""


def create_app(
    store: ApprovalStore,
    *,
    reviewers: Reviewers,
    policy: Policy | None = None,
    registry: Registry | None = None,
    event_poll: float = 0.25,
) -> FastAPI:
    """The review server over `store`.

    Args:
        store: where requests live; owned by the caller, who closes it after the app stops.
        reviewers: who may sign in, by token.
        policy: who may decide which tool (its rules' `reviewers`/`roles`); None: anyone.
        registry: adapter name -> builder (as for ``hitl worker --app``); with it, a
            decision also resumes its run in the background. None: runs are left to workers.
        event_poll: seconds between an event stream's reads of the audit trail.

    Raises:
        StoreError: a registry was given but the store cannot lease runs.
    """
    resumer = BackgroundResumer(store, registry) if registry else None
    context = ReviewContext(
        store=store,
        reviewers=reviewers,
        policy=policy,
        resumer=resumer,
        feed=EventFeed(store, poll=event_poll),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            context.feed.close()
            if resumer is not None:
                await anyio.to_thread.run_sync(resumer.stop)

    app = FastAPI(
        title="hitl-kit review API", version="1", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.hitl = context
    install_error_handlers(app)
    app.add_middleware(BearerAuthMiddleware, reviewers=reviewers)
    app.include_router(router)

    @app.get("/healthz", tags=["server"])
    async def healthz() -> Health:
        """Whether the server is up; needs no token."""
        return Health()

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/inbox/")

    with contextlib.suppress(OSError):  # an installed package has it; a read-only one can't
        STATIC_DIR.mkdir(exist_ok=True)
    app.mount("/inbox", StaticFiles(directory=STATIC_DIR, html=True, check_dir=False), "inbox")
    return app
