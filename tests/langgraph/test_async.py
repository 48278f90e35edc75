"""The async half: ``ainvoke``/``astream`` runs, with async checkpointers and stores.

SQLite and memory stores are called directly from async code; PostgreSQL uses
`AsyncPostgresStore`, whose ``a``-prefixed methods are awaited.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from hitl_core import AuditKind, Decision, Policy, RequestStatus, arg, open_store
from hitl_core.outcomes import rejection_text
from hitl_core.stores.awaitable import AnyStore
from hitl_core.stores.postgres_aio import AsyncPostgresStore
from hitl_langgraph import (
    ApprovalRunner,
    Chunk,
    Completed,
    HumanApprovalMiddleware,
    Paused,
    ScriptedChatModel,
    SyncCallOnAsyncStore,
    aopen_checkpointer,
    call,
)

POLICY = Policy({"send_payment": arg("amount") > 1000})
PROMPT = {"messages": [HumanMessage("Pay Acme Corp and Initech.")]}
REVIEWER = "ana@example.com"


def _agent(store: AnyStore, saver: Any, ran: list[float]) -> ApprovalRunner:
    async def send_payment(amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        ran.append(amount)
        return f"paid {amount:.2f} to {recipient}"

    model = ScriptedChatModel(
        [
            [
                call("send_payment", {"amount": 50, "recipient": "Initech"}, id="s1"),
                call("send_payment", {"amount": 4200, "recipient": "Acme Corp"}, id="l1"),
            ],
            "Done.",
        ]
    )
    agent = create_agent(
        model,
        [send_payment],
        middleware=[HumanApprovalMiddleware(POLICY, store)],
        checkpointer=saver,
    )
    return ApprovalRunner(agent, store=store)


def test_astart_and_aresume_on_sqlite(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'hitl.db'}")
    ran: list[float] = []

    async def scenario() -> None:
        async with aopen_checkpointer(f"sqlite:///{tmp_path / 'checkpoints.db'}") as saver:
            assert isinstance(saver, AsyncSqliteSaver)
            runner = _agent(store, saver, ran)
            paused = await runner.astart(PROMPT, thread_id="t1")
            assert isinstance(paused, Paused)
            assert ran == [50]
            store.decide(paused.requests[0].id, Decision.reject("not today", by=REVIEWER))
            done = await runner.aresume("t1")
            assert isinstance(done, Completed)
            state = await runner.graph.aget_state({"configurable": {"thread_id": "t1"}})
            told = {m.tool_call_id: m.content for m in state.values["messages"][2:4]}
            assert told == {
                "s1": "paid 50.00 to Initech",
                "l1": rejection_text("send_payment", "not today"),
            }

    try:
        asyncio.run(scenario())
    finally:
        store.close()
    assert ran == [50]


def test_astream_yields_langgraph_chunks_then_the_outcome(tmp_path: Path) -> None:
    store = open_store("memory://")
    ran: list[float] = []

    async def scenario() -> list[Any]:
        async with aopen_checkpointer("memory://") as saver:
            runner = _agent(store, saver, ran)
            items = [item async for item in runner.astream(PROMPT, thread_id="t1")]
            paused = items[-1]
            assert isinstance(paused, Paused)
            store.decide(paused.requests[0].id, Decision.approve(by=REVIEWER))
            return [item async for item in runner.astream_resume("t1")]

    items = asyncio.run(scenario())
    assert isinstance(items[-1], Completed)
    assert all(isinstance(item, Chunk) and item.mode == "updates" for item in items[:-1])
    assert ran == [50, 4200]


def test_async_postgres_store_and_checkpointer(postgres_url: str) -> None:
    ran: list[float] = []

    async def scenario() -> None:
        store = await AsyncPostgresStore.open(postgres_url)
        try:
            async with aopen_checkpointer(postgres_url) as saver:
                assert isinstance(saver, AsyncPostgresSaver)
                runner = _agent(store, saver, ran)
                with pytest.raises(SyncCallOnAsyncStore, match="astart"):
                    runner.start(PROMPT, thread_id="sync")
                paused = await runner.astart(PROMPT, thread_id="t1")
                assert isinstance(paused, Paused)
                [request] = paused.requests
                await store.adecide(request.id, Decision.approve(by=REVIEWER))
                assert (await runner.aresume("t1")).status == "completed"
                assert (await store.aget(request.id)).status is RequestStatus.RESUMED
                kinds = [e.kind for e in await store.aaudit(run_id="t1")]
                assert kinds == [
                    AuditKind.STARTED,
                    AuditKind.EXECUTED,
                    AuditKind.CREATED,
                    AuditKind.DECIDED,
                    AuditKind.STARTED,
                    AuditKind.EXECUTED,
                    AuditKind.RESUMED,
                ]
        finally:
            await store.aclose()

    asyncio.run(scenario())
    assert ran == [50, 4200]
