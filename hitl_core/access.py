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

from pydantic import BaseModel, ConfigDict, Field

from hitl_core.decisions import DecisionKind
from hitl_core.errors import InvalidIdentity, NotAuthorized, SelfApproval
from hitl_core.identities import identity_key, identity_keys
from hitl_core.policy import Policy
from hitl_core.requests import REQUESTER_KEY, ApprovalRequest

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
    except (NotAuthorized, InvalidIdentity):
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

    Names and roles compare by `identities.identity_key`; a reviewer or role the request
    (or `policy`) names that cannot be compared matches nobody.

    Raises:
        InvalidIdentity: the reviewer's id cannot be compared safely; or `kind` approves
            or edits and the run's recorded requester cannot be (nobody may then approve
            its calls, since nobody can be told apart from the requester).
        SelfApproval: the reviewer started the run and tries to approve or edit its call.
        NotAuthorized: the request (or `policy`) names other reviewers or roles.
        Nothing is written either way.
    """
    key = identity_key(reviewer.id)
    tool = request.action.tool
    if kind in APPROVING_KINDS and _requester_key(request) == key:
        raise SelfApproval(reviewer.id, request.id, tool)
    roles = identity_keys(reviewer.roles)
    for reviewers, named_roles in deciders_of(request, policy):
        if key in identity_keys(reviewers) or roles & identity_keys(named_roles):
            continue
        who = ", ".join(
            [f"reviewers {', '.join(reviewers)}"] * bool(reviewers)
            + [f"roles {', '.join(named_roles)}"] * bool(named_roles)
        )
        raise NotAuthorized(reviewer.id, request.id, tool, who)


def _requester_key(request: ApprovalRequest) -> str | None:
    """The key of who started the run, None when the run did not say.

    Runs are refused at start when their requester is unusable, so one here means a
    request made some other way; it fails closed rather than turning the check off.

    Raises:
        InvalidIdentity: the run named a requester that cannot be compared.
    """
    if request.requester is not None:
        value: object = request.requester
    elif REQUESTER_KEY in request.context:  # a version-1 request, or one built by hand
        value = request.context[REQUESTER_KEY]
    else:
        return None
    try:
        return identity_key(value)
    except InvalidIdentity as error:
        raise InvalidIdentity(
            value,
            f"it is the run's requester and {error.problem}; nobody can be told apart from "
            "them, so nobody may approve or edit this run's calls (rejecting is allowed)",
        ) from None
