"""Shell and apply_patch calls through the ledger: one request per call, ungated calls at
once, and at most once across a failed save or a process that died mid-call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from agents import ShellTool

from hitl_core import ApprovalStore, AuditKind, Decision
from hitl_core.stores import CallStatus
from tests.openai_agents.native_helpers import (
    DELETE,
    REVIEWER,
    UPDATE,
    completed,
    kinds,
    patch,
    paused,
    shell,
    shown,
)
from tests.openai_agents.tools_app import TOLD, build, ledger_entries, shell_tool


def test_ungated_shell_and_patch_calls_run_at_once_through_the_ledger(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """Neither flag nor policy: no request, one pass, and each call still claimed first."""
    ledger = tmp_path / "ledger.jsonl"
    spec = {
        "turns": [[shell(["ls"]), patch(UPDATE)], TOLD],
        "tools": {"shell": False, "patch": False},
    }
    done = completed(build(sqlite_store, ledger, spec).start("Go"))
    assert sorted(e["tool"] for e in ledger_entries(ledger)) == ["apply_patch", "shell"]
    assert sqlite_store.list_requests(status=None).items == []
    calls = sqlite_store.calls(done.run_id)
    assert {c: r.status for c, r in calls.items()} == {
        "s1": CallStatus.EXECUTED,
        "p1": CallStatus.EXECUTED,
    }


# -- at most once -----------------------------------------------------------------------


class ProcessDied(BaseException):
    """Stands for the process dying inside the tool: nothing after it runs, not even the
    SDK's error handling (which catches `Exception`)."""


def test_a_shell_call_that_ran_before_a_failed_save_is_not_run_again(
    tmp_path: Path,
) -> None:
    from tests.openai_agents.test_runs import CrashOnSave

    store = CrashOnSave(f"sqlite:///{tmp_path / 'crash.db'}")
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[shell(["make release"])], TOLD], "tools": {"shell": True}}
    runner = build(store, ledger, spec)
    outcome = paused(runner.start("Release"))
    store.decide(outcome.requests[0].id, Decision.approve(by=REVIEWER))
    store.crash = True
    with pytest.raises(Exception, match="disk went away"):
        runner.resume(outcome.run_id)
    done = completed(runner.resume(outcome.run_id))
    assert ledger_entries(ledger) == [{"tool": "shell", "args": {"commands": ["make release"]}}]
    assert shown(done) == {"s1": "ran: make release"}
    store.close()


@pytest.mark.parametrize("tool", ["shell", "apply_patch"])
def test_a_native_call_whose_process_died_mid_run_is_put_to_a_person_not_rerun(
    tmp_path: Path, sqlite_store: ApprovalStore, tool: str
) -> None:
    """Claimed before it ran, never settled: an unknown outcome, resolved by a person."""
    from tests.openai_agents.tools_app import Editor, patch_tool

    ledger = tmp_path / "ledger.jsonl"
    dies = [True]
    if tool == "shell":
        inner = shell_tool(ledger, True)

        def execute(request: Any) -> Any:
            result = inner.executor(request)  # type: ignore[misc]
            if dies.pop() if dies else False:
                raise ProcessDied
            return result

        tools: list[Any] = [ShellTool(executor=execute, needs_approval=True)]
        step = shell(["make release"], "c1")
    else:

        class DyingEditor(Editor):
            def delete_file(self, op: Any) -> str:
                text = super().delete_file(op)
                if dies.pop() if dies else False:
                    raise ProcessDied
                return text

        tools = [patch_tool(ledger, True)]
        tools[0].editor = DyingEditor(ledger)
        step = patch(DELETE, "c1")
    runner = build(sqlite_store, ledger, {"turns": [[step], TOLD]}, tools=tools)
    outcome = paused(runner.start("Go"))
    sqlite_store.decide(outcome.requests[0].id, Decision.approve(by=REVIEWER))
    with pytest.raises(ProcessDied):
        runner.resume(outcome.run_id)
    assert sqlite_store.calls(outcome.run_id)["c1"].status is CallStatus.STARTED

    again = paused(runner.resume(outcome.run_id))
    [recovery] = again.requests
    assert recovery.kind == "recovery"
    assert recovery.allowed == ("approve", "respond", "reject")
    assert len(ledger_entries(ledger)) == 1  # not run again on its own
    assert sqlite_store.calls(outcome.run_id)["c1"].status is CallStatus.UNKNOWN
    sqlite_store.decide(recovery.id, {"type": "respond", "answer": "it ran", "by": REVIEWER})
    done = completed(runner.resume(outcome.run_id))
    assert shown(done) == {"c1": "it ran"}
    assert len(ledger_entries(ledger)) == 1
    trail = kinds(sqlite_store, outcome.run_id)
    assert AuditKind.OUTCOME_UNKNOWN in trail


def test_each_flagged_call_of_a_turn_gets_its_own_request(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    from hitl_core.identity import request_id

    ledger = tmp_path / "ledger.jsonl"
    turns = [[shell(["a"], "s1"), shell(["b"], "s2"), patch(UPDATE, "p1")], TOLD]
    spec = {"turns": turns, "tools": {"shell": True, "patch": True}}
    runner = build(sqlite_store, ledger, spec)
    outcome = paused(runner.start("Go"))
    assert [r.id for r in outcome.requests] == [
        request_id(outcome.run_id, call_id) for call_id in ("s1", "s2", "p1")
    ]
    for request in outcome.requests:
        sqlite_store.decide(request.id, Decision.approve(by=REVIEWER))
    completed(runner.resume(outcome.run_id))
    ran = sorted(json.dumps(e, sort_keys=True) for e in ledger_entries(ledger))
    assert ran == sorted(
        json.dumps(e, sort_keys=True)
        for e in (
            {"tool": "shell", "args": {"commands": ["a"]}},
            {"tool": "shell", "args": {"commands": ["b"]}},
            {"tool": "apply_patch", "args": UPDATE},
        )
    )
    assert len(sqlite_store.list_requests(status=None).items) == 3
