"""Who may decide what: the policy's per-tool reviewers and roles, and no self-approval.

Checked by the review surfaces (HTTP API, CLI) before a decision reaches the store, with
the reviewer they authenticated; a name inside a decision's payload is never trusted.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hitl_core.decisions import DecisionKind
from hitl_core.errors import NotAuthorized, SelfApproval
from hitl_core.policy import Policy
from hitl_core.requests import ApprovalRequest

__all__ = ["APPROVING_KINDS", "Reviewer", "check_decider", "may_decide"]

APPROVING_KINDS: frozenset[DecisionKind] = frozenset({"approve", "edit"})
"""The kinds that let a call run; a requester may reject or answer, but not these."""


class Reviewer(BaseModel):
    """An authenticated person (or service) who decides requests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    """Recorded as the decision's `by` and the audit event's actor."""
    roles: tuple[str, ...] = ()
    """Groups the policy can name instead of people, e.g. ``"finance"``."""


def may_decide(policy: Policy | None, reviewer: Reviewer, tool: str) -> bool:
    """Whether the policy lets `reviewer` decide calls to `tool` (any reviewer without one)."""
    if policy is None:
        return True
    rule = policy.rule_for(tool)
    if not rule.reviewers and not rule.roles:
        return True
    return reviewer.id in rule.reviewers or any(role in rule.roles for role in reviewer.roles)


def check_decider(
    policy: Policy | None, reviewer: Reviewer, request: ApprovalRequest, kind: DecisionKind
) -> None:
    """Raise unless `reviewer` may give a `kind` decision on `request`.

    Raises:
        SelfApproval: the reviewer started the run and tries to approve or edit its call.
        NotAuthorized: the policy's rule for the tool names other reviewers or roles.
    """
    tool = request.action.tool
    if kind in APPROVING_KINDS and request.requested_by == reviewer.id:
        raise SelfApproval(reviewer.id, request.id, tool)
    if not may_decide(policy, reviewer, tool):
        assert policy is not None
        rule = policy.rule_for(tool)
        who = ", ".join(
            [f"reviewers {', '.join(rule.reviewers)}"] * bool(rule.reviewers)
            + [f"roles {', '.join(rule.roles)}"] * bool(rule.roles)
        )
        raise NotAuthorized(reviewer.id, request.id, tool, who)
