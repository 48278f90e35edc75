"""Who may decide what: recorded on each request when it is created, checked on every decide.

A request records the reviewers and roles its policy rule named, and who started the run
(the requester). Every store checks them in `decide` (through `lifecycle.decide`), so every
path that records a decision — an adapter's resume, a LangChain payload, the CLI, the HTTP
API — gets the same answer: the named reviewers or role holders may decide, anyone may when
none are named, and the requester may reject or answer but never approve or edit their own
run's call. Names compare as `hitl_core.identities` says. The identity and roles given are
trusted as given: authenticate the reviewer before you record a decision in their name.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from hitl_core.decisions import DecisionKind
from hitl_core.errors import NotAuthorized, SelfApproval
from hitl_core.identities import identity_key, same_identity
from hitl_core.policy import Policy
from hitl_core.requests import ApprovalRequest

__all__ = ["APPROVING_KINDS", "Reviewer", "check_decider", "deciders_of", "may_decide"]

APPROVING_KINDS: frozenset[DecisionKind] = frozenset({"approve", "edit"})
"""The kinds that let a call run; a requester may reject or answer, but not these."""


class Reviewer(BaseModel):
    """An authenticated person (or service) who decides requests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    """Recorded as the decision's `by` and the audit event's actor."""
    roles: tuple[str, ...] = ()
    """Groups the policy can name instead of people, e.g. ``"finance"``."""


def deciders_of(
    request: ApprovalRequest, policy: Policy | None = None
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each (reviewers, roles) restriction a decider of `request` must meet.

    The one recorded on the request when it was created (schema 2 on), and the current
    rule of `policy` for the tool, when a review surface was given one: a policy adds
    restrictions, it never lifts the recorded one.
    """
    restrictions = [(request.reviewers, request.roles)]
    if policy is not None:
        rule = policy.rule_for(request.action.tool)
        restrictions.append((rule.reviewers, rule.roles))
    return [(reviewers, roles) for reviewers, roles in restrictions if reviewers or roles]


def may_decide(
    request: ApprovalRequest,
    reviewer: Reviewer,
    kind: DecisionKind | None = None,
    *,
    policy: Policy | None = None,
) -> bool:
    """Whether `reviewer` may give `request` a `kind` decision (any kind when None)."""
    try:
        check_decider(request, reviewer, kind, policy=policy)
    except NotAuthorized:
        return False
    return True


def check_decider(
    request: ApprovalRequest,
    reviewer: Reviewer,
    kind: DecisionKind | None,
    *,
    policy: Policy | None = None,
) -> None:
    """Raise unless `reviewer` may give a `kind` decision on `request`.

    Raises:
        InvalidIdentity: the reviewer's id cannot be compared safely.
        SelfApproval: the reviewer started the run and tries to approve or edit its call.
        NotAuthorized: the request (or `policy`) names other reviewers or roles.
        Nothing is written either way.
    """
    identity_key(reviewer.id)
    tool = request.action.tool
    if kind in APPROVING_KINDS and same_identity(request.requested_by, reviewer.id):
        raise SelfApproval(reviewer.id, request.id, tool)
    for reviewers, roles in deciders_of(request, policy):
        named = any(same_identity(r, reviewer.id) for r in reviewers)
        if named or _any_role(reviewer.roles, roles):
            continue
        who = ", ".join(
            [f"reviewers {', '.join(reviewers)}"] * bool(reviewers)
            + [f"roles {', '.join(roles)}"] * bool(roles)
        )
        raise NotAuthorized(reviewer.id, request.id, tool, who)


def _any_role(held: Iterable[str], named: Iterable[str]) -> bool:
    wanted = {r.casefold() for r in named}
    return any(r.casefold() in wanted for r in held)
