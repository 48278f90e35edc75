"""Checkpointers from URLs, fresh-process resumes from each, and failing fast without one.

LangGraph alone lets a graph with no checkpointer (or no thread id) raise an interrupt
that can never be resumed; the adapter refuses before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from hitl_core import ApprovalStore, Decision, RequestStatus, open_store
from hitl_langgraph import (
    ApprovalRunner,
    HumanApprovalMiddleware,
    NoCheckpointer,
    NoThreadId,
    Paused,
    ScriptedChatModel,
    UnsupportedCheckpointerURL,
    call,
    open_checkpointer,
)
from tests.langgraph.conftest import resume_in_fresh_process
from tests.langgraph.payments_app import POLICY, ledger_entries, payments_agent

PROMPT = {"messages": [HumanMessage("Pay Acme Corp 4200.")]}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_paused_agent_resumes_in_a_fresh_process(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Store and checkpoints on SQLite files, or both in one PostgreSQL schema."""
    if kind == "postgres":
        store_url = checkpoints_url = request.getfixturevalue("postgres_url")
    else:
        store_url = f"sqlite:///{tmp_path / 'hitl.db'}"
        checkpoints_url = f"sqlite:///{tmp_path / 'checkpoints.db'}"
    ledger = tmp_path / "ledger.jsonl"
    store = open_store(store_url)
    try:
        with open_checkpointer(checkpoints_url) as saver:
            expected = SqliteSaver if kind == "sqlite" else PostgresSaver
            assert isinstance(saver, expected)
            agent, _ = payments_agent(store, saver, ledger)
            paused = ApprovalRunner(agent, store=store).start(PROMPT, thread_id="pay-1")
        assert isinstance(paused, Paused)
        [pending] = store.list_requests().items  # listable without loading any graph
        store.decide(pending.id, Decision.approve(by="ana@example.com"))
        result, _ = resume_in_fresh_process(
            "agent", store_url, checkpoints_url, "pay-1", str(ledger)
        )
        assert result == {
            "status": "completed",
            "output": "Done. paid 4200.00 to Acme Corp",
            "values": {},
        }
        assert ledger_entries(ledger) == [{"amount": 4200, "recipient": "Acme Corp"}]
        assert store.get(pending.id).status is RequestStatus.RESUMED
        assert store.load_run("pay-1").status.value == "completed"
    finally:
        store.close()


def test_open_checkpointer_knows_memory_sqlite_and_postgres_urls(tmp_path: Path) -> None:
    with open_checkpointer("memory://") as saver:
        assert isinstance(saver, InMemorySaver)
    with open_checkpointer(f"sqlite:///{tmp_path / 'deep' / 'c.db'}") as saver:
        assert isinstance(saver, SqliteSaver)
    assert (tmp_path / "deep" / "c.db").exists()
    with (
        pytest.raises(UnsupportedCheckpointerURL, match="memory://, sqlite:///"),
        open_checkpointer("redis://localhost"),
    ):
        pass


def _agent(store: ApprovalStore, checkpointer: Any) -> Any:
    model = ScriptedChatModel(
        [call("send_payment", {"amount": 4200, "recipient": "Acme"}, id="c1"), "Done."]
    )

    def send_payment(amount: float, recipient: str) -> str:
        """Send a payment."""
        raise AssertionError("a gated call ran without a decision")

    return create_agent(
        model,
        [send_payment],
        middleware=[HumanApprovalMiddleware(POLICY, store)],
        checkpointer=checkpointer,
    )


def test_a_graph_without_a_checkpointer_is_refused(sqlite_store: ApprovalStore) -> None:
    graph = _agent(sqlite_store, None)
    with pytest.raises(NoCheckpointer, match="compile"):
        ApprovalRunner(graph, store=sqlite_store)
    # Invoked directly, the gate refuses instead of raising an unresumable interrupt.
    with pytest.raises(NoCheckpointer):
        graph.invoke(PROMPT, {"configurable": {"thread_id": "t1"}})
    assert sqlite_store.list_requests(status=None).items == []


def test_a_run_without_a_thread_id_is_refused(sqlite_store: ApprovalStore) -> None:
    runner = ApprovalRunner(_agent(sqlite_store, InMemorySaver()), store=sqlite_store)
    with pytest.raises(NoThreadId, match="thread_id"):
        runner.start(PROMPT, thread_id="")
    with pytest.raises(NoThreadId):
        _agent(sqlite_store, None).invoke(PROMPT)
    assert sqlite_store.list_requests(status=None).items == []
