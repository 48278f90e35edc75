"""The pending approval: one per gated tool call, the unit a reviewer decides on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from hitl_core.actions import ProposedAction
from hitl_core.clock import utcnow
from hitl_core.decisions import ALL_KINDS, AnyDecision, DecisionKind, Reject
from hitl_core.identity import args_digest, request_id

__all__ = [
    "REQUESTER_KEY",
    "EXPIRY_REVIEWER",
    "EXPIRY_TEMPLATE_AT",
    "ApprovalRequest",
    "RequestKind",
    "RequestStatus",
    "default_expiry_outcome",
]

RequestKind: TypeAlias = Literal["approval", "question", "recovery"]
"""What a person is asked: to approve a call, to answer the agent's question (`ask_human`),
or to resolve a call whose outcome a crash left unknown (approve retries it, respond
marks it done with that result, reject abandons it)."""

EXPIRY_REVIEWER = "hitl:expiry"
"""The `by` recorded on decisions that expiry applies, so audits tell them from people."""


REQUESTER_KEY = "requested_by"
"""The run-context key naming who started the run; that person may not approve its calls.

Pass it when starting a run, e.g. ``loop.start(prompt, context={"requested_by": "bob"})``.
"""

EXPIRY_TEMPLATE_AT = datetime(1970, 1, 1, tzinfo=UTC)
"""The `at` of an expiry outcome until it applies; expiry stamps the real time."""


def default_expiry_outcome() -> AnyDecision:
    """Fail closed: an expired request is rejected with the feedback "approval expired"."""
    return Reject(by=EXPIRY_REVIEWER, feedback="approval expired", at=EXPIRY_TEMPLATE_AT)


class RequestStatus(StrEnum):
    """Where a request is in its life: pending -> decided | expired -> resumed."""

    PENDING = "pending"
    """Waiting for a reviewer."""
    DECIDED = "decided"
    """A reviewer decided; the run has not applied the decision yet."""
    EXPIRED = "expired"
    """The deadline passed with no decision; the expiry outcome will apply."""
    RESUMED = "resumed"
    """The run applied the decision (or the expiry outcome)."""
    CANCELLED = "cancelled"
    """The run was cancelled; nothing will apply."""


class ApprovalRequest(BaseModel):
    """One gated tool call waiting for (or holding) a human decision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1, 2] = 2
    """Version of this document's shape; 1: the first release; 2: `kind`, who may decide
    (`reviewers`, `roles`, `requester`) recorded with the request, and `attempt`."""
    id: str
    """Stable id from run id + call id (`hitl_core.identity.request_id`)."""
    run_id: str
    """The paused run this call belongs to."""
    adapter: str
    """Which adapter paused the run, e.g. ``"hitl_loop"``; it knows how to resume it."""
    action: ProposedAction
    """The call under review."""
    args_digest: str
    """Digest of `action.args`, the exact arguments shown to the reviewer."""
    reason: str
    """Why the policy asks for a human, e.g. ``"amount 4200 > 1000"``."""
    allowed: tuple[DecisionKind, ...] = ALL_KINDS
    """The decision kinds a reviewer may send."""
    context: dict[str, Any] = Field(default_factory=dict)
    """Extra facts for the reviewer (conversation excerpt, customer, links)."""
    created_at: datetime
    """When the run paused on this call."""
    expires_at: datetime | None = None
    """After this instant no decision is taken and `on_expiry` applies."""
    on_expiry: AnyDecision = Field(default_factory=default_expiry_outcome)
    """The decision applied if nobody decides in time (default: reject)."""
    status: RequestStatus = RequestStatus.PENDING
    """Where the request is in its life."""
    decision: AnyDecision | None = None
    """The decision that applies: the reviewer's, or the expiry outcome once expired."""
    resumed_at: datetime | None = None
    """When the run applied the decision."""
    kind: RequestKind = "approval"
    """What the person is asked (see `RequestKind`)."""
    reviewers: tuple[str, ...] = ()
    """Who may decide it (with `roles`), from the policy rule when it was created; both
    empty means any reviewer."""
    roles: tuple[str, ...] = ()
    """Roles whose holders may decide it (any one suffices)."""
    requester: str | None = None
    """Who started the run: they may reject or answer it, never approve or edit it."""
    attempt: int | None = None
    """For a recovery request: the attempt of the call whose outcome is unknown."""

    @classmethod
    def create(
        cls,
        *,
        run_id: str,
        adapter: str,
        action: ProposedAction,
        reason: str,
        allowed: Iterable[DecisionKind] = ALL_KINDS,
        context: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        expires_in: timedelta | None = None,
        on_expiry: AnyDecision | None = None,
        kind: RequestKind = "approval",
        reviewers: Iterable[str] = (),
        roles: Iterable[str] = (),
        attempt: int | None = None,
    ) -> ApprovalRequest:
        """A new pending request whose id and digest are derived from the call.

        The requester is read from `context` (`REQUESTER_KEY`), and must already have been
        checked (`identities.checked_requester`) when the run started.
        """
        created = now or utcnow()
        context = dict(context or {})
        requester = context.get(REQUESTER_KEY)
        key = action.call_id if kind != "recovery" else f"{action.call_id}\x00recovery:{attempt}"
        return cls(
            id=request_id(run_id, key),
            run_id=run_id,
            adapter=adapter,
            action=action,
            args_digest=args_digest(action.args),
            reason=reason,
            allowed=tuple(allowed),
            context=context,
            created_at=created,
            expires_at=created + expires_in if expires_in is not None else None,
            on_expiry=on_expiry or default_expiry_outcome(),
            kind=kind,
            reviewers=tuple(reviewers),
            roles=tuple(roles),
            requester=requester if isinstance(requester, str) else None,
            attempt=attempt,
        )

    @property
    def is_pending(self) -> bool:
        return self.status is RequestStatus.PENDING

    @property
    def is_answered(self) -> bool:
        """Decided or expired: the run can apply `decision`."""
        return self.status in (RequestStatus.DECIDED, RequestStatus.EXPIRED)

    @property
    def requested_by(self) -> str | None:
        """Who started the run, if the run said (recorded, or in a version-1 context)."""
        if self.requester is not None:
            return self.requester
        value = self.context.get(REQUESTER_KEY)
        return value if isinstance(value, str) and value else None

    def is_due(self, now: datetime) -> bool:
        """Pending with a deadline at or before `now`."""
        return self.is_pending and self.expires_at is not None and self.expires_at <= now

    def same_call(self, other: ApprovalRequest) -> bool:
        """Whether `other` is this request raised again (after a crash, say)."""
        return (
            self.id == other.id
            and self.run_id == other.run_id
            and self.action.tool == other.action.tool
            and self.args_digest == other.args_digest
        )
