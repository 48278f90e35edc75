"""Apply_patch tools on the real Runner: their own flags, the policy, each decision.

The SDK runs an `ApplyPatchTool` itself, handing its editor one operation at a time, so
the gate wraps the editor; every test counts what really ran from the editor's ledger file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agents import RunContextWrapper

from hitl_core import ApprovalStore, AuditKind, Decision
from hitl_core.outcomes import RunTool, rejection_text, tool_result
from hitl_core.stores import CallStatus
from tests.openai_agents.native_helpers import (
    ALL_KINDS,
    DELETE,
    REVIEWER,
    UPDATE,
    completed,
    kinds,
    patch,
    paused,
    shown,
)
from tests.openai_agents.tools_app import TOLD, build, ledger_entries


def test_an_apply_patch_tool_marked_needs_approval_pauses_and_edits_once_when_approved(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[patch(UPDATE)], TOLD], "tools": {"patch": True}}
    runner = build(sqlite_store, ledger, spec)
    outcome = paused(runner.start("Fix the notes"))
    [request] = outcome.requests
    assert request.action.tool == "apply_patch"
    assert request.action.args == {"operations": [UPDATE]}
    assert request.allowed == ALL_KINDS
    assert ledger_entries(ledger) == []

    sqlite_store.decide(request.id, Decision.approve(by=REVIEWER))
    done = completed(runner.resume(outcome.run_id))
    assert ledger_entries(ledger) == [{"tool": "apply_patch", "args": UPDATE}]
    assert shown(done) == {"p1": "updated notes.txt"}
    assert sqlite_store.calls(outcome.run_id)["p1"].status is CallStatus.EXECUTED
    assert kinds(sqlite_store, outcome.run_id).count(AuditKind.EXECUTED) == 1


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_an_apply_patch_callable_needs_approval_pauses_only_the_operations_it_flags(
    tmp_path: Path, sqlite_store: ApprovalStore, asynchronous: bool
) -> None:
    from tests.openai_agents.tools_app import patch_tool

    def deletes(_: RunContextWrapper[Any], operation: Any, __: str) -> bool:
        return bool(operation.type == "delete_file")

    async def deletes_async(ctx: RunContextWrapper[Any], operation: Any, call_id: str) -> bool:
        return deletes(ctx, operation, call_id)

    ledger = tmp_path / "ledger.jsonl"
    tool = patch_tool(ledger, deletes_async if asynchronous else deletes)
    turns = [[patch(UPDATE, "p1"), patch(DELETE, "p2")], TOLD]
    runner = build(sqlite_store, ledger, {"turns": turns}, tools=[tool])
    outcome = paused(runner.start("Tidy"))
    assert [r.action.call_id for r in outcome.requests] == ["p2"]
    assert ledger_entries(ledger) == [{"tool": "apply_patch", "args": UPDATE}]
    sqlite_store.decide(outcome.requests[0].id, Decision.reject(by=REVIEWER))
    done = completed(runner.resume(outcome.run_id))
    assert ledger_entries(ledger) == [{"tool": "apply_patch", "args": UPDATE}]
    assert shown(done)["p2"] == rejection_text("apply_patch", None)


def test_the_policy_gates_apply_patch_by_its_name_and_an_edit_applies_the_reviewers_diff(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {
        "turns": [[patch(UPDATE)], TOLD],
        "tools": {"patch": False},
        "policy": {"rules": {"apply_patch": "always"}},
    }
    runner = build(sqlite_store, ledger, spec)
    outcome = paused(runner.start("Fix"))
    edited = {"operations": [{**UPDATE, "diff": "@@\n-old\n+newer\n"}]}
    sqlite_store.decide(outcome.requests[0].id, Decision.edit(edited, by=REVIEWER))
    done = completed(runner.resume(outcome.run_id))
    assert ledger_entries(ledger) == [{"tool": "apply_patch", "args": edited["operations"][0]}]
    expected = tool_result(RunTool(edited, True, None, "apply_patch"), "updated notes.txt")
    assert shown(done) == {"p1": expected}


def test_a_respond_answers_an_apply_patch_call_without_editing_anything(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[patch(DELETE)], TOLD], "tools": {"patch": True}}
    runner = build(sqlite_store, ledger, spec)
    outcome = paused(runner.start("Delete"))
    answer = {"type": "respond", "answer": "Keep that file.", "by": REVIEWER}
    sqlite_store.decide(outcome.requests[0].id, answer)
    done = completed(runner.resume(outcome.run_id))
    assert ledger_entries(ledger) == []
    assert shown(done) == {"p1": "Keep that file."}


def test_a_multi_operation_patch_is_one_call_and_an_edit_replaces_all_its_operations(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """The SDK hands the editor each operation; the ledger runs the reviewed ones once."""
    from openai.types.responses import ResponseApplyPatchToolCall

    from hitl_openai_agents import ScriptedModel
    from tests.openai_agents.tools_app import patch_tool, quote_last

    ledger = tmp_path / "ledger.jsonl"
    create = {"type": "create_file", "path": "a.txt", "diff": "+a\n"}
    both = ResponseApplyPatchToolCall.model_validate(
        {
            "id": "ap_p1",
            "call_id": "p1",
            "type": "apply_patch_call",
            "status": "completed",
            "operation": UPDATE,
            "operations": [UPDATE, create],  # the SDK reads a list of operations first
        }
    )
    runner = build(sqlite_store, ledger, {"turns": []}, tools=[patch_tool(ledger, True)])
    runner.agent.model = ScriptedModel([[both], quote_last])
    outcome = paused(runner.start("Two edits"))
    [request] = outcome.requests
    assert request.action.args == {"operations": [UPDATE, create]}
    edited = {"operations": [DELETE]}
    sqlite_store.decide(request.id, Decision.edit(edited, by=REVIEWER))
    done = completed(runner.resume(outcome.run_id))
    assert ledger_entries(ledger) == [{"tool": "apply_patch", "args": DELETE}]
    expected = tool_result(RunTool(edited, True, None, "apply_patch"), "deleted secrets.txt")
    assert shown(done) == {"p1": expected}
    assert kinds(sqlite_store, outcome.run_id).count(AuditKind.EXECUTED) == 1


def test_an_editor_operation_no_released_call_proposed_is_refused_and_noted(
    tmp_path: Path,
) -> None:
    """Fail closed: the gated editor runs nothing it cannot tie to a call the runner let
    through, and notes the refusal for the runner (the SDK would only tell the model)."""
    import asyncio

    from agents import ApplyPatchOperation

    from hitl_core import CallRefused, open_store
    from hitl_core.calls import AsyncRunPass
    from hitl_core.stores.awaitable import AwaitableStore
    from hitl_openai_agents.native import GatedEditor
    from hitl_openai_agents.scope import ADAPTER, RunScope, active_scope
    from tests.openai_agents.tools_app import Editor

    ledger = tmp_path / "ledger.jsonl"
    store = open_store("memory://")

    async def scenario() -> RunScope:
        async with AsyncRunPass(store, "run-1", adapter=ADAPTER) as run:
            await run.acreate("", {})
            scope = RunScope("run-1", AwaitableStore(store), await run.acalls({}))
            editor = GatedEditor("apply_patch", Editor(ledger))
            stray = ApplyPatchOperation(type="delete_file", path="secrets.txt")
            with active_scope(scope), pytest.raises(CallRefused, match="no released call"):
                await editor.delete_file(stray)
            return scope

    scope = asyncio.run(scenario())
    assert [type(error) for error in scope.raised] == [CallRefused]
    assert ledger_entries(ledger) == []
    assert store.calls("run-1") == {}
