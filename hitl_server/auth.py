"""Bearer-token authentication: who is calling, from the token alone.

The middleware authenticates every ``/v1`` request before anything else reads it (its
body included), so an unauthenticated caller learns nothing but 401, not even whether a
path exists. Routes get the `Reviewer` through `current_reviewer`, which also declares
the bearer scheme in the OpenAPI document. A name sent in a payload is never trusted.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from hitl_core.access import Reviewer
from hitl_core.errors import NotAuthenticated
from hitl_core.reviewers import Reviewers
from hitl_server.http_errors import error_response

__all__ = ["PROTECTED_PREFIX", "BearerAuthMiddleware", "CurrentReviewer", "current_reviewer"]

PROTECTED_PREFIX = "/v1"
"""Every path under it needs a reviewer's token."""
_SCOPE_KEY = "hitl.reviewer"
"""Where the middleware leaves the authenticated reviewer in the ASGI scope."""

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="reviewerToken",
    description="A reviewer's token from the reviewers file (`hitl token` prints one).",
)


def _token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme in any case)."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _protected(path: str) -> bool:
    return path == PROTECTED_PREFIX or path.startswith(PROTECTED_PREFIX + "/")


class BearerAuthMiddleware:
    """Refuse ``/v1`` requests without a known token (401); record who sent the others."""

    def __init__(self, app: ASGIApp, reviewers: Reviewers) -> None:
        self.app = app
        self.reviewers = reviewers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _protected(scope["path"]):
            header = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
            )
            try:
                scope[_SCOPE_KEY] = self.reviewers.authenticate(_token(header))
            except NotAuthenticated as error:
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def current_reviewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Reviewer:
    """The reviewer the middleware authenticated (or, outside ``/v1``, the token's holder).

    Async because it does no I/O: a sync dependency would cost a trip through the thread pool.

    Raises:
        NotAuthenticated: no token, or no reviewer holds it.
    """
    reviewer = request.scope.get(_SCOPE_KEY)
    if isinstance(reviewer, Reviewer):
        return reviewer
    reviewers: Reviewers = request.app.state.hitl.reviewers
    return reviewers.authenticate(credentials.credentials if credentials else None)


CurrentReviewer = Annotated[Reviewer, Depends(current_reviewer)]
"""A route parameter holding the authenticated reviewer."""
