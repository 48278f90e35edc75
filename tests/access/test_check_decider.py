"""`check_decider`, the one check every path goes through, on requests built in memory."""

from __future__ import annotations

import pytest

from hitl_core import Policy, Rule, always
from hitl_core.access import Reviewer, check_decider, may_decide
from hitl_core.errors import InvalidIdentity, NotAuthorized, SelfApproval
from hitl_core.requests import ApprovalRequest
from tests.access.conftest import (
    FINANCE,
    LOOKALIKE,
    NAMED,
    OUTSIDER,
    REQUESTER,
    ROLE_HOLDER,
    SELF_IDS,
    SELF_PAIRS,
    UNUSABLE,
    payment,
)


@pytest.mark.parametrize(("requester", "decider"), SELF_PAIRS, ids=SELF_IDS)
@pytest.mark.parametrize("kind", ["approve", "edit"])
def test_the_requester_may_not_approve_or_edit_in_any_spelling(
    requester: str, decider: str, kind: str
) -> None:
    with pytest.raises(SelfApproval, match="started this run"):
        check_decider(payment(requester=requester), Reviewer(id=decider), kind)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["reject", "respond"])
def test_the_requester_may_reject_or_answer(kind: str) -> None:
    check_decider(payment(requester="ALICE"), Reviewer(id=" alice"), kind)  # type: ignore[arg-type]


@pytest.mark.parametrize("decider", UNUSABLE)
def test_an_unusable_decider_is_refused_for_every_kind(decider: str) -> None:
    for kind in ("approve", "reject"):
        with pytest.raises(InvalidIdentity):
            check_decider(payment(), Reviewer(id=decider), kind)


def test_a_lookalike_is_neither_the_requester_nor_a_named_reviewer() -> None:
    with pytest.raises(NotAuthorized) as caught:
        check_decider(payment(), Reviewer(id=LOOKALIKE), "approve")
    assert type(caught.value) is NotAuthorized
    check_decider(payment(reviewers=(), roles=()), Reviewer(id=LOOKALIKE), "approve")


@pytest.mark.parametrize("named", [NAMED, "CAROL", " Carol ", "\uff43\uff41\uff52\uff4f\uff4c"])
def test_named_reviewers_compare_as_identities(named: str) -> None:
    check_decider(payment(reviewers=(named,)), Reviewer(id="carol"), "approve")
    check_decider(payment(reviewers=("carol",)), Reviewer(id=named), "approve")


@pytest.mark.parametrize("held", [FINANCE, "Finance", " FINANCE", "\uff46inance"])
def test_roles_compare_as_identities(held: str) -> None:
    check_decider(payment(), Reviewer(id=ROLE_HOLDER, roles=(held,)), "approve")


def test_an_outsider_is_not_authorized_and_told_who_is() -> None:
    with pytest.raises(NotAuthorized, match="reviewers alice, carol, roles finance") as caught:
        check_decider(payment(), Reviewer(id=OUTSIDER, roles=("ops",)), "approve")
    assert type(caught.value) is NotAuthorized
    assert not may_decide(payment(), Reviewer(id=OUTSIDER))


def test_unusable_names_and_roles_in_a_rule_match_nobody() -> None:
    """Fail closed: a named ``carol`` with a zero-width space is not carol."""
    request = payment(reviewers=("car\u200bol",), roles=("fin\u200bance",))
    for reviewer in (Reviewer(id="carol"), Reviewer(id="erin", roles=("finance",))):
        with pytest.raises(NotAuthorized):
            check_decider(request, reviewer, "approve")
    with pytest.raises(NotAuthorized):
        check_decider(payment(), Reviewer(id="erin", roles=("fin\u200bance",)), "approve")


def test_a_review_surfaces_policy_restricts_further_never_less() -> None:
    narrower = Policy({"send_payment": Rule(when=always(), reviewers=("Carol",))})
    check_decider(payment(), Reviewer(id="CAROL"), "approve", policy=narrower)
    with pytest.raises(NotAuthorized):
        check_decider(
            payment(), Reviewer(id=ROLE_HOLDER, roles=(FINANCE,)), "approve", policy=narrower
        )
    wider = Policy({"send_payment": Rule(when=always(), reviewers=(OUTSIDER,))})
    with pytest.raises(NotAuthorized):
        check_decider(payment(), Reviewer(id=OUTSIDER), "approve", policy=wider)


@pytest.mark.parametrize(
    "requester", [["alice"], {"id": "alice"}, 3, None, "", "al\u200bice", "alice\t"]
)
def test_a_request_naming_an_unusable_requester_fails_closed(requester: object) -> None:
    """Made without a run's start check (by hand, an old version): nobody may approve it."""
    request = payment(reviewers=(), roles=())
    request = ApprovalRequest.model_validate(
        request.model_dump() | {"requester": None, "context": {"requested_by": requester}}
    )
    for kind in ("approve", "edit"):
        with pytest.raises(InvalidIdentity, match="run's requester"):
            check_decider(request, Reviewer(id=NAMED), kind)
    check_decider(request, Reviewer(id=NAMED), "reject")
    assert not may_decide(request, Reviewer(id=NAMED), "approve")


def test_a_recorded_requester_wins_over_the_context() -> None:
    request = payment(requester="bob")
    request = ApprovalRequest.model_validate(request.model_dump() | {"requester": "Alice"})
    with pytest.raises(SelfApproval):
        check_decider(request, Reviewer(id=REQUESTER), "approve")
    check_decider(request, Reviewer(id="bob", roles=(FINANCE,)), "approve")


def test_a_run_with_no_requester_lets_any_permitted_reviewer_approve() -> None:
    check_decider(payment(context={}), Reviewer(id=REQUESTER), "approve")
