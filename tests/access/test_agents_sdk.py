"""The Agents SDK runner's ``decide(run_id, call_id, decision)`` checks who decides.

The runner checks the call id against the stored state and leaves the decision to the
store, whose `decide` runs the access check: a refusal writes nothing and the run stays
paused on the same call.
"""

from __future__ import annotations

import asyncio

import pytest

from hitl_core import ApprovalStore, Decision, RequestStatus
from hitl_core.errors import InvalidIdentity, NotAuthorized, SelfApproval
from hitl_core.stores import RunStatus
from hitl_openai_agents import ApprovalRunner, Completed, Paused
from tests.access.apps import ARGS, Payments, agents_app
from tests.access.conftest import (
    LOOKALIKE,
    OUTSIDER,
    REQUESTER,
    SELF_IDS,
    SELF_PAIRS,
    UNUSABLE,
    assert_decided_by,
    assert_untouched,
)

RUN = "run_sdk"
CALL = "c1"


def paused_run(
    store: ApprovalStore, requester: str = REQUESTER
) -> tuple[ApprovalRunner, Payments, Paused]:
    runner, payments = agents_app(store)
    paused = runner.start("Pay Acme 4200", run_id=RUN, context={"requested_by": requester})
    assert isinstance(paused, Paused)
    assert [r.action.call_id for r in paused.requests] == [CALL]
    return runner, payments, paused


def still_paused(store: ApprovalStore, paused: Paused, payments: Payments) -> None:
    assert_untouched(store, paused.requests[0])
    assert store.load_run(RUN).status is RunStatus.PAUSED
    assert payments.sent == []


@pytest.mark.parametrize(("requester", "decider"), SELF_PAIRS, ids=SELF_IDS)
def test_decide_refuses_self_approval_in_every_spelling(
    sqlite_store: ApprovalStore, requester: str, decider: str
) -> None:
    runner, payments, paused = paused_run(sqlite_store, requester)
    for decision in (Decision.approve(by=decider), Decision.edit(dict(ARGS, amount=1), by=decider)):
        with pytest.raises(SelfApproval):
            runner.decide(RUN, CALL, decision)
    with pytest.raises(SelfApproval):
        asyncio.run(runner.adecide(RUN, CALL, Decision.approve(by=decider)))
    still_paused(sqlite_store, paused, payments)


@pytest.mark.parametrize("decider", UNUSABLE)
def test_decide_refuses_an_unusable_reviewer(sqlite_store: ApprovalStore, decider: str) -> None:
    runner, payments, paused = paused_run(sqlite_store)
    for decision in (Decision.approve(by=decider), Decision.reject(by=decider)):
        with pytest.raises(InvalidIdentity):
            runner.decide(RUN, CALL, decision)
    still_paused(sqlite_store, paused, payments)


@pytest.mark.parametrize("decider", [OUTSIDER, LOOKALIKE])
def test_decide_refuses_a_reviewer_the_rule_does_not_name(
    sqlite_store: ApprovalStore, decider: str
) -> None:
    runner, payments, paused = paused_run(sqlite_store)
    with pytest.raises(NotAuthorized) as caught:
        runner.decide(RUN, CALL, Decision.approve(by=decider))
    assert type(caught.value) is NotAuthorized
    still_paused(sqlite_store, paused, payments)


def test_the_named_reviewer_approves_and_the_run_pays_once(sqlite_store: ApprovalStore) -> None:
    runner, payments, paused = paused_run(sqlite_store)
    runner.decide(RUN, CALL, Decision.approve(by="CAROL"))
    assert_decided_by(sqlite_store, paused.requests[0].id, "CAROL", "approve")
    assert isinstance(runner.resume(RUN), Completed)
    assert payments.sent == [ARGS]
    assert sqlite_store.get(paused.requests[0].id).status is RequestStatus.RESUMED


def test_the_requester_may_reject_their_own_call(sqlite_store: ApprovalStore) -> None:
    runner, payments, paused = paused_run(sqlite_store, "Alice")
    runner.decide(RUN, CALL, Decision.reject("I changed my mind", by="ALICE"))
    assert isinstance(runner.resume(RUN), Completed)
    assert payments.sent == []
    assert_decided_by(sqlite_store, paused.requests[0].id, "ALICE", "reject")


def test_a_role_holder_decides_through_the_store(sqlite_store: ApprovalStore) -> None:
    """The runner's `decide` takes no roles; a role holder decides with `store.decide`."""
    runner, payments, paused = paused_run(sqlite_store)
    with pytest.raises(NotAuthorized):
        runner.decide(RUN, CALL, Decision.approve(by="erin"))
    sqlite_store.decide(paused.requests[0].id, Decision.approve(by="erin"), roles=("Finance",))
    assert isinstance(runner.resume(RUN), Completed)
    assert payments.sent == [ARGS]
