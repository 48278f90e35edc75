"""The call ledger at every LangGraph entry point: middleware, ToolNode, approval_gate, codec.

Each case was measured failing before the ledger: a rejected payment paid after the
policy was relaxed (all four entry points), an edit replaced by the original amount, a
call renamed through ``graph.update_state`` running under the original approval, an edit
with an unknown argument accepted and silently dropped, a failed pass left ``running``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.pregel import Pregel

from hitl_core import (
    ApprovalStore,
    AuditKind,
    CallRefused,
    Decision,
    EditArgumentsInvalid,
    Policy,
    Reject,
    RequestStatus,
    RunStatus,
    arg,
    open_store,
)
from hitl_core.outcomes import rejection_text
from hitl_langgraph import (
    ApprovalRunner,
    ApprovalToolNode,
    HumanApprovalMiddleware,
    Paused,
    ScriptedChatModel,
    approval_gate,
    call,
    open_checkpointer,
    route_tool_calls,
)
from tests.langgraph.payments_app import graph_runner

REVIEWER = "ana@example.com"
STRICT = Policy({"send_payment": arg("amount") > 1000})
Graph = Pregel[Any, Any, Any, Any]
RELAXED = Policy.allow_all()
PAY = {"amount": 4200, "recipient": "Acme"}


class Messages(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


class Payment(TypedDict):
    amount: float
    status: str


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ApprovalStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'hitl.db'}")
    yield opened
    opened.close()


class Paid:
    """A payment tool and the amounts it paid."""

    def __init__(self) -> None:
        self.amounts: list[float] = []

    def send_payment(self, amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        self.amounts.append(amount)
        return f"paid {amount:.2f} to {recipient}"


def _model() -> ScriptedChatModel:
    return ScriptedChatModel([call("send_payment", PAY, id="c1"), "Done."])


def middleware_agent(policy: Policy, store: ApprovalStore, paid: Paid, saver: Any) -> Graph:
    """``create_agent`` gated by the middleware."""
    graph: Graph = create_agent(
        _model(),
        [paid.send_payment],
        middleware=[HumanApprovalMiddleware(policy, store)],
        checkpointer=saver,
    )
    return graph


def tool_node_agent(policy: Policy, store: ApprovalStore, paid: Paid, saver: Any) -> Graph:
    """A hand-built agent whose tools run in an `ApprovalToolNode`."""
    tools = ApprovalToolNode([paid.send_payment], policy=policy, store=store)
    model = _model().bind_tools(list(tools.tools_by_name.values()))

    def agent(state: Messages) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(Messages)
    builder.add_node("agent", agent)
    builder.add_node("tools", tools)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route_tool_calls, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=saver)


AgentBuilder = Callable[[Policy, ApprovalStore, Paid, Any], Graph]
AGENTS = [middleware_agent, tool_node_agent]


@pytest.mark.parametrize("build", AGENTS, ids=["middleware", "tool_node"])
@pytest.mark.parametrize("kind", ["reject", "edit"])
def test_a_decision_stands_when_the_policy_is_relaxed(
    build: AgentBuilder, kind: str, store: ApprovalStore
) -> None:
    """Reject (or edit 4,200 to 4,000), relax the policy, resume: the decision applies."""
    saver, paid = InMemorySaver(), Paid()
    paused = ApprovalRunner(build(STRICT, store, paid, saver), store=store).start(
        {"messages": [HumanMessage("Pay Acme.")]}, thread_id="t1"
    )
    assert isinstance(paused, Paused)
    [request] = paused.requests
    if kind == "reject":
        store.decide(request.id, Decision.reject("vendor under review", by=REVIEWER))
    else:
        store.decide(request.id, Decision.edit({**PAY, "amount": 4000}, by=REVIEWER))
    relaxed = ApprovalRunner(build(RELAXED, store, paid, saver), store=store)
    done = relaxed.resume("t1")
    assert done.status == "completed"
    if kind == "reject":
        assert paid.amounts == []
        tool = [m for m in done.values["messages"] if isinstance(m, ToolMessage)]
        assert tool[-1].content == rejection_text("send_payment", "vendor under review")
    else:
        assert paid.amounts == [4000]


def _gate_graph(policy: Policy, store: ApprovalStore, paid: list[float], saver: Any) -> Graph:
    """A custom node that pays after `approval_gate`."""

    def pay(state: Payment) -> dict[str, Any]:
        decision = approval_gate(
            "send_payment", {"amount": state["amount"]}, store=store, policy=policy
        )
        if isinstance(decision, Reject):
            return {"status": "cancelled"}
        amount = decision.args["amount"] if hasattr(decision, "args") else state["amount"]
        paid.append(amount)
        return {"status": f"paid {amount}"}

    builder = StateGraph(Payment)
    builder.add_node("pay", pay)
    builder.add_edge(START, "pay")
    builder.add_edge("pay", END)
    return builder.compile(checkpointer=saver)


@pytest.mark.parametrize("kind", ["reject", "edit"])
def test_approval_gates_decision_stands_when_the_policy_is_relaxed(
    kind: str, store: ApprovalStore
) -> None:
    saver, paid = InMemorySaver(), list[float]()
    paused = ApprovalRunner(_gate_graph(STRICT, store, paid, saver), store=store).start(
        {"amount": 4200, "status": ""}, thread_id="t1"
    )
    assert isinstance(paused, Paused)
    [request] = paused.requests
    if kind == "reject":
        store.decide(request.id, Decision.reject("no", by=REVIEWER))
    else:
        store.decide(request.id, Decision.edit({"amount": 4000}, by=REVIEWER))
    done = ApprovalRunner(_gate_graph(RELAXED, store, paid, saver), store=store).resume("t1")
    assert done.status == "completed"
    assert done.values["status"] == ("cancelled" if kind == "reject" else "paid 4000")
    assert paid == ([] if kind == "reject" else [4000])


@pytest.mark.parametrize("kind", ["reject", "edit"])
def test_a_codec_graphs_decision_stands_when_the_policy_is_relaxed(
    kind: str, tmp_path: Path, store: ApprovalStore
) -> None:
    """The codec graph's own question, decided, keeps its answer under any policy."""
    with open_checkpointer(f"sqlite:///{tmp_path / 'checkpoints.db'}") as saver:
        paused = graph_runner(store, saver, policy=STRICT).start(
            {"amount": 4200.0, "recipient": "Acme Corp"}, thread_id="t1"
        )
        assert isinstance(paused, Paused)
        [request] = paused.requests
        if kind == "reject":
            store.decide(request.id, Decision.reject("no", by=REVIEWER))
        else:
            store.decide(
                request.id, Decision.edit({"amount": 4000, "recipient": "Acme Corp"}, by=REVIEWER)
            )
        done = graph_runner(store, saver, policy=RELAXED).resume("t1")
    assert done.status == "completed"
    if kind == "reject":
        assert done.values["status"] == "cancelled"
    else:
        assert (done.values["status"], done.values["amount"]) == ("paid", 4000)


