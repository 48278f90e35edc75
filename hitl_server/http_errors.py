"""Errors at the HTTP boundary: one table from the core's exception tree to statuses.

Every refusal is an `ErrorBody` naming the core exception and carrying its message, so
a client shows the same text the CLI would. FastAPI's own validation errors and
Starlette's HTTP errors (unknown path, wrong method) are mapped to the same shape.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hitl_core.errors import (
    AccessDenied,
    HITLError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    StateConflict,
    StoreError,
)
from hitl_server.models import ErrorBody

__all__ = ["STATUS", "documented", "error_response", "install_error_handlers", "status_for"]

log = logging.getLogger("hitl.server")

STATUS: dict[type[HITLError], int] = {
    NotAuthenticated: 401,
    AccessDenied: 403,
    NotFound: 404,
    StateConflict: 409,
    InvalidInput: 422,
    StoreError: 503,
    HITLError: 500,
}
"""The status of each branch of the tree; a leaf takes its nearest listed ancestor's."""

_DESCRIPTIONS = {
    400: "The body cannot be read: it is not JSON encoded as UTF-8 (`BadRequest`).",
    401: "No bearer token, or one no reviewer holds (`NotAuthenticated`).",
    403: "The policy does not let this reviewer decide this tool (`NotAuthorized`), or "
    "the run's requester tries to approve or edit its own call (`SelfApproval`).",
    404: "No request or run with this id (`UnknownRequest`, `UnknownRun`).",
    409: "The request is not pending: already decided (`AlreadyDecided`), expired "
    "(`RequestExpired`) or in another conflicting state.",
    422: "The input is unusable: a malformed decision, a kind the request does not allow, "
    "edited arguments failing the tool's schema, a stale `args_digest`, or parameters "
    "that fail validation (`InvalidInput` and its subclasses).",
    503: "The store failed or cannot be reached (`StoreError`); retry later.",
}


def status_for(error: HITLError) -> int:
    """The HTTP status of a core error: its nearest ancestor in `STATUS`."""
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(error: HITLError) -> JSONResponse:
    """The JSON response for a core error (with ``WWW-Authenticate`` on a 401)."""
    status = status_for(error)
    problems = getattr(error, "problems", None)
    body = ErrorBody(
        error=type(error).__name__,
        message=error.message,
        request_id=getattr(error, "request_id", None),
        problems=list(problems) if isinstance(problems, list) else None,
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(exclude_none=True), status, headers=headers)


def documented(*statuses: int, stream: bool = False) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: these statuses, each an `ErrorBody`, described.

    With `stream`, for a route whose success is an event stream: FastAPI would give the
    errors the stream's media type, but they are JSON like everywhere else.
    """
    if stream:
        schema = {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}
        return {
            status: {
                "description": _DESCRIPTIONS[status],
                "content": {"application/json": {"schema": schema}},
            }
            for status in statuses
        }
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses
    }


async def _core_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HITLError)
    if status_for(error) >= 500:
        log.error("%s: %s", type(error).__name__, error)
    return error_response(error)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [_problem(item) for item in error.errors()]
    body = ErrorBody(
        error=InvalidInput.__name__,
        message=f"Invalid request: {'; '.join(problems)}. Nothing was changed.",
        problems=problems,
    )
    return JSONResponse(body.model_dump(exclude_none=True), 422)


def _problem(item: Any) -> str:
    where = ".".join(str(part) for part in item.get("loc", ()))
    message = str(item.get("msg", "invalid")).removeprefix("Value error, ").rstrip(".")
    return f"{where}: {message}" if where else message


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    body = ErrorBody(error=_status_name(error.status_code), message=str(error.detail))
    return JSONResponse(
        body.model_dump(exclude_none=True), error.status_code, headers=error.headers
    )


def _status_name(status: int) -> str:
    """``404`` -> ``"NotFound"``, ``405`` -> ``"MethodNotAllowed"``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "HTTPError"
    return "".join(part for part in phrase.replace("-", " ").split())


def install_error_handlers(app: FastAPI) -> None:
    """Map core errors, validation errors and Starlette's HTTP errors to `ErrorBody`."""
    app.add_exception_handler(HITLError, _core_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
