"""Pause -> persist -> approve -> resume in a fresh graph: the LangGraph adapter against raw.

One cycle is the same payment run both ways, on a real ``create_agent`` agent with the
same scripted model (`ScriptedChatModel`: one ``send_payment`` call of 4200, then
"Done."), the same tool and the same kind of checkpointer:

- raw LangGraph: the tool calls ``interrupt()`` itself when the amount is over 1000, and
  the run stops with the interrupt in its checkpoint. A freshly compiled agent on the same
  checkpointer reads the interrupt with ``get_state`` and resumes it with
  ``Command(resume={interrupt_id: {"type": "approve"}})``; the tool pays, the model answers;
- hitl-kit: the tool does no gating; `HumanApprovalMiddleware` gates it with a `Policy`.
  `ApprovalRunner.start` pauses (the run record and the `ApprovalRequest` saved in one
  store write), ``store.decide`` records the approval, and a fresh runner over a freshly
  compiled agent resumes: it reads the decision from the store, resumes the interrupt,
  records the execution and saves the completed run.

Both agents offer the model the same one tool (the middleware runs with
``ask_human=False``) and run with ``max_concurrency=1`` (the runner's default,
``sequential=True``). On both sides the agent that starts runs is compiled once per
round, as a server would, and the one that resumes is compiled in every cycle, as in
another process (about 2-3 ms of a cycle). Both sides must end with the same
conversation, or the benchmark stops.

Storage, the same kind on both sides:

- in memory: an `InMemorySaver` per side (and a ``memory://`` store for hitl-kit), new
  ones every round, because the memory store scans every request it holds;
- SQLite: a `SqliteSaver` file per side, plus a ``sqlite:///`` store file for hitl-kit,
  all in one directory. LangGraph's saver and the store both use WAL with
  ``synchronous=FULL``, so every commit is an fsync on either side.

The sides alternate cycle by cycle (and which goes first alternates), and the storage
kinds alternate round by round, so whatever else the machine does slows all four alike.
The figures are the median and p95 over every timed cycle, in wall time and in CPU time
(this process's): CPU time is the work each side does, which the machine's other load
inflates less than the wall time.

    .venv/bin/python -m bench.langgraph_resume            # 5 rounds of 40 cycles a side
    .venv/bin/python -m bench.langgraph_resume --quick    # 2 rounds of 15
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt

from bench._common import (
    Laps,
    Samples,
    base_parser,
    comparison_rows,
    interleave,
    median_ratios,
    phase_rows,
    print_load,
    print_table,
)
from hitl_core import ApprovalStore, Decision, Policy, arg, open_store
from hitl_langgraph import (
    ApprovalRunner,
    Completed,
    HumanApprovalMiddleware,
    Paused,
    ScriptedChatModel,
    call,
)

PROMPT = "Pay Acme 4200"
POLICY = Policy({"send_payment": arg("amount") > 1000})
RAW, HITL = "raw LangGraph", "hitl-kit"

Agent = CompiledStateGraph[Any, Any, Any, Any]
Saver = BaseCheckpointSaver[str]


def _pay(amount: float, recipient: str) -> str:
    return f"paid {amount:.2f} to {recipient}"


@tool
def send_payment(amount: float, recipient: str) -> str:
    """Send a payment to a vendor."""
    return _pay(amount, recipient)


@tool("send_payment")
def send_payment_interrupting(amount: float, recipient: str) -> str:
    """Send a payment to a vendor."""
    if amount > 1000:
        answer = interrupt({"tool": "send_payment", "amount": amount, "recipient": recipient})
        if answer.get("type") != "approve":
            return f"The payment was rejected: {answer.get('message', 'no reason given')}"
    return _pay(amount, recipient)


def _model() -> ScriptedChatModel:
    return ScriptedChatModel(
        [[call("send_payment", {"amount": 4200, "recipient": "Acme"}, id="c1")], "Done."]
    )


def _agent(saver: Saver, tool: BaseTool, store: ApprovalStore | None = None) -> Agent:
    """The payment agent; gated by the middleware when a store is given."""
    middleware = [HumanApprovalMiddleware(POLICY, store, ask_human=False)] if store else []
    return create_agent(_model(), [tool], checkpointer=saver, middleware=middleware)


def _transcript(messages: Sequence[BaseMessage]) -> list[tuple[str, str]]:
    """What the conversation said, to check that both sides did the same work."""
    return [(m.type, m.text or str(getattr(m, "tool_calls", ""))) for m in messages]


class RawSide:
    """Raw LangGraph: the tool interrupts; a freshly compiled agent resumes it."""

    name = RAW

    def __init__(self, saver: Saver) -> None:
        self.saver = saver
        self.agent = _agent(saver, send_payment_interrupting)

    def cycle(self, thread_id: str, lap: Laps) -> list[BaseMessage]:
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}, "max_concurrency": 1}
        paused = self.agent.invoke({"messages": [HumanMessage(PROMPT)]}, config)
        assert "__interrupt__" in paused, "the raw agent did not pause"
        lap("pause")
        lap("decide")  # nothing to record: the decision travels in the resume command
        fresh = _agent(self.saver, send_payment_interrupting)
        [pending] = fresh.get_state(config).interrupts
        done = fresh.invoke(Command(resume={pending.id: {"type": "approve"}}), config)
        lap("resume")
        return list(done["messages"])


class HitlSide:
    """hitl-kit: the middleware gates; the store holds the decision; a fresh runner resumes."""

    name = HITL

    def __init__(self, saver: Saver, store: ApprovalStore) -> None:
        self.saver, self.store = saver, store
        self.runner = ApprovalRunner(_agent(saver, send_payment, store), store=store)

    def cycle(self, thread_id: str, lap: Laps) -> list[BaseMessage]:
        paused = self.runner.start({"messages": [HumanMessage(PROMPT)]}, thread_id=thread_id)
        assert isinstance(paused, Paused), "the gated agent did not pause"
        lap("pause")
        self.store.decide(paused.requests[0].id, Decision.approve(by="ana@example.com"))
        lap("decide")
        fresh = ApprovalRunner(_agent(self.saver, send_payment, self.store), store=self.store)
        done = fresh.resume(thread_id)
        assert isinstance(done, Completed), done
        assert done.output == "Done.", done.output
        lap("resume")
        return list(done.values["messages"])


def measure(
    cycles: int, rounds: int, warmup: int, directory: Path
) -> dict[str, dict[str, Samples]]:
    """Samples by storage kind and side; the kinds alternate round by round."""
    results = {kind: {RAW: Samples(), HITL: Samples()} for kind in ("in memory", "SQLite")}
    with ExitStack() as stack:
        savers = [
            stack.enter_context(SqliteSaver.from_conn_string(str(directory / f"{name}.db")))
            for name in ("raw-checkpoints", "hitl-checkpoints")
        ]
        for saver in savers:
            saver.setup()
        store = open_store(f"sqlite:///{directory / 'hitl.db'}")
        stack.callback(store.close)
        for r in range(rounds):
            memory_store = open_store("memory://")
            interleave(
                RawSide(InMemorySaver()),
                HitlSide(InMemorySaver(), memory_store),
                f"m{r}",
                cycles,
                warmup,
                results["in memory"],
                work=_transcript,
            )
            memory_store.close()
            interleave(
                RawSide(savers[0]),
                HitlSide(savers[1], store),
                f"s{r}",
                cycles,
                warmup,
                results["SQLite"],
                work=_transcript,
            )
    return results


def report(results: dict[str, dict[str, Samples]]) -> None:
    n = len(results["in memory"][RAW].wall)
    print_table(
        [f"per cycle ({n} a side and kind)", "wall ms", "wall p95", "CPU ms", "CPU p95"],
        [row for kind, sides in results.items() for row in comparison_rows(f"{kind}: ", sides)],
    )
    print("\nMedian ms by phase: pause = start until paused, decide = store.decide,")
    print("resume = compile a fresh agent, resume, until completed.")
    print_table(
        ["phase", "raw wall", "hitl wall", "raw CPU", "hitl CPU"],
        [row for kind, sides in results.items() for row in phase_rows(f"{kind}: ", sides)],
    )
    summary = ", ".join(f"{kind} {median_ratios(sides)}" for kind, sides in results.items())
    print(f"\nhitl-kit / raw LangGraph, median per cycle: {summary}")


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument(
        "-n", "--cycles", type=int, default=40, help="timed cycles a side per round"
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per storage kind")
    parser.add_argument("--warmup", type=int, default=3, help="untimed cycles a side per round")
    parser.add_argument("--dir", type=Path, help="where the SQLite files go (default: a temp dir)")
    options = parser.parse_args()
    cycles, rounds = (15, 2) if options.quick else (options.cycles, options.rounds)
    print_load("before")
    with tempfile.TemporaryDirectory(dir=options.dir) as tmp:
        results = measure(cycles, rounds, options.warmup, Path(tmp))
    print_load("after")
    print()
    report(results)


if __name__ == "__main__":
    main()
