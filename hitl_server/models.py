"""The review API's own wire bodies; requests, decisions and audit events are the core's.

Each body is a Pydantic model so the OpenAPI document describes exactly what is accepted
and returned. Text that no store can keep (NUL characters, unpaired surrogates) is
refused here, at the boundary, so it never reaches a store as a driver error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from hitl_core.audit import AuditEvent, AuditKind
from hitl_core.decisions import AnyDecision, Decision, DecisionKind
from hitl_core.requests import ApprovalRequest

__all__ = [
    "DecisionBody",
    "DecisionResult",
    "ErrorBody",
    "EventData",
    "Health",
    "storable_text_problem",
]

BY_REFUSED = (
    "'by' is not accepted: a decision is recorded under the reviewer whose bearer token "
    "sent it; remove the field"
)


def storable_text_problem(value: Any, where: str = "body") -> str | None:
    """Why `value` (any JSON value) holds text a store cannot keep, or None when it is fine.

    PostgreSQL refuses NUL in text and JSON, and no store can encode an unpaired
    surrogate, which JSON's ``\\ud800`` escapes can produce.
    """
    if isinstance(value, str):
        if "\x00" in value:
            return f"{where}: text may not contain NUL characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where}: text may not contain unpaired surrogates"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = storable_text_problem(key, where) or storable_text_problem(
                item, f"{where}.{key}"
            )
            if problem:
                return problem
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = storable_text_problem(item, f"{where}.{index}")
            if problem:
                return problem
    return None


class ErrorBody(BaseModel):
    """Every refusal: the core exception's name and message, and the request it concerns."""

    error: str
    """The exception's class name, e.g. ``"AlreadyDecided"``; stable, for programs."""
    message: str
    """What happened and what to do next, for people."""
    request_id: str | None = None
    """The approval request concerned, when there is one."""
    problems: list[str] | None = None
    """Each problem found, for refusals that list several (invalid input, edit arguments)."""


class DecisionBody(BaseModel):
    """A reviewer's decision on one request. Who decided comes from the bearer token only."""

    model_config = ConfigDict(extra="forbid")

    type: DecisionKind
    """approve, edit, reject or respond; the request's `allowed` lists which it takes."""
    args: dict[str, Any] | None = None
    """For edit: the complete replacement arguments, checked against the tool's schema."""
    feedback: str | None = None
    """Free text for the agent: why it was rejected, what the edit fixes."""
    answer: str | None = None
    """For respond: the text the agent gets in place of the tool's result."""
    args_digest: str | None = None
    """The request's `args_digest` as the reviewer saw it; a stale digest is refused."""

    @model_validator(mode="before")
    @classmethod
    def _no_identity(cls, data: Any) -> Any:
        if isinstance(data, dict) and "by" in data:
            raise ValueError(BY_REFUSED)
        return data

    @model_validator(mode="after")
    def _storable(self) -> DecisionBody:
        problem = storable_text_problem(self.model_dump(exclude_none=True), "decision")
        if problem:
            raise ValueError(problem)
        return self

    def decision(self, *, by: str, at: datetime) -> AnyDecision:
        """The core decision, recorded as made by `by` at `at`.

        Raises:
            MalformedDecision: a field does not fit the kind (an edit without args...).
        """
        fields = self.model_dump(exclude_none=True)
        return Decision.parse({**fields, "by": by, "at": at})


class DecisionResult(BaseModel):
    """A recorded decision, and whether this server will resume the run."""

    request: ApprovalRequest
    """The request as stored now, its decision included."""
    resume: Literal["scheduled", "none"]
    """``scheduled``: this server resumes the run in the background; ``none``: a
    ``hitl worker`` (or the agent's own process) must resume it."""


class EventData(BaseModel):
    """The `data` of one event on ``/v1/events``: enough to refresh an inbox row."""

    seq: int
    """The audit event's position in the store, also the event's SSE ``id``."""
    kind: AuditKind
    run_id: str
    request_id: str | None
    tool: str
    at: datetime
    actor: str | None
    """The reviewer for decisions, ``hitl:expiry`` for expiry, the adapter for resumes."""
    decision: DecisionKind | None

    @classmethod
    def of(cls, event: AuditEvent) -> EventData:
        return cls(
            seq=event.seq or 0,
            kind=event.kind,
            run_id=event.run_id,
            request_id=event.request_id,
            tool=event.tool,
            at=event.at,
            actor=event.actor,
            decision=event.decision,
        )


class Health(BaseModel):
    """The answer of ``/healthz``."""

    status: Literal["ok"] = "ok"
