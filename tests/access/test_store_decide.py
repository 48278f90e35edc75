"""Every store's `decide` runs the check itself: memory, SQLite and PostgreSQL alike.

Whatever path a decision takes, it ends in `store.decide`, so a path that forgot to check
would still be refused here, with nothing written.
"""

from __future__ import annotations

import pytest

from hitl_core import ApprovalRequest, ApprovalStore, Decision
from hitl_core.errors import InvalidIdentity, NotAuthorized, SelfApproval
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
    assert_decided_by,
    assert_untouched,
    payment,
)

EDIT = {"amount": 4000, "recipient": "Acme"}


@pytest.mark.parametrize(("requester", "decider"), SELF_PAIRS, ids=SELF_IDS)
def test_the_requester_cannot_approve_in_any_spelling(
    store: ApprovalStore, requester: str, decider: str
) -> None:
    pending = store.put(payment(requester=requester))
    with pytest.raises(SelfApproval):
        store.decide(pending.id, Decision.approve(by=decider))
    with pytest.raises(SelfApproval):
        store.decide(pending.id, Decision.edit(EDIT, by=decider))
    assert_untouched(store, pending)


def test_the_requester_may_reject(store: ApprovalStore) -> None:
    pending = store.put(payment(requester="ALICE"))
    store.decide(pending.id, Decision.reject("no", by=" alice"))
    assert_decided_by(store, pending.id, " alice", "reject")


@pytest.mark.parametrize("decider", UNUSABLE)
def test_an_unusable_decider_is_refused(store: ApprovalStore, decider: str) -> None:
    pending = store.put(payment())
    for decision in (Decision.approve(by=decider), Decision.reject(by=decider)):
        with pytest.raises(InvalidIdentity):
            store.decide(pending.id, decision)
    assert_untouched(store, pending)


@pytest.mark.parametrize("decider", [OUTSIDER, LOOKALIKE])
def test_someone_the_rule_does_not_name_is_not_authorized(
    store: ApprovalStore, decider: str
) -> None:
    pending = store.put(payment())
    with pytest.raises(NotAuthorized) as caught:
        store.decide(pending.id, Decision.approve(by=decider), roles=("ops",))
    assert type(caught.value) is NotAuthorized
    assert_untouched(store, pending)


@pytest.mark.parametrize("decider", [NAMED, "Carol", "\uff23\uff21\uff32\uff2f\uff2c"])
def test_a_named_reviewer_approves(store: ApprovalStore, decider: str) -> None:
    pending = store.put(payment())
    store.decide(pending.id, Decision.approve(by=decider))
    assert_decided_by(store, pending.id, decider, "approve")


@pytest.mark.parametrize("role", [FINANCE, "FINANCE", " Finance "])
def test_a_role_holder_approves(store: ApprovalStore, role: str) -> None:
    pending = store.put(payment())
    store.decide(pending.id, Decision.approve(by=ROLE_HOLDER), roles=(role,))
    assert_decided_by(store, pending.id, ROLE_HOLDER, "approve")


def test_a_lookalike_is_not_the_requester(store: ApprovalStore) -> None:
    pending = store.put(payment(reviewers=(), roles=()))
    store.decide(pending.id, Decision.approve(by=LOOKALIKE))
    assert_decided_by(store, pending.id, LOOKALIKE, "approve")


@pytest.mark.parametrize("requester", [["alice"], {"id": "alice"}, 7, "", "al\u200bice"])
def test_a_request_filed_with_an_unusable_requester_cannot_be_approved(
    store: ApprovalStore, requester: object
) -> None:
    """The check is not turned off by a requester that cannot be compared: it fails closed."""
    built = payment(requester=requester, reviewers=(), roles=())
    pending = store.put(ApprovalRequest.model_validate(built.model_dump() | {"requester": None}))
    with pytest.raises(InvalidIdentity, match="run's requester"):
        store.decide(pending.id, Decision.approve(by=REQUESTER))
    with pytest.raises(InvalidIdentity):
        store.decide(pending.id, Decision.approve(by=NAMED))
    assert_untouched(store, pending)
    store.decide(pending.id, Decision.reject(by=NAMED))
    assert_decided_by(store, pending.id, NAMED, "reject")
