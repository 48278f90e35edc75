"""Hypothesis strategies for whole runs: a scenario, the reviewers' decisions, the resumes.

`run_plan()` draws a `Plan`; `play(plan, factory, directory)` runs it on one adapter and
returns its `Trace`. Two adapters behave the same when their traces are equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from hitl_conformance.harness import Harness, Trace
from hitl_conformance.scenario import Scenario, ScriptedCall
from hitl_core import Decision
from hitl_core.decisions import AnyDecision

__all__ = ["Plan", "play", "run_plans"]

REVIEWER = "ana@example.com"

_AMOUNTS = [50, 999.5, 1000, 1001, 4200]
_COUNTS = [3, 10, 11, 500]
_RECIPIENTS = ["bob@ourco.com", "x@evil.com"]


class Plan(BaseModel):
    """One generated run: what the model does, what reviewers decide, where it resumes."""

    scenario: Scenario
    decisions: dict[str, dict[str, Any]]
    """Call id -> the decision (as JSON data) reviewers give if that call pauses."""
    batches: list[int]
    """At each pause, how many of the pending requests get decided before resuming."""
    fresh: list[bool]
    """At each resume, whether it happens in a fresh Python process."""


@st.composite
def _call(draw: st.DrawFn, call_id: str) -> ScriptedCall:
    tool = draw(st.sampled_from(["send_payment", "delete_rows", "send_email", "get_balance"]))
    if tool == "send_payment":
        args: dict[str, Any] = {"amount": draw(st.sampled_from(_AMOUNTS)), "recipient": "Acme Corp"}
    elif tool == "delete_rows":
        args = {"table": "orders", "count": draw(st.sampled_from(_COUNTS))}
    elif tool == "send_email":
        args = {"to": draw(st.sampled_from(_RECIPIENTS)), "subject": "Invoice"}
    else:
        args = {}
    return ScriptedCall(id=call_id, tool=tool, args=args)


@st.composite
def _decision(draw: st.DrawFn, call: ScriptedCall, allowed: tuple[str, ...]) -> dict[str, Any]:
    kind = draw(
        st.sampled_from([k for k in ("approve", "reject", "respond", "edit") if k in allowed])
    )
    decision: AnyDecision
    if kind == "approve":
        decision = Decision.approve(by=REVIEWER)
    elif kind == "reject":
        decision = Decision.reject(
            draw(st.sampled_from([None, "over budget", "ask first"])), by=REVIEWER
        )
    elif kind == "respond":
        decision = Decision.respond("handled by hand", by=REVIEWER)
    else:
        edited = dict(call.args)
        if call.tool == "send_payment":
            edited["amount"] = 900
        elif call.tool == "delete_rows":
            edited["count"] = 5
        else:
            edited["to"] = "bob@ourco.com"
        decision = Decision.edit(
            edited, by=REVIEWER, feedback=draw(st.sampled_from([None, "smaller"]))
        )
    return decision.model_dump(mode="json", exclude={"at"})


@st.composite
def run_plans(
    draw: st.DrawFn, *, max_turns: int = 3, max_calls: int = 3, fresh: bool = True
) -> Plan:
    """Plans with 1..max_turns tool-calling turns of 1..max_calls calls, then an answer."""
    turns: list[list[ScriptedCall] | str] = []
    calls: list[ScriptedCall] = []
    for t in range(draw(st.integers(1, max_turns))):
        turn = [draw(_call(f"t{t}c{i}")) for i in range(draw(st.integers(1, max_calls)))]
        turns.append(turn)
        calls += turn
    turns.append("Done.")
    scenario = Scenario(turns=turns)
    policy = scenario.build_policy()
    decisions = {c.id: draw(_decision(c, policy.check(c.tool, c.args).allowed)) for c in calls}
    pauses = len(calls) + 1
    return Plan(
        scenario=scenario,
        decisions=decisions,
        batches=draw(st.lists(st.integers(1, 3), min_size=pauses, max_size=pauses)),
        fresh=draw(
            st.lists(st.booleans() if fresh else st.just(False), min_size=pauses, max_size=pauses)
        ),
    )


def play(plan: Plan, factory: str, directory: Path, *, in_process_only: bool = False) -> Trace:
    """Run `plan` on the adapter built by `factory` and return what was observed."""
    run = Harness(factory, directory, plan.scenario)
    try:
        outcome = run.start()
        step = 0
        while outcome.status == "paused":
            assert step < len(plan.batches), "the run paused more often than it has calls"
            for request_id in outcome.pending[: plan.batches[step]]:
                call_id = run.request(request_id).action.call_id
                run.decide(request_id, plan.decisions[call_id])
            outcome = run.resume(fresh=plan.fresh[step] and not in_process_only)
            step += 1
        return run.trace()
    finally:
        run.close()


def expected_effects(
    plan: Plan, scratch: Path
) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, str]]:
    """What any conforming adapter must execute (sorted) and tell the model, per the contract.

    Computed from the policy and the core's texts alone, with no adapter involved.
    """
    from hitl_conformance.journal import Journal
    from hitl_conformance.tools import recording_tools
    from hitl_core.outcomes import RunTool, rejection_text, tool_result

    tools = {t.__name__: t for t in recording_tools(Journal(scratch))}
    policy = plan.scenario.build_policy()
    executed: list[tuple[str, dict[str, Any]]] = []
    told: dict[str, str] = {}
    for turn in plan.scenario.turns:
        for call in turn if isinstance(turn, list) else []:
            if not policy.check(call.tool, call.args).required:
                executed.append((call.tool, call.args))
                told[call.id] = tools[call.tool](**call.args)
                continue
            decision = Decision.parse({**plan.decisions[call.id], "at": "2026-01-01T00:00:00Z"})
            if decision.kind in ("approve", "edit"):
                args = getattr(decision, "args", call.args)
                executed.append((call.tool, args))
                output = tools[call.tool](**args)
                told[call.id] = tool_result(
                    RunTool(args, decision.kind == "edit", decision.feedback, call.tool), output
                )
            elif decision.kind == "reject":
                told[call.id] = rejection_text(call.tool, decision.feedback)
            else:
                told[call.id] = getattr(decision, "answer", "")
    return sorted(executed, key=repr), told
