"""LangGraph: the runner's ``resume(decisions, by=)`` and a direct ``Command(resume=...)``.

Every resume value goes through the same check as the store's: a hitl `Decision` (its
JSON, or the object), a LangChain decision payload, or a LangChain ``HITLResponse``. A
refusal leaves the interrupt pending on the checkpoint, the request pending in the store,
and the payment unsent.
"""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.errors import is_invalid_resume
from langgraph.types import Command
from pydantic import ValidationError

from hitl_core import ApprovalStore, Decision, RequestStatus
from hitl_core.errors import HITLError, InvalidIdentity, NotAuthorized, SelfApproval
from hitl_langgraph import ApprovalRunner, Paused
from tests.access.apps import ARGS, PROMPT, Payments, langgraph_app
from tests.access.conftest import (
    LOOKALIKE,
    NAMED,
    OUTSIDER,
    REQUESTER,
    SELF_IDS,
    SELF_PAIRS,
    UNUSABLE,
    assert_decided_by,
    assert_untouched,
)

THREAD = "t1"


def paused_run(
    store: ApprovalStore, requester: str = REQUESTER
) -> tuple[ApprovalRunner, Payments, Paused]:
    runner, payments = langgraph_app(store)
    paused = runner.start(PROMPT, thread_id=THREAD, context={"requested_by": requester})
    assert isinstance(paused, Paused)
    return runner, payments, paused


def still_pending(
    runner: ApprovalRunner, store: ApprovalStore, paused: Paused, payments: Payments
) -> None:
    """The checkpoint waits on the same interrupt, the request is untouched, nothing ran."""
    snapshot = runner.graph.get_state({"configurable": {"thread_id": paused.run_id}})
    assert [i.id for i in snapshot.interrupts] == paused.interrupt_ids
    assert_untouched(store, paused.requests[0])
    assert payments.sent == []


def resume_values(decider: str) -> list[tuple[dict[str, Any], str | None]]:
    """(resume value, by) for each form the runner reads, all approving as `decider`."""
    approve = {"type": "approve"}
    return [
        (Decision.approve(by=decider).model_dump(mode="json"), None),
        (approve, decider),
        ({"type": "approve", "hitl": {"by": decider}}, None),
        ({"decisions": [approve]}, decider),
        (Decision.edit(dict(ARGS, amount=4000), by=decider).model_dump(mode="json"), None),
        ({"type": "edit", "edited_action": {"name": "send_payment", "args": ARGS}}, decider),
    ]


def refused(runner: ApprovalRunner, paused: Paused, value: Any, by: str | None) -> HITLError:
    with pytest.raises(HITLError) as caught:
        runner.resume(THREAD, {paused.interrupt_ids[0]: value}, by=by)
    return caught.value


@pytest.mark.parametrize(("requester", "decider"), SELF_PAIRS, ids=SELF_IDS)
def test_the_runner_refuses_self_approval_in_every_form_and_spelling(
    sqlite_store: ApprovalStore, requester: str, decider: str
) -> None:
    runner, payments, paused = paused_run(sqlite_store, requester)
    for value, by in resume_values(decider):
        assert type(refused(runner, paused, value, by)) is SelfApproval, value
    still_pending(runner, sqlite_store, paused, payments)


def test_by_overrides_the_identity_a_decision_object_claims(sqlite_store: ApprovalStore) -> None:
    """The authenticated ``by`` wins over a `Decision` naming carol, as over JSON and payloads."""
    runner, payments, paused = paused_run(sqlite_store)
    claimed = Decision.approve(by=NAMED)
    for value in (
        claimed,
        claimed.model_dump(mode="json"),
        {"type": "approve", "hitl": {"by": NAMED}},
    ):
        assert type(refused(runner, paused, value, "Alice")) is SelfApproval
    still_pending(runner, sqlite_store, paused, payments)


@pytest.mark.parametrize("decider", UNUSABLE)
def test_the_runner_refuses_an_unusable_reviewer(sqlite_store: ApprovalStore, decider: str) -> None:
    runner, payments, paused = paused_run(sqlite_store)
    for value, by in [*resume_values(decider), ({"type": "reject", "message": "no"}, decider)]:
        assert type(refused(runner, paused, value, by)) is InvalidIdentity, value
    still_pending(runner, sqlite_store, paused, payments)


@pytest.mark.parametrize("decider", [OUTSIDER, LOOKALIKE])
def test_the_runner_refuses_a_reviewer_the_rule_does_not_name(
    sqlite_store: ApprovalStore, decider: str
) -> None:
    runner, payments, paused = paused_run(sqlite_store)
    for value, by in resume_values(decider):
        error = refused(runner, paused, value, by)
        assert type(error) is NotAuthorized, value
        assert "reviewers alice, carol, roles finance" in error.message
    still_pending(runner, sqlite_store, paused, payments)


