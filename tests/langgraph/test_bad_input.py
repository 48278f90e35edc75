"""Bad resumes get clear errors, and the interrupt stays pending on the checkpoint.

Through the runner every resume value is checked before anything is recorded or run;
a graph resumed directly with ``Command(resume=...)`` refuses the value inside
``interrupt()`` (its ``response_schema``), before LangGraph keeps it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import is_invalid_resume
from langgraph.types import Command
from pydantic import ValidationError

from hitl_core import (
    ApprovalStore,
    Decision,
    DecisionNotAllowed,
    EditRenamesTool,
    MalformedDecision,
    Policy,
    RequestStatus,
    Rule,
    UnknownDecisionKind,
    arg,
    open_store,
)
from hitl_core.errors import InvalidInput
from hitl_langgraph import (
    ApprovalRunner,
    HumanApprovalMiddleware,
    Paused,
    ScriptedChatModel,
    UnknownInterrupt,
    call,
)

REVIEWER = "ana@example.com"
POLICY = Policy({"send_payment": Rule(when=arg("amount") > 1000, allowed=("approve", "edit"))})
PROMPT = {"messages": [HumanMessage("Pay Acme Corp.")]}


@pytest.fixture
def store() -> Iterator[ApprovalStore]:
    opened = open_store("memory://")
    yield opened
    opened.close()


ran: list[float] = []


def send_payment(amount: float, recipient: str) -> str:
    """Send a payment to a vendor."""
    ran.append(amount)
    return f"paid {amount:.2f} to {recipient}"


def runner(store: ApprovalStore) -> ApprovalRunner:
    ran.clear()
    model = ScriptedChatModel(
        [call("send_payment", {"amount": 4200, "recipient": "Acme Corp"}, id="c1"), "Done."]
    )
    agent = create_agent(
        model,
        [send_payment],
        middleware=[HumanApprovalMiddleware(POLICY, store)],
        checkpointer=InMemorySaver(),
    )
    return ApprovalRunner(agent, store=store)


def still_pending(run: ApprovalRunner, store: ApprovalStore, paused: Paused) -> None:
    """The checkpoint still waits on the same interrupt, and nothing changed."""
    snapshot = run.graph.get_state({"configurable": {"thread_id": paused.run_id}})
    assert [i.id for i in snapshot.interrupts] == paused.interrupt_ids
    assert snapshot.next == ("tools",)
    assert store.get(paused.requests[0].id).status is RequestStatus.PENDING
    assert ran == []


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ("approve", MalformedDecision),
        ({"action": "approve"}, UnknownDecisionKind),
        ({"type": "edit"}, MalformedDecision),
        ({"decisions": [{"type": "approve"}, {"type": "approve"}]}, MalformedDecision),
        ({"type": "reject"}, DecisionNotAllowed),
        (
            {"type": "edit", "edited_action": {"name": "refund", "args": {"amount": 1}}},
            EditRenamesTool,
        ),
        (
            {"type": "edit", "edited_action": {"name": "send_payment", "args": {"amount": "x"}}},
            InvalidInput,
        ),
    ],
    ids=[
        "not-an-object",
        "the-graph-own-shape",
        "edit-without-action",
        "two-decisions",
        "kind-not-allowed",
        "edit-renames-tool",
        "edit-fails-schema",
    ],
)
def test_a_bad_resume_value_is_refused_and_the_interrupt_stays(
    store: ApprovalStore, payload: Any, error: type[Exception]
) -> None:
    run = runner(store)
    paused = run.start(PROMPT, thread_id="t1")
    assert isinstance(paused, Paused)
    with pytest.raises(error):
        run.resume("t1", {paused.interrupt_ids[0]: payload}, by=REVIEWER)
    still_pending(run, store, paused)
    run.resume("t1", {paused.interrupt_ids[0]: {"type": "approve"}}, by=REVIEWER)
    assert ran == [4200]


def test_an_interrupt_id_that_is_not_pending_is_refused(store: ApprovalStore) -> None:
    run = runner(store)
    paused = run.start(PROMPT, thread_id="t1")
    assert isinstance(paused, Paused)
    with pytest.raises(UnknownInterrupt) as caught:
        run.resume("t1", {"0123abcd": {"type": "approve"}}, by=REVIEWER)
    assert caught.value.pending == paused.interrupt_ids
    assert paused.interrupt_ids[0] in str(caught.value)
    still_pending(run, store, paused)


def test_one_bad_value_records_none_of_the_others(store: ApprovalStore) -> None:
    run = runner(store)
    paused = run.start(PROMPT, thread_id="t1")
    assert isinstance(paused, Paused)
    good = paused.requests[0].id  # keyed by request id this time
    with pytest.raises(UnknownInterrupt):
        run.resume("t1", {good: {"type": "approve"}, "nope": {"type": "approve"}}, by=REVIEWER)
    still_pending(run, store, paused)


def test_a_langchain_payload_needs_a_reviewer(store: ApprovalStore) -> None:
    run = runner(store)
    paused = run.start(PROMPT, thread_id="t1")
    assert isinstance(paused, Paused)
    with pytest.raises(MalformedDecision, match="reviewer's identity"):
        run.resume("t1", {paused.interrupt_ids[0]: {"type": "approve"}})
    still_pending(run, store, paused)


def test_a_direct_command_resume_with_a_bad_value_keeps_the_interrupt(
    store: ApprovalStore,
) -> None:
    """Without the runner, LangGraph's own resume path refuses the value before keeping it."""
    graph = runner(store).graph
    config: Any = {"configurable": {"thread_id": "direct"}}
    [interrupt] = graph.invoke(PROMPT, config)["__interrupt__"]
    bad = {"type": "edit", "edited_action": {"name": "refund", "args": {}}, "hitl": {"by": "x"}}
    with pytest.raises(ValidationError) as caught:
        graph.invoke(Command(resume={interrupt.id: bad}), config)
    assert is_invalid_resume(caught.value)
    assert "names 'refund'" in str(caught.value)
    assert [i.id for i in graph.get_state(config).interrupts] == [interrupt.id]
    assert ran == []
    approve = Decision.approve(by=REVIEWER).model_dump(mode="json")
    graph.invoke(Command(resume={interrupt.id: approve}), config)
    assert ran == [4200]
