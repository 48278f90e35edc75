"""A ``create_agent`` agent with a scripted chat model, gated without changing its tools.

Every test looks at what an outside observer can: which tools ran with which arguments
(a list the tools append to), what the model was shown (its prompts), the interrupts on
the checkpoint, and the store's requests and audit trail.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import ToolNode
from langgraph.types import Command

from hitl_core import ApprovalStore, AuditKind, Decision, Policy, RequestStatus, arg, open_store
from hitl_core.outcomes import RunTool, rejection_text, tool_result
from hitl_langgraph import ApprovalRunner, HumanApprovalMiddleware, Paused, ScriptedChatModel, call

REVIEWER = "ana@example.com"
POLICY = Policy({"send_payment": arg("amount") > 1000})


@dataclass
class Payments:
    """The tools, as plain functions, and what they did."""

    ran: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def send_payment(self, amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        self.ran.append(("send_payment", {"amount": amount, "recipient": recipient}))
        return f"paid {amount:.2f} to {recipient}"

    def get_balance(self) -> str:
        """Read the account balance."""
        self.ran.append(("get_balance", {}))
        return "balance: 10000.00"


@dataclass
class Agent:
    runner: ApprovalRunner
    model: ScriptedChatModel
    payments: Payments
    store: ApprovalStore

    def told(self) -> dict[str, str]:
        """What the model was last shown for each call."""
        return {
            m.tool_call_id: str(m.content)
            for m in self.model.prompts[-1]
            if isinstance(m, ToolMessage)
        }

    def interrupt_ids(self, thread_id: str) -> list[str]:
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        return [i.id for i in self.runner.graph.get_state(config).interrupts]


@pytest.fixture
def store() -> Iterator[ApprovalStore]:
    opened = open_store("memory://")
    yield opened
    opened.close()


def build(
    store: ApprovalStore, steps: list[Any], saver: BaseCheckpointSaver[Any] | None = None
) -> Agent:
    payments = Payments()
    model = ScriptedChatModel(steps)
    agent = create_agent(
        model,
        [payments.send_payment, payments.get_balance],
        middleware=[HumanApprovalMiddleware(POLICY, store)],
        checkpointer=saver or InMemorySaver(),
    )
    return Agent(ApprovalRunner(agent, store=store), model, payments, store)


def pay(amount: float, id: str) -> Any:
    return call("send_payment", {"amount": amount, "recipient": "Acme Corp"}, id=id)


PROMPT = {"messages": [HumanMessage("Pay Acme Corp for invoice 88.")]}


def test_the_tools_are_unchanged_and_ask_human_is_added(store: ApprovalStore) -> None:
    agent = build(store, [pay(50, "c1"), "Paid."])
    node = agent.runner.graph.nodes["tools"].bound
    assert isinstance(node, ToolNode)
    tools = node.tools_by_name
    assert tools["send_payment"].func == agent.payments.send_payment  # type: ignore[attr-defined]
    assert tools["get_balance"].func == agent.payments.get_balance  # type: ignore[attr-defined]
    agent.runner.start(PROMPT, thread_id="t1")
    assert sorted(agent.model.tool_names) == ["ask_human", "get_balance", "send_payment"]


def test_a_small_payment_runs_without_a_pause(store: ApprovalStore) -> None:
    agent = build(store, [pay(50, "c1"), "Paid."])
    outcome = agent.runner.start(PROMPT, thread_id="t1")
    assert outcome.status == "completed"
    assert outcome.output == "Paid."
    assert agent.payments.ran == [("send_payment", {"amount": 50, "recipient": "Acme Corp"})]
    assert agent.told() == {"c1": "paid 50.00 to Acme Corp"}
    assert store.list_requests(run_id="t1", status=None).items == []
    assert [e.kind for e in store.audit(run_id="t1")] == [AuditKind.STARTED, AuditKind.EXECUTED]


def test_a_large_payment_pauses_with_the_core_request_and_langchain_view(
    store: ApprovalStore,
) -> None:
    agent = build(store, [pay(4200, "c1"), "Paid."])
    outcome = agent.runner.start(PROMPT, thread_id="t1")
    assert isinstance(outcome, Paused)
    [request] = store.list_requests(run_id="t1").items
    assert outcome.requests == [request]
    assert request.reason == "amount 4200 > 1000"
    assert request.action.args == {"amount": 4200, "recipient": "Acme Corp"}
    assert request.action.args_schema is not None
    config: RunnableConfig = {"configurable": {"thread_id": "t1"}}
    [interrupt] = agent.runner.graph.get_state(config).interrupts
    assert outcome.interrupt_ids == [interrupt.id]
    assert interrupt.value["hitl"]["request"]["id"] == request.id
    assert interrupt.value["action_requests"] == [
        {"name": "send_payment", "args": request.action.args, "description": request.reason}
    ]
    assert interrupt.value["review_configs"][0]["allowed_decisions"] == list(request.allowed)
    assert agent.payments.ran == []
    assert store.load_run("t1").status.value == "paused"


def test_approve_edit_reject_and_respond_tell_the_model_the_core_texts(
    store: ApprovalStore,
) -> None:
    decisions = {
        "approve": Decision.approve(by=REVIEWER),
        "edit": Decision.edit({"amount": 4000, "recipient": "Acme Corp"}, by=REVIEWER),
        "reject": Decision.reject("over budget", by=REVIEWER),
        "respond": Decision.respond("Paid by hand on Monday.", by=REVIEWER),
    }
    expected = {
        "approve": ([4200], "paid 4200.00 to Acme Corp"),
        "edit": (
            [4000],
            tool_result(
                RunTool({"amount": 4000, "recipient": "Acme Corp"}, True, None, "send_payment"),
                "paid 4000.00 to Acme Corp",
            ),
        ),
        "reject": ([], rejection_text("send_payment", "over budget")),
        "respond": ([], "Paid by hand on Monday."),
    }
    for kind, decision in decisions.items():
        agent = build(store, [pay(4200, "c1"), "Done."])
        paused = agent.runner.start(PROMPT, thread_id=kind)
        assert isinstance(paused, Paused)
        store.decide(paused.requests[0].id, decision)
        assert agent.runner.resume(kind).status == "completed"
        amounts, told = expected[kind]
        assert [a["amount"] for _, a in agent.payments.ran] == amounts, kind
        assert agent.told() == {"c1": told}, kind
        assert store.get(paused.requests[0].id).status is RequestStatus.RESUMED


def test_two_gated_calls_are_resumed_by_their_own_interrupt_ids(store: ApprovalStore) -> None:
    agent = build(store, [[pay(2000, "p1"), pay(3000, "p2")], "Done."])
    paused = agent.runner.start(PROMPT, thread_id="t1")
    assert isinstance(paused, Paused)
    first, second = paused.interrupt_ids
    assert [r.action.call_id for r in paused.requests] == ["p1", "p2"]
    partial = agent.runner.resume("t1", {second: {"type": "approve"}}, by=REVIEWER)
    assert isinstance(partial, Paused)
    assert partial.interrupt_ids == [first]
    assert agent.payments.ran == [("send_payment", {"amount": 3000, "recipient": "Acme Corp"})]
    reject = {"type": "reject", "message": "not this month"}
    assert agent.runner.resume("t1", {first: reject}, by=REVIEWER).status == "completed"
    assert len(agent.payments.ran) == 1
    assert agent.told() == {
        "p1": rejection_text("send_payment", "not this month"),
        "p2": "paid 3000.00 to Acme Corp",
    }


def test_ungated_calls_of_the_paused_turn_run_exactly_once(store: ApprovalStore) -> None:
    steps = [[call("get_balance", id="b1"), pay(50, "s1"), pay(4200, "l1")], "Done."]
    agent = build(store, steps)
    paused = agent.runner.start(PROMPT, thread_id="t1")
    assert isinstance(paused, Paused)
    assert [t for t, _ in agent.payments.ran] == ["get_balance", "send_payment"]
    store.decide(paused.requests[0].id, Decision.approve(by=REVIEWER))
    assert agent.runner.resume("t1").status == "completed"
    assert [t for t, _ in agent.payments.ran] == ["get_balance", "send_payment", "send_payment"]
    assert [e.call_id for e in store.audit(run_id="t1") if e.kind is AuditKind.EXECUTED] == [
        "b1",
        "s1",
        "l1",
    ]


def test_an_agent_run_without_the_runner_still_files_and_applies_requests(
    store: ApprovalStore,
) -> None:
    """Invoked directly, the gate puts its request in the store and marks it resumed."""
    agent = build(store, [pay(4200, "c1"), "Done."])
    graph = agent.runner.graph
    config: RunnableConfig = {"configurable": {"thread_id": "direct"}}
    result = graph.invoke(PROMPT, config)
    [interrupt] = result["__interrupt__"]
    [request] = store.list_requests(run_id="direct").items
    assert interrupt.value["hitl"]["request"]["id"] == request.id
    answer = {"type": "approve", "hitl": {"by": REVIEWER}}
    graph.invoke(Command(resume={interrupt.id: answer}), config)
    assert agent.payments.ran == [("send_payment", {"amount": 4200, "recipient": "Acme Corp"})]
    stored = store.get(request.id)
    assert stored.status is RequestStatus.RESUMED
    assert stored.decision is not None
    assert stored.decision.by == REVIEWER
