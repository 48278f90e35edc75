"""The runner's contract: run lifecycle, context, expiry, streaming and workers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from hitl_core import (
    ApprovalRequest,
    ApprovalStore,
    Decision,
    InvalidRunState,
    Lease,
    ManualClock,
    Policy,
    RequestStatus,
    Rule,
    RunExists,
    RunNotPaused,
    RunRecord,
    RunStatus,
    StoreUnavailable,
    UnknownRun,
    arg,
    ctx,
    open_store,
)
from hitl_core.outcomes import rejection_text
from hitl_core.stores.memory import MemoryStore
from hitl_core.worker import Worker
from hitl_langgraph import (
    ApprovalRunner,
    Chunk,
    Completed,
    HumanApprovalMiddleware,
    Paused,
    RunInfo,
    ScriptedChatModel,
    call,
)

REVIEWER = "ana@example.com"
POLICY = Policy({"send_payment": arg("amount") > 1000}, expires_in=timedelta(hours=24))
RISK_POLICY = Policy(
    {"send_payment": Rule(when=(arg("amount") > 1000) | (ctx("customer.risk") == "high"))}
)
PROMPT = {"messages": [HumanMessage("Pay Acme Corp.")]}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> Iterator[ApprovalStore]:
    opened = open_store("memory://", clock=clock)
    yield opened
    opened.close()


def runner(
    store: ApprovalStore, amount: float = 4200, turns: int = 1, policy: Policy = POLICY
) -> ApprovalRunner:
    def send_payment(amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        return f"paid {amount:.2f} to {recipient}"

    pay = call("send_payment", {"amount": amount, "recipient": "Acme Corp"})
    steps: list[Any] = []
    for turn in range(turns):  # a conversation: one payment and one answer per user turn
        steps += [pay, f"Done {turn}."]
    agent = create_agent(
        ScriptedChatModel(steps),
        [send_payment],
        middleware=[HumanApprovalMiddleware(policy, store)],
        checkpointer=InMemorySaver(),
    )
    return ApprovalRunner(agent, store=store)


def test_the_store_keeps_a_small_record_of_where_the_run_lives(store: ApprovalStore) -> None:
    run = runner(store)
    run.start(PROMPT, thread_id="t1", context={"customer": {"risk": "low"}})
    record = store.load_run("t1")
    assert (record.adapter, record.status) == ("hitl_langgraph", RunStatus.PAUSED)
    info = RunInfo.model_validate_json(record.state)
    assert info == RunInfo(
        thread_id="t1",
        graph="LangGraph",
        checkpointer="InMemorySaver",
        context={"customer": {"risk": "low"}},
    )


def test_context_reaches_the_policy_and_the_request(store: ApprovalStore) -> None:
    paused = runner(store, amount=50, policy=RISK_POLICY).start(
        PROMPT, thread_id="t1", context={"customer": {"risk": "high"}}
    )
    assert isinstance(paused, Paused)
    [request] = paused.requests
    assert request.context == {"customer": {"risk": "high"}}
    done = runner(store, amount=50, policy=RISK_POLICY).start(
        PROMPT, thread_id="t2", context={"customer": {"risk": "low"}}
    )
    assert isinstance(done, Completed)


def test_resume_refuses_unknown_finished_and_foreign_runs(store: ApprovalStore) -> None:
    run = runner(store, amount=50)
    with pytest.raises(UnknownRun):
        run.resume("nope")
    assert run.start(PROMPT, thread_id="t1").status == "completed"
    with pytest.raises(RunNotPaused):
        run.resume("t1")
    now = store.clock.now()
    store.save_run(
        RunRecord(
            run_id="loop-run",
            adapter="hitl_loop",
            status=RunStatus.PAUSED,
            state="{}",
            created_at=now,
            updated_at=now,
        )
    )
    with pytest.raises(InvalidRunState, match="hitl_loop"):
        run.resume("loop-run")


def test_a_paused_thread_cannot_be_started_again_but_a_finished_one_can(
    store: ApprovalStore,
) -> None:
    run = runner(store, turns=2)
    paused = run.start(PROMPT, thread_id="t1")
    assert isinstance(paused, Paused)
    with pytest.raises(RunExists):
        run.start(PROMPT, thread_id="t1")
    store.decide(paused.requests[0].id, Decision.approve(by=REVIEWER))
    assert run.resume("t1").status == "completed"
    again = run.start({"messages": [HumanMessage("Pay them again.")]}, thread_id="t1")
    assert isinstance(again, Paused)  # the conversation's next turn, same thread
    assert again.requests[0].action.call_id == "call_2_0"


def test_an_unanswered_request_expires_and_the_model_is_told(
    store: ApprovalStore, clock: ManualClock
) -> None:
    run = runner(store)
    paused = run.start(PROMPT, thread_id="t1")
    assert isinstance(paused, Paused)
    assert run.resume("t1").status == "paused"  # nothing decided: still waiting
    clock.advance(timedelta(hours=25))
    done = run.resume("t1")
    assert isinstance(done, Completed)
    told = [m for m in done.values["messages"] if isinstance(m, ToolMessage)]
    assert [m.content for m in told] == [rejection_text("send_payment", "approval expired")]
    stored = store.get(paused.requests[0].id)
    assert stored.status is RequestStatus.RESUMED
    assert stored.decision is not None
    assert stored.decision.by == "hitl:expiry"


def test_stream_passes_langgraph_chunks_through_and_ends_with_the_outcome(
    store: ApprovalStore,
) -> None:
    run = runner(store)
    items = list(run.stream(PROMPT, thread_id="t1", stream_mode=["updates", "values"]))
    assert isinstance(items[-1], Paused)
    chunks = [i for i in items if isinstance(i, Chunk)]
    assert {c.mode for c in chunks} == {"updates", "values"}
    assert any("__interrupt__" in c.data for c in chunks if c.mode == "updates")
    store.decide(items[-1].requests[0].id, Decision.approve(by=REVIEWER))
    *_, last = run.stream_resume("t1")
    assert isinstance(last, Completed)


def test_a_worker_resumes_decided_langgraph_runs(tmp_path: Any) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'hitl.db'}")
    try:
        run = runner(store)
        paused = run.start(PROMPT, thread_id="t1")
        assert isinstance(paused, Paused)
        worker = Worker(store, {"hitl_langgraph": lambda _: run.resume})
        assert worker.run_once().resumed == []  # nothing decided yet
        store.decide(paused.requests[0].id, Decision.approve(by=REVIEWER))
        assert worker.run_once().resumed == ["t1"]
        assert store.load_run("t1").status is RunStatus.COMPLETED
    finally:
        store.close()


class CrashingStore(MemoryStore):
    """A memory store whose next save of a paused or finished run fails (the database is
    unreachable, as in a power cut): a transient failure, so the run stays resumable."""

    crash_next = False

    def save_run(
        self,
        run: RunRecord,
        requests: Sequence[ApprovalRequest] = (),
        *,
        resumed: Sequence[str] = (),
        expected_version: int | None = None,
        lease: Lease | None = None,
        release: bool = False,
    ) -> RunRecord:
        if self.crash_next and run.status is not RunStatus.RUNNING:
            self.crash_next = False
            raise StoreUnavailable("power cut")
        return super().save_run(
            run,
            requests,
            resumed=resumed,
            expected_version=expected_version,
            lease=lease,
            release=release,
        )


def test_a_resume_that_crashed_before_its_save_is_repaired_by_the_next() -> None:
    """The graph moved on but the store did not: the next resume files and marks."""
    store = CrashingStore()
    ran: list[float] = []

    def send_payment(amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        ran.append(amount)
        return f"paid {amount:.2f} to {recipient}"

    model = ScriptedChatModel(
        [
            call("send_payment", {"amount": 4200, "recipient": "Acme"}, id="c1"),
            call("send_payment", {"amount": 5000, "recipient": "Initech"}, id="c2"),
            "Done.",
        ]
    )
    agent = create_agent(
        model,
        [send_payment],
        middleware=[HumanApprovalMiddleware(POLICY, store)],
        checkpointer=InMemorySaver(),
    )
    run = ApprovalRunner(agent, store=store)
    first = run.start(PROMPT, thread_id="t1")
    assert isinstance(first, Paused)
    store.decide(first.requests[0].id, Decision.approve(by=REVIEWER))
    store.crash_next = True
    with pytest.raises(StoreUnavailable):
        run.resume("t1")
    assert ran == [4200]  # c1 ran and the graph paused on c2, but nothing was saved
    assert store.get(first.requests[0].id).status is RequestStatus.DECIDED
    second = run.resume("t1")
    assert isinstance(second, Paused)
    assert [r.action.call_id for r in second.requests] == ["c2"]
    assert [r.action.call_id for r in store.list_requests(run_id="t1").items] == ["c2"]
    assert store.get(first.requests[0].id).status is RequestStatus.RESUMED
    store.decide(second.requests[0].id, Decision.approve(by=REVIEWER))
    assert run.resume("t1").status == "completed"
    assert ran == [4200, 5000]
