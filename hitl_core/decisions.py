"""What a reviewer answers: approve, edit, reject or respond, with who answered and when.

The four kinds and their tags are LangChain's (``approve``, ``edit``, ``reject``,
``respond``), so payloads from LangChain-compatible review UIs map one to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from hitl_core.clock import utcnow
from hitl_core.errors import InvalidInput, UnknownDecisionKind

__all__ = [
    "ALL_KINDS",
    "AnyDecision",
    "Approve",
    "Decision",
    "DecisionInput",
    "DecisionKind",
    "Edit",
    "MalformedDecision",
    "Reject",
    "Respond",
    "decision_adapter",
]

DecisionKind: TypeAlias = Literal["approve", "edit", "reject", "respond"]
ALL_KINDS: tuple[DecisionKind, ...] = ("approve", "edit", "reject", "respond")

_OUTCOMES: dict[str, str] = {
    "approve": "approved",
    "edit": "edited",
    "reject": "rejected",
    "respond": "responded",
}


class MalformedDecision(InvalidInput):
    """A decision payload whose fields do not fit its kind."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"Malformed decision: {'; '.join(problems)}. Fix the payload and send it again; "
            "the pending request is unchanged.",
            problems=problems,
        )


class Decision(BaseModel):
    """Base of the four decisions; build them with `Decision.approve(...)` and friends.

    `by` is recorded as given: hitl-kit does not authenticate it, so authenticate the
    reviewer before you put their identity here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    by: str = Field(min_length=1)
    """Identity of the reviewer, e.g. ``"ana@example.com"``; ``hitl:expiry`` for expiry."""
    at: datetime = Field(default_factory=utcnow)
    """When the decision was made (UTC)."""
    feedback: str | None = None
    """Free text for the agent: why it was rejected, what the edit fixes, a note."""
    request_id: str | None = None
    """The request this decision answers; set when recorded, checked when given."""
    args_digest: str | None = None
    """Digest of the arguments the reviewer saw; set when recorded, checked when given."""

    @property
    def kind(self) -> DecisionKind:
        """The decision's tag: approve, edit, reject or respond."""
        kind: DecisionKind = self.model_dump(include={"type"})["type"]
        return kind

    @property
    def outcome(self) -> str:
        """The decision in the past tense (approved, edited, rejected, responded)."""
        return _OUTCOMES[self.kind]

    @staticmethod
    def approve(*, by: str, feedback: str | None = None) -> Approve:
        """Run the call exactly as proposed."""
        return Approve(by=by, feedback=feedback)

    @staticmethod
    def reject(feedback: str | None = None, *, by: str) -> Reject:
        """Run nothing; the agent is told the call was rejected, with `feedback`."""
        return Reject(by=by, feedback=feedback)

    @staticmethod
    def edit(
        args: dict[str, Any], *, by: str, feedback: str | None = None, tool: str | None = None
    ) -> Edit:
        """Run the same tool with `args` instead; the agent is told what ran."""
        return Edit(by=by, args=args, feedback=feedback, tool=tool)

    @staticmethod
    def respond(answer: str, *, by: str) -> Respond:
        """Run nothing; `answer` becomes the tool's result (also answers `ask_human`)."""
        return Respond(by=by, answer=answer)

    @staticmethod
    def parse(data: Any) -> AnyDecision:
        """Validate a decision from a dict or another decision.

        Raises:
            UnknownDecisionKind: ``type`` is missing or not one of the four kinds.
            MalformedDecision: the fields do not fit the kind.
        """
        if isinstance(data, Decision):
            data = data.model_dump()
        if isinstance(data, Mapping):
            data = dict(data)
        if not isinstance(data, dict) or data.get("type") not in ALL_KINDS:
            raise UnknownDecisionKind(data.get("type") if isinstance(data, dict) else data)
        try:
            return decision_adapter.validate_python(data)
        except ValidationError as error:
            raise MalformedDecision(_problems(error)) from None

    @staticmethod
    def parse_json(text: str | bytes) -> AnyDecision:
        """`parse` for a JSON document."""
        import json

        try:
            data = json.loads(text)
        except ValueError as error:
            raise MalformedDecision([f"not JSON ({error})"]) from None
        return Decision.parse(data)


class Approve(Decision):
    """Run the call exactly as the reviewer saw it."""

    type: Literal["approve"] = "approve"


class Reject(Decision):
    """Run nothing; `feedback` goes to the agent as the call's result."""

    type: Literal["reject"] = "reject"


class Edit(Decision):
    """Run the same tool with replacement arguments; the agent is told what ran."""

    type: Literal["edit"] = "edit"
    args: dict[str, Any]
    """The complete replacement arguments, e.g. ``{"amount": 4000, "recipient": "Acme"}``."""
    tool: str | None = None
    """The tool the edit names, if the payload named one; it must be the reviewed tool."""
    edited_digest: str | None = None
    """Digest of `args`, set when recorded: what runs must match it."""


class Respond(Decision):
    """Run nothing; the human's `answer` is the call's result."""

    type: Literal["respond"] = "respond"
    answer: str
    """Text returned to the agent in place of the tool's output."""


AnyDecision: TypeAlias = Annotated[Approve | Reject | Edit | Respond, Field(discriminator="type")]
"""Any of the four decisions, told apart by ``type``."""

DecisionInput: TypeAlias = Decision | Mapping[str, Any]
"""A decision, or its JSON object form (as a review UI or HTTP client sends it)."""

decision_adapter: TypeAdapter[AnyDecision] = TypeAdapter(AnyDecision)
"""Validates and dumps `AnyDecision`; its JSON Schema is the decision wire format."""


def _problems(error: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e['loc'][1:]) or '(decision)'}: {e['msg']}"
        for e in error.errors()
    ]