def _rename(graph: Graph, thread_id: str, tool: str, args: dict[str, Any]) -> None:
    """Rewrite the pending call through ``graph.update_state``, as the model's turn."""
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    messages = graph.get_state(config).values["messages"]
    turn = next(m for m in reversed(messages) if isinstance(m, AIMessage) and m.tool_calls)
    calls = [{**c, "name": tool, "args": args} for c in turn.tool_calls]
    graph.update_state(
        config, {"messages": [turn.model_copy(update={"tool_calls": calls})]}, as_node="agent"
    )


def test_a_call_renamed_through_update_state_is_refused(store: ApprovalStore) -> None:
    """send_payment approved, then the pending call is rewritten to wire_transfer: nothing runs."""
    wired: list[float] = []

    def wire_transfer(amount: float, recipient: str) -> str:
        """Wire money abroad."""
        wired.append(amount)
        return "wired"

    paid = Paid()
    tools = ApprovalToolNode([paid.send_payment, wire_transfer], policy=STRICT, store=store)
    model = _model().bind_tools(list(tools.tools_by_name.values()))

    def agent(state: Messages) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(Messages)
    builder.add_node("agent", agent)
    builder.add_node("tools", tools)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route_tool_calls, ["tools", END])
    builder.add_edge("tools", "agent")
    graph = builder.compile(checkpointer=InMemorySaver())
    runner = ApprovalRunner(graph, store=store)
    paused = runner.start({"messages": [HumanMessage("Pay Acme.")]}, thread_id="t1")
    assert isinstance(paused, Paused)
    [request] = paused.requests
    store.decide(request.id, Decision.approve(by=REVIEWER))
    _rename(graph, "t1", "wire_transfer", {"amount": 999999, "recipient": "X"})
    with pytest.raises(CallRefused, match="wire_transfer"):
        runner.resume("t1")
    assert (paid.amounts, wired) == ([], [])
    assert store.get(request.id).status is RequestStatus.DECIDED
    assert store.load_run("t1").status is RunStatus.FAILED
    assert [e.kind for e in store.audit(run_id="t1")][-2:] == [AuditKind.REFUSED, AuditKind.FAILED]


def test_an_edit_with_an_unknown_argument_is_refused(store: ApprovalStore) -> None:
    """The tool's own argument model ignores extra keys; the request's schema refuses them."""
    paid = Paid()
    runner = ApprovalRunner(middleware_agent(STRICT, store, paid, InMemorySaver()), store=store)
    paused = runner.start({"messages": [HumanMessage("Pay Acme.")]}, thread_id="t1")
    assert isinstance(paused, Paused)
    [request] = paused.requests
    with pytest.raises(EditArgumentsInvalid, match="memo"):
        store.decide(request.id, Decision.edit({**PAY, "memo": "rush"}, by=REVIEWER))
    assert store.get(request.id).status is RequestStatus.PENDING
    assert [e.kind for e in store.audit(run_id="t1")] == [AuditKind.CREATED]


def test_a_pass_that_raises_leaves_the_run_failed_and_retry_runs_nothing_twice(
    store: ApprovalStore,
) -> None:
    """The model fails after a payment ran: the run is failed, with the error, not stuck."""
    paid = Paid()
    calls = [call("send_payment", {"amount": 50, "recipient": "Acme"}, id="c1")]

    def broken(_: Any) -> str:
        raise ConnectionError("the model provider is down")

    graph = create_agent(
        ScriptedChatModel([calls, broken]),
        [paid.send_payment],
        middleware=[HumanApprovalMiddleware(STRICT, store)],
        checkpointer=InMemorySaver(),
    )
    runner = ApprovalRunner(graph, store=store)
    with pytest.raises(ConnectionError):
        runner.start({"messages": [HumanMessage("Pay Acme 50.")]}, thread_id="t1")
    record = store.load_run("t1")
    assert record.status is RunStatus.FAILED
    assert record.error is not None
    assert "the model provider is down" in record.error
    assert paid.amounts == [50]
    with pytest.raises(ConnectionError):
        runner.retry("t1", by=REVIEWER)
    assert paid.amounts == [50]
    kinds = [e.kind for e in store.audit(run_id="t1")]
    assert kinds.count(AuditKind.FAILED) == 2
    assert kinds.count(AuditKind.RETRIED) == 1
