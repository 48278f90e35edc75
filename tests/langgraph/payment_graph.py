"""External fixture: the payment graph from seed 004_50159bbd34c76c3f.txt, unchanged.

The state, the four nodes and the builder are copied verbatim from the tutorial; its gate
calls ``interrupt()`` with its own payload and reads ``decision["action"]``. The only
departure is where the tutorial compiles with ``InMemorySaver()`` (it says to use a
durable saver in production): `build` takes the checkpointer, so a fresh process can
resume. hitl-kit drives it through a codec (see test_payment_graph_codec.py).
"""

# ruff: noqa
# mypy: ignore-errors
# fmt: off

from typing import TypedDict, Literal
from langgraph.graph import StateGraph, START, END
from langgraph.types import interrupt, Command
from langgraph.checkpoint.memory import InMemorySaver # use PostgresSaver in prod
class State(TypedDict):
    amount: float
    recipient: str
    status: str
def propose_payment(state: State) -> State:
    # The agent has decided to pay someone. Nothing has executed yet.
    return {"status": "proposed"}
def approval_gate(state: State) -> Command[Literal["execute", "cancel"]]:
    # interrupt() pauses HERE. The payload is surfaced to your app.
    decision = interrupt({
        "question": "Approve this payment?",
        "amount": state["amount"],
        "recipient": state["recipient"],
    })
    # On resume, `decision` == the value of Command(resume=...).
    if decision["action"] == "approve":
        return Command(goto="execute")
    if decision["action"] == "edit":
        # Edit-and-resume: overwrite the proposed args, then execute.
        return Command(
            goto="execute",
            update={"amount": decision["amount"], "recipient": decision["recipient"]},
        )
    return Command(goto="cancel") # reject -> alternate route
def execute(state: State) -> State:
    print(f"PAID ${state['amount']} to {state['recipient']}")
    return {"status": "paid"}
def cancel(state: State) -> State:
    return {"status": "cancelled"}


def build(checkpointer=None):
    """The tutorial's builder lines, compiled with `checkpointer` instead of InMemorySaver()."""
    builder = StateGraph(State)
    builder.add_node("propose_payment", propose_payment)
    builder.add_node("approval_gate", approval_gate)
    builder.add_node("execute", execute)
    builder.add_node("cancel", cancel)
    builder.add_edge(START, "propose_payment")
    builder.add_edge("propose_payment", "approval_gate")
    builder.add_edge("execute", END)
    builder.add_edge("cancel", END)
    # REQUIRED: without a checkpointer, interrupt()/resume cannot work.
    graph = builder.compile(checkpointer=checkpointer or InMemorySaver())
    return graph
