"""The seed's payment graph, unchanged, driven through a codec: each case resumes elsewhere.

The graph calls ``interrupt()`` with its own payload and reads ``decision["action"]``.
The codec turns its interrupt into a core request (so the store, the audit trail and the
decision rules apply) and each recorded decision into the value its gate expects.
"""

from __future__ import annotations

import pytest

from hitl_core import AuditKind, Decision, EditRenamesTool, RequestStatus, open_store
from hitl_core.decisions import AnyDecision
from hitl_langgraph import Paused, open_checkpointer
from tests.langgraph.conftest import resume_in_fresh_process
from tests.langgraph.payments_app import POLICY, graph_runner

REVIEWER = "ana@example.com"
PROPOSED = {"amount": 4200.0, "recipient": "Acme Corp"}


def _pause(store_url: str, checkpoints_url: str, thread_id: str) -> Paused:
    store = open_store(store_url)
    try:
        with open_checkpointer(checkpoints_url) as saver:
            outcome = graph_runner(store, saver).start(PROPOSED, thread_id=thread_id)
    finally:
        store.close()
    assert isinstance(outcome, Paused)
    return outcome


@pytest.mark.parametrize(
    ("decision", "printed", "status", "executed"),
    [
        (
            Decision.approve(by=REVIEWER),
            "PAID $4200.0 to Acme Corp",
            "paid",
            {"amount": 4200.0, "recipient": "Acme Corp"},
        ),
        (
            Decision.edit({"amount": 4000, "recipient": "Acme Corp"}, by=REVIEWER),
            "PAID $4000 to Acme Corp",
            "paid",
            {"amount": 4000, "recipient": "Acme Corp"},
        ),
        (Decision.reject("over budget", by=REVIEWER), "", "cancelled", PROPOSED),
    ],
    ids=["approve", "edit-to-4000", "reject"],
)
def test_each_decision_resumes_the_unchanged_graph_in_a_fresh_process(
    sqlite_urls: tuple[str, str],
    decision: AnyDecision,
    printed: str,
    status: str,
    executed: dict[str, float | str],
) -> None:
    store_url, checkpoints_url = sqlite_urls
    paused = _pause(store_url, checkpoints_url, "pay-001")
    [request] = paused.requests
    assert request.action.tool == "send_payment"
    assert request.action.args == PROPOSED
    assert request.reason == "Approve this payment?"
    assert request.allowed == ("approve", "edit", "reject")
    assert request.action.call_id == paused.interrupt_ids[0]

    store = open_store(store_url)
    try:
        store.decide(request.id, decision)
        result, output = resume_in_fresh_process("graph", store_url, checkpoints_url, "pay-001")
        assert result["status"] == "completed"
        assert result["values"]["status"] == status
        assert output == printed  # the graph's own execute node printed what it paid
        if status == "paid":
            assert {k: result["values"][k] for k in executed} == executed
        assert store.get(request.id).status is RequestStatus.RESUMED
        kinds = [e.kind for e in store.audit(run_id="pay-001")]
        assert kinds == [AuditKind.CREATED, AuditKind.DECIDED, AuditKind.RESUMED]
        assert store.load_run("pay-001").status.value == "completed"
    finally:
        store.close()


def test_the_graphs_own_question_always_reaches_a_person(
    sqlite_urls: tuple[str, str],
) -> None:
    """A policy sets the terms of a codec graph's question; it never answers it instead.

    The graph asks before every payment, so a payment the policy would not gate still
    waits (with the graph's own reason), and one it gates waits with the policy's reason.
    """
    store_url, checkpoints_url = sqlite_urls
    store = open_store(store_url)
    try:
        with open_checkpointer(checkpoints_url) as saver:
            runner = graph_runner(store, saver, policy=POLICY)
            small = runner.start({"amount": 500.0, "recipient": "Acme Corp"}, thread_id="small")
            large = runner.start(PROPOSED, thread_id="large")
        assert isinstance(small, Paused)
        assert small.requests[0].reason == "Approve this payment?"
        assert isinstance(large, Paused)
        assert large.requests[0].reason == "amount 4200.0 > 1000"
    finally:
        store.close()


def test_an_edit_naming_another_tool_is_refused_and_the_interrupt_stays(
    sqlite_urls: tuple[str, str],
) -> None:
    store_url, checkpoints_url = sqlite_urls
    paused = _pause(store_url, checkpoints_url, "pay-002")
    store = open_store(store_url)
    try:
        with open_checkpointer(checkpoints_url) as saver:
            runner = graph_runner(store, saver)
            edit = {"type": "edit", "edited_action": {"name": "refund", "args": PROPOSED}}
            with pytest.raises(EditRenamesTool):
                runner.resume("pay-002", {paused.interrupt_ids[0]: edit}, by=REVIEWER)
            snapshot = runner.graph.get_state({"configurable": {"thread_id": "pay-002"}})
            assert [i.id for i in snapshot.interrupts] == paused.interrupt_ids
            assert snapshot.next == ("approval_gate",)
        assert store.get(paused.requests[0].id).status is RequestStatus.PENDING
    finally:
        store.close()