@pytest.mark.parametrize("form", ["decision", "langchain", "response"])
def test_the_runner_lets_the_named_reviewer_approve(sqlite_store: ApprovalStore, form: str) -> None:
    runner, payments, paused = paused_run(sqlite_store)
    value, by = {
        "decision": (Decision.approve(by="Carol").model_dump(mode="json"), None),
        "langchain": ({"type": "approve"}, "Carol"),
        "response": ({"decisions": [{"type": "approve"}]}, "Carol"),
    }[form]
    assert runner.resume(THREAD, {paused.interrupt_ids[0]: value}, by=by).status == "completed"
    assert payments.sent == [ARGS]
    request = sqlite_store.get(paused.requests[0].id)
    assert request.status is RequestStatus.RESUMED
    assert request.decision is not None
    assert request.decision.by == "Carol"


def test_the_requester_may_reject_through_the_runner(sqlite_store: ApprovalStore) -> None:
    runner, payments, paused = paused_run(sqlite_store, "ALICE")
    reject = {"type": "reject", "message": "not mine to pay"}
    assert runner.resume(THREAD, {paused.requests[0].id: reject}, by=" alice").status == "completed"
    assert payments.sent == []
    assert_decided_by(sqlite_store, paused.requests[0].id, " alice", "reject")


# -- a graph invoked directly: the resume value is the decision --------------------------


def direct(store: ApprovalStore, requester: str = REQUESTER) -> tuple[Any, Any, Payments, str]:
    """A graph invoked without the runner, paused: (graph, config, payments, interrupt id)."""
    runner, payments = langgraph_app(store)
    config: Any = {
        "configurable": {"thread_id": THREAD, "hitl_context": {"requested_by": requester}}
    }
    [interrupt] = runner.graph.invoke(PROMPT, config)["__interrupt__"]
    return runner.graph, config, payments, interrupt.id


def direct_refusal(graph: Any, config: Any, interrupt_id: str, value: Any) -> str:
    """The refusal LangGraph raises for a resume value inside ``interrupt()``, as text."""
    with pytest.raises(ValidationError) as caught:
        graph.invoke(Command(resume={interrupt_id: value}), config)
    assert is_invalid_resume(caught.value)
    assert [i.id for i in graph.get_state(config).interrupts] == [interrupt_id]
    return str(caught.value)


def direct_values(decider: str) -> list[dict[str, Any]]:
    return [
        {"type": "approve", "hitl": {"by": decider}},
        {"decisions": [{"type": "approve", "hitl": {"by": decider}}]},
        Decision.approve(by=decider).model_dump(mode="json"),
        {
            "type": "edit",
            "edited_action": {"name": "send_payment", "args": ARGS},
            "hitl": {"by": decider},
        },
    ]


@pytest.mark.parametrize(("requester", "decider"), SELF_PAIRS, ids=SELF_IDS)
def test_a_direct_resume_refuses_self_approval(
    sqlite_store: ApprovalStore, requester: str, decider: str
) -> None:
    graph, config, payments, interrupt_id = direct(sqlite_store, requester)
    [request] = sqlite_store.list_requests().items
    for value in direct_values(decider):
        assert "SelfApproval: " in direct_refusal(graph, config, interrupt_id, value), value
    assert_untouched(sqlite_store, request)
    assert payments.sent == []


@pytest.mark.parametrize(
    ("decider", "error"),
    [(d, "InvalidIdentity") for d in UNUSABLE]
    + [(OUTSIDER, "NotAuthorized"), (LOOKALIKE, "NotAuthorized")],
)
def test_a_direct_resume_refuses_unusable_and_unnamed_reviewers(
    sqlite_store: ApprovalStore, decider: str, error: str
) -> None:
    graph, config, payments, interrupt_id = direct(sqlite_store)
    [request] = sqlite_store.list_requests().items
    for value in direct_values(decider):
        assert f"{error}: " in direct_refusal(graph, config, interrupt_id, value), value
    assert_untouched(sqlite_store, request)
    assert payments.sent == []


def test_a_direct_resume_lets_the_named_reviewer_approve(sqlite_store: ApprovalStore) -> None:
    graph, config, payments, interrupt_id = direct(sqlite_store)
    [request] = sqlite_store.list_requests().items
    graph.invoke(
        Command(resume={interrupt_id: {"type": "approve", "hitl": {"by": " CAROL"}}}), config
    )
    assert payments.sent == [ARGS]
    stored = sqlite_store.get(request.id)
    assert stored.status is RequestStatus.RESUMED
    assert stored.decision is not None
    assert stored.decision.by == " CAROL"
