"""What travels through `interrupt()` and `Command(resume=...)`, both ways.

The interrupt value carries the core `ApprovalRequest` (under ``"hitl"``) next to the
``action_requests`` / ``review_configs`` view that LangChain-compatible review UIs render,
so one pause is readable by both. A resume value may be a hitl `Decision` (object or JSON),
a LangChain decision (``{"type": "approve"}``...), or a LangChain ``HITLResponse`` holding
exactly one decision (``{"decisions": [...]}``): `decision_of` reads all three.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic import Field, PrivateAttr, RootModel, ValidationError, model_validator

from hitl_core.access import Reviewer, check_decider
from hitl_core.clock import Clock
from hitl_core.decisions import AnyDecision, Decision, MalformedDecision
from hitl_core.errors import HITLError
from hitl_core.requests import ApprovalRequest
from hitl_core.validation import bind_decision
from hitl_core.wire.langchain import from_langchain, to_langchain, to_langchain_request

__all__ = [
    "PAYLOAD_KEY",
    "Reply",
    "decision_of",
    "interrupt_value",
    "replying_to",
    "request_of",
    "resume_value",
]

PAYLOAD_KEY = "hitl"
"""The key of the interrupt value under which the core request travels."""


def interrupt_value(request: ApprovalRequest) -> dict[str, Any]:
    """The value a gated call interrupts with: the core request plus LangChain's view."""
    return {
        PAYLOAD_KEY: {"schema_version": 1, "request": request.model_dump(mode="json")},
        **to_langchain_request([request]),
    }


def request_of(value: Any) -> ApprovalRequest | None:
    """The core request an interrupt value carries, or None for any other interrupt."""
    if not isinstance(value, Mapping):
        return None
    payload = value.get(PAYLOAD_KEY)
    if not isinstance(payload, Mapping) or "request" not in payload:
        return None
    try:
        return ApprovalRequest.model_validate(payload["request"])
    except ValidationError:
        return None


def resume_value(request: ApprovalRequest) -> dict[str, Any]:
    """The resume value for an answered request: its decision in LangChain's format.

    The gate reads the decision from the store, not from this value; the value says the
    same so that a checkpoint inspected by hand shows what was decided.
    """
    assert request.decision is not None, "only answered requests are resumed"
    return to_langchain(request.decision, tool=request.action.tool)


def decision_of(value: Any, *, by: str | None = None) -> AnyDecision:
    """Read a resume value as a decision.

    Args:
        value: a `Decision`, its JSON object, a LangChain decision, or a LangChain
            ``{"decisions": [decision]}`` response with exactly one decision.
        by: the authenticated reviewer, for LangChain payloads (which carry no identity);
            it overrides any identity in any value.

    Raises:
        UnknownDecisionKind / MalformedDecision: the value is not a decision.
    """
    if isinstance(value, Decision):
        decision = Decision.parse(value)
        return decision.model_copy(update={"by": by}) if by is not None else decision
    if not isinstance(value, Mapping):
        raise MalformedDecision(
            [f"expected a decision object such as {{'type': 'approve'}}, got {value!r:.80}"]
        )
    if "decisions" in value:
        decisions = value["decisions"]
        if not isinstance(decisions, list) or len(decisions) != 1:
            raise MalformedDecision(
                ["decisions: one interrupt takes exactly one decision; resume each interrupt id"]
            )
        return decision_of(decisions[0], by=by)
    if "by" in value:  # a hitl decision's JSON rather than a LangChain payload
        decision = Decision.parse(value)
        return decision.model_copy(update={"by": by}) if by is not None else decision
    return from_langchain(value, by=by)


class Reply(RootModel[Any]):
    """A resume value for a gated call's interrupt, checked before LangGraph keeps it.

    It is the `response_schema` of every gate's `interrupt()`: LangGraph validates the
    resume value against it first, so a refused value (wrong shape, a kind the request
    does not allow, an edit that renames the tool or fails the tool's schema) leaves the
    interrupt pending and answerable again. The request being answered is the one
    `replying_to` names; a model class (not a type built per request) keeps the check
    cheap, since LangGraph builds a `TypeAdapter` from it on every call.
    """

    root: Any = Field(
        description=(
            "A decision: {'type': 'approve'}, {'type': 'edit', 'edited_action': {...}}, "
            "{'type': 'reject', 'message': ...}, {'type': 'respond', 'message': ...}, or "
            "a hitl Decision's JSON."
        )
    )
    _decision: AnyDecision | None = PrivateAttr(default=None)

    @property
    def decision(self) -> AnyDecision | None:
        """The decision to record, bound to the request; None when the store's applies."""
        return self._decision

    @model_validator(mode="after")
    def _check(self) -> Reply:
        target = _REPLYING_TO.get()
        if target is None:
            raise ValueError("a hitl gate's interrupt was resumed outside its gate")
        request, clock, deferred = target
        if deferred or not request.is_pending:
            return self  # the store's decision applies; the value only wakes the gate
        try:
            decision = bind_decision(request, decision_of(self.root), clock.now())
            check_decider(request, Reviewer(id=decision.by), decision.kind)
        except HITLError as error:  # named, so a caller can tell SelfApproval from the rest
            raise ValueError(f"{type(error).__name__}: {error.message}") from None
        self._decision = decision
        return self


_REPLYING_TO: ContextVar[tuple[ApprovalRequest, Clock, bool] | None] = ContextVar(
    "hitl_replying_to", default=None
)


@contextmanager
def replying_to(request: ApprovalRequest, clock: Clock, deferred: bool) -> Iterator[None]:
    """Check `Reply` values against `request` while the gate calls `interrupt()`.

    Under the runner (`deferred`) values are never decisions: the runner records those
    in the store before it resumes, so a value only wakes the gate.
    """
    token = _REPLYING_TO.set((request, clock, deferred))
    try:
        yield
    finally:
        _REPLYING_TO.reset(token)
