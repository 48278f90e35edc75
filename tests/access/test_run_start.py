"""A requester that is not a usable, non-empty string is refused when the run starts.

On every adapter's start, with nothing stored: no run record, no request, no audit event,
and no tool ran. A graph invoked without the runner is refused at its first gated call,
before the request is filed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langgraph.types import Command

from hitl_core import ApprovalStore, Decision
from hitl_core.errors import InvalidIdentity, SelfApproval
from hitl_loop import ActionPlan, PlannedAction
from tests.access.apps import ARGS, PROMPT, agents_app, langgraph_app, loop_app
from tests.access.conftest import (
    BAD_REQUESTERS,
    NAMED,
    REQUESTER,
    SPELLINGS,
    assert_nothing_stored,
)

BAD_IDS = [repr(v) for v in BAD_REQUESTERS]
RUN = "run_bad"


def context(requester: object) -> dict[str, Any]:
    return {"requested_by": requester, "tier": "gold"}


def direct_config(requester: object) -> Any:
    return {"configurable": {"thread_id": RUN, "hitl_context": context(requester)}}


@pytest.mark.parametrize("requester", BAD_REQUESTERS, ids=BAD_IDS)
def test_the_loop_refuses_it_at_start(sqlite_store: ApprovalStore, requester: object) -> None:
    loop, payments = loop_app(sqlite_store)
    with pytest.raises(InvalidIdentity):
        loop.start("Pay Acme 4200", run_id=RUN, context=context(requester))
    plan = ActionPlan(actions=[PlannedAction(tool="send_payment", args=ARGS)])
    with pytest.raises(InvalidIdentity):
        loop.start_plan(plan, run_id=RUN, context=context(requester))
    assert payments.sent == []
    assert_nothing_stored(sqlite_store, RUN)


@pytest.mark.parametrize("requester", BAD_REQUESTERS, ids=BAD_IDS)
def test_the_langgraph_runner_refuses_it_at_start(
    sqlite_store: ApprovalStore, requester: object
) -> None:
    runner, payments = langgraph_app(sqlite_store)
    with pytest.raises(InvalidIdentity):
        runner.start(PROMPT, thread_id=RUN, context=context(requester))
    with pytest.raises(InvalidIdentity):
        asyncio.run(runner.astart(PROMPT, thread_id=RUN, context=context(requester)))
    assert payments.sent == []
    assert_nothing_stored(sqlite_store, RUN)


@pytest.mark.parametrize("requester", BAD_REQUESTERS, ids=BAD_IDS)
def test_a_graph_invoked_directly_refuses_it_before_filing_a_request(
    sqlite_store: ApprovalStore, requester: object
) -> None:
    runner, payments = langgraph_app(sqlite_store)
    with pytest.raises(InvalidIdentity):
        runner.graph.invoke(PROMPT, direct_config(requester))
    other, also = langgraph_app(sqlite_store)  # a fresh checkpointer for the async twin
    with pytest.raises(InvalidIdentity):
        asyncio.run(other.graph.ainvoke(PROMPT, direct_config(requester)))
    assert payments.sent == also.sent == []
    assert_nothing_stored(sqlite_store, RUN)


@pytest.mark.parametrize("requester", BAD_REQUESTERS, ids=BAD_IDS)
def test_the_agents_sdk_runner_refuses_it_at_start(
    sqlite_store: ApprovalStore, requester: object
) -> None:
    runner, payments = agents_app(sqlite_store)
    with pytest.raises(InvalidIdentity):
        runner.start("Pay Acme 4200", run_id=RUN, context=context(requester))
    with pytest.raises(InvalidIdentity):
        asyncio.run(runner.astart("Pay Acme 4200", run_id=RUN, context=context(requester)))
    assert payments.sent == []
    assert_nothing_stored(sqlite_store, RUN)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_adapter_records_a_usable_requester_as_given(
    sqlite_store: ApprovalStore, spelling: str
) -> None:
    loop, _ = loop_app(sqlite_store)
    graph_runner, _ = langgraph_app(sqlite_store)
    sdk_runner, _ = agents_app(sqlite_store)
    outcomes = [
        loop.start("Pay", run_id="loop", context=context(spelling)),
        graph_runner.start(PROMPT, thread_id="graph", context=context(spelling)),
        sdk_runner.start("Pay", run_id="sdk", context=context(spelling)),
    ]
    for outcome in outcomes:
        [request] = outcome.requests  # type: ignore[union-attr]
        assert request.requester == spelling
        assert request.reviewers == (REQUESTER, NAMED)


def test_a_direct_graph_records_its_requester_and_refuses_their_approval(
    sqlite_store: ApprovalStore,
) -> None:
    """The same graph with a usable requester pauses; that requester cannot approve it."""
    runner, payments = langgraph_app(sqlite_store)
    config = direct_config("Alice")
    [interrupt] = runner.graph.invoke(PROMPT, config)["__interrupt__"]
    [request] = sqlite_store.list_requests().items
    assert request.requester == "Alice"
    with pytest.raises(SelfApproval):
        sqlite_store.decide(request.id, Decision.approve(by=REQUESTER))
    runner.graph.invoke(
        Command(resume={interrupt.id: {"type": "reject", "hitl": {"by": "alice"}}}), config
    )
    assert payments.sent == []
