"""Hand-built graphs: a gated `ToolNode`, and `approval_gate` inside a custom node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import tools_condition
from langgraph.types import Command

from hitl_core import (
    ApprovalStore,
    AuditKind,
    Decision,
    Edit,
    Policy,
    Reject,
    RequestStatus,
    arg,
    open_store,
)
from hitl_langgraph import (
    POLICY_REVIEWER,
    ApprovalRunner,
    ApprovalToolNode,
    Completed,
    Paused,
    ScriptedChatModel,
    approval_gate,
    call,
    route_tool_calls,
)

REVIEWER = "ana@example.com"
POLICY = Policy({"send_payment": arg("amount") > 1000})


class AgentState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


@pytest.fixture
def store() -> Iterator[ApprovalStore]:
    opened = open_store("memory://")
    yield opened
    opened.close()


def test_a_gated_tool_node_in_a_hand_built_agent(store: ApprovalStore) -> None:
    ran: list[float] = []

    def send_payment(amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        ran.append(amount)
        return f"paid {amount:.2f} to {recipient}"

    tools = ApprovalToolNode([send_payment], policy=POLICY, store=store)
    model = ScriptedChatModel(
        [
            [
                call("send_payment", {"amount": 2000, "recipient": "Acme"}, id="p1"),
                call("send_payment", {"amount": 30, "recipient": "Initech"}, id="p2"),
                call("send_payment", {"amount": 3000, "recipient": "Acme"}, id="p3"),
            ],
            "Done.",
        ]
    ).bind_tools(list(tools.tools_by_name.values()))

    def agent(state: AgentState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(AgentState)
    builder.add_node("agent", agent)
    builder.add_node("tools", tools)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route_tool_calls, ["tools", END])
    builder.add_edge("tools", "agent")
    runner = ApprovalRunner(builder.compile(checkpointer=InMemorySaver()), store=store)

    paused = runner.start({"messages": [HumanMessage("Pay them.")]}, thread_id="t1")
    assert isinstance(paused, Paused)
    assert [r.action.call_id for r in paused.requests] == ["p1", "p3"]  # both wait at once
    assert ran == [30]
    store.decide(paused.requests[1].id, Decision.approve(by=REVIEWER))
    store.decide(
        paused.requests[0].id, Decision.edit({"amount": 1500, "recipient": "Acme"}, by=REVIEWER)
    )
    done = runner.resume("t1")
    assert isinstance(done, Completed)
    assert ran == [30, 1500, 3000]
    assert {store.get(r.id).status for r in paused.requests} == {RequestStatus.RESUMED}


class PaymentState(TypedDict):
    amount: float
    status: str


def test_approval_gate_in_a_custom_node_returns_a_typed_decision(store: ApprovalStore) -> None:
    paid: list[float] = []

    def pay(state: PaymentState) -> dict[str, Any]:
        args = {"amount": state["amount"], "recipient": "Acme"}
        decision = approval_gate("send_payment", args, store=store, policy=POLICY)
        if isinstance(decision, Reject):
            return {"status": f"rejected: {decision.feedback}"}
        amount = decision.args["amount"] if isinstance(decision, Edit) else state["amount"]
        paid.append(amount)  # the side effect, after the gate
        return {"status": f"paid {amount} ({decision.kind} by {decision.by})"}

    builder = StateGraph(PaymentState)
    builder.add_node("pay", pay)
    builder.add_edge(START, "pay")
    builder.add_edge("pay", END)
    runner = ApprovalRunner(builder.compile(checkpointer=InMemorySaver()), store=store)

    small = runner.start({"amount": 50, "status": ""}, thread_id="small")
    assert isinstance(small, Completed)
    assert small.values["status"] == f"paid 50 (approve by {POLICY_REVIEWER})"

    paused = runner.start({"amount": 4200, "status": ""}, thread_id="large")
    assert isinstance(paused, Paused)
    [request] = paused.requests
    assert request.reason == "amount 4200 > 1000"
    assert paid == [50]
    store.decide(request.id, Decision.edit({"amount": 4000, "recipient": "Acme"}, by=REVIEWER))
    done = runner.resume("large")
    assert isinstance(done, Completed)
    assert done.values["status"] == f"paid 4000 (edit by {REVIEWER})"
    assert paid == [50, 4000]
    kinds = [e.kind for e in store.audit(run_id="large")]
    assert kinds == [AuditKind.CREATED, AuditKind.DECIDED, AuditKind.RESUMED]


def test_approval_gate_without_the_runner(store: ApprovalStore) -> None:
    def pay(state: PaymentState) -> dict[str, Any]:
        decision = approval_gate(
            "send_payment",
            {"amount": state["amount"]},
            store=store,
            reason="every payment needs a second pair of eyes",
            allowed=("approve", "reject"),
        )
        return {"status": decision.kind}

    builder = StateGraph(PaymentState)
    builder.add_node("pay", pay)
    builder.add_edge(START, "pay")
    graph = builder.compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t1"}}
    [interrupt] = graph.invoke({"amount": 10, "status": ""}, config)["__interrupt__"]
    [request] = store.list_requests(run_id="t1").items
    assert request.allowed == ("approve", "reject")
    assert interrupt.value["review_configs"][0]["allowed_decisions"] == ["approve", "reject"]
    result = graph.invoke(
        Command(resume={interrupt.id: {"type": "reject", "hitl": {"by": REVIEWER}}}), config
    )
    assert result["status"] == "reject"
    assert store.get(request.id).status is RequestStatus.RESUMED


def test_a_whole_turn_in_one_tool_node_task_is_reviewed_call_by_call(
    store: ApprovalStore,
) -> None:
    """With ``tools_condition`` the turn is one task: gated calls pause one at a time,
    and no call runs twice however often the task re-runs."""
    ran: list[float] = []

    def send_payment(amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        ran.append(amount)
        return f"paid {amount:.2f} to {recipient}"

    tools = ApprovalToolNode([send_payment], policy=POLICY, store=store, ask_human=False)
    model = ScriptedChatModel(
        [
            [
                call("send_payment", {"amount": 2000, "recipient": "Acme"}, id="p1"),
                call("send_payment", {"amount": 30, "recipient": "Initech"}, id="p2"),
                call("send_payment", {"amount": 3000, "recipient": "Acme"}, id="p3"),
            ],
            "Done.",
        ]
    )

    def agent(state: AgentState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(AgentState)
    builder.add_node("agent", agent)
    builder.add_node("tools", tools)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition, ["tools", END])
    builder.add_edge("tools", "agent")
    runner = ApprovalRunner(builder.compile(checkpointer=InMemorySaver()), store=store)

    first = runner.start({"messages": [HumanMessage("Pay them.")]}, thread_id="t1")
    assert isinstance(first, Paused)
    assert [r.action.call_id for r in first.requests] == ["p1"]
    store.decide(first.requests[0].id, Decision.approve(by=REVIEWER))
    second = runner.resume("t1")
    assert isinstance(second, Paused)
    assert [r.action.call_id for r in second.requests] == ["p3"]
    store.decide(second.requests[0].id, Decision.reject("no", by=REVIEWER))
    done = runner.resume("t1")
    assert isinstance(done, Completed)
    assert sorted(ran) == [30, 2000]  # each ran once, whatever re-ran
    assert [r.status for r in store.list_requests(run_id="t1", status=None).items] == [
        RequestStatus.RESUMED,
        RequestStatus.RESUMED,
    ]
