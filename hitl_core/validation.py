"""Whether a decision may be recorded on a request: one check, shared by every store."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from hitl_core.decisions import AnyDecision, Decision, DecisionInput, Edit
from hitl_core.errors import (
    AlreadyDecided,
    DecisionMismatch,
    DecisionNotAllowed,
    EditArgumentsInvalid,
    EditRenamesTool,
    RequestExpired,
)
from hitl_core.identity import args_digest, canonical_json
from hitl_core.requests import ApprovalRequest, RequestStatus

__all__ = ["bind_decision", "check_edit_arguments", "strict_args_schema"]


def bind_decision(request: ApprovalRequest, decision: DecisionInput, now: datetime) -> AnyDecision:
    """The decision as it will be recorded on `request`, after every check passes.

    The result carries the request id and argument digest it was made for, so it can
    never be replayed against another request or changed arguments.

    Raises:
        AlreadyDecided: the request is decided, resumed or cancelled (a second decision).
        RequestExpired: the deadline passed, whether or not expiry has run yet.
        DecisionNotAllowed: the request does not allow this kind.
        DecisionMismatch: the decision names another request id or argument digest.
        EditRenamesTool / EditArgumentsInvalid: the edit is not runnable as given.
    Nothing is written by this function, so a refused decision leaves the request as is.
    """
    parsed = Decision.parse(decision)
    if request.status is RequestStatus.EXPIRED or request.is_due(now):
        raise RequestExpired(request.id, _iso(request.expires_at))
    if not request.is_pending:
        by = request.decision.by if request.decision else None
        raise AlreadyDecided(request.id, request.status.value, by)
    if parsed.kind not in request.allowed:
        raise DecisionNotAllowed(request.id, parsed.kind, request.allowed)
    if parsed.request_id is not None and parsed.request_id != request.id:
        raise DecisionMismatch(request.id, "request id", request.id, parsed.request_id)
    if parsed.args_digest is not None and parsed.args_digest != request.args_digest:
        raise DecisionMismatch(
            request.id, "argument digest", request.args_digest, parsed.args_digest
        )
    update: dict[str, Any] = {"request_id": request.id, "args_digest": request.args_digest}
    if isinstance(parsed, Edit):
        if parsed.tool is not None and parsed.tool != request.action.tool:
            raise EditRenamesTool(request.id, request.action.tool, parsed.tool)
        check_edit_arguments(request, parsed.args)
        edited = args_digest(parsed.args)
        if parsed.edited_digest is not None and parsed.edited_digest != edited:
            raise DecisionMismatch(request.id, "edited digest", edited, parsed.edited_digest)
        update["edited_digest"] = edited
    return parsed.model_copy(update=update)


def check_edit_arguments(request: ApprovalRequest, args: dict[str, Any]) -> None:
    """Validate edited arguments against the tool's JSON Schema, when the request has one.

    Raises:
        EditArgumentsInvalid: listing every problem, each with its argument path.
    """
    schema = request.action.args_schema
    if schema is None:
        return
    validator = _validator(canonical_json(schema))
    problems = [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(arguments)'}: {error.message}"
        for error in sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
    ]
    if problems:
        raise EditArgumentsInvalid(request.id, request.action.tool, problems)


def strict_args_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """`schema` with unknown arguments refused, unless it says what it does with them.

    A function's argument model that ignores extra keys would run an edit without them and
    tell the model they ran: refusing them when the edit is recorded fails closed.
    """
    if schema is None or schema.get("type") != "object" or "additionalProperties" in schema:
        return schema
    return {**schema, "additionalProperties": False}


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    """A compiled JSON Schema validator, cached: a tool's schema rarely changes."""
    import json

    import jsonschema

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else "(no deadline)"
