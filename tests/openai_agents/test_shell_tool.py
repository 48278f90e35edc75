"""Shell tools on the real Runner: their own flags, the policy, each decision.

The SDK runs a `ShellTool` itself (no function invoker), so the gate wraps its executor;
every test counts what really ran from the tool's ledger file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agents import RunContextWrapper, ShellActionRequest, ShellTool, ToolApprovalItem
from agents.tool import ShellOnApprovalFunctionResult

from hitl_core import ApprovalStore, AuditKind, Decision, Policy, RequestStatus, arg, never
from hitl_core.outcomes import RunTool, rejection_text, tool_result
from hitl_core.stores import CallStatus
from hitl_openai_agents import ApprovalRunner, CannotGate
from hitl_openai_agents.calls import own_check_rejected
from tests.openai_agents.native_helpers import (
    ALL_KINDS,
    REVIEWER,
    completed,
    kinds,
    paused,
    shell,
    shown,
)
from tests.openai_agents.tools_app import TOLD, build, ledger_entries, shell_tool


def test_a_shell_tool_marked_needs_approval_pauses_and_runs_once_when_approved(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """``ShellTool(needs_approval=True)`` with an empty policy: a person is asked first."""
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[shell(["rm -rf build"])], TOLD], "tools": {"shell": True}}
    runner = build(sqlite_store, ledger, spec)
    outcome = paused(runner.start("Clean up"))
    [request] = outcome.requests
    assert request.action.tool == "shell"
    assert request.action.args == {"commands": ["rm -rf build"]}
    assert request.reason == "the tool shell requires approval (its own needs_approval)"
    assert request.allowed == ALL_KINDS
    assert ledger_entries(ledger) == []

    sqlite_store.decide(request.id, Decision.approve(by=REVIEWER))
    done = completed(runner.resume(outcome.run_id))
    assert ledger_entries(ledger) == [{"tool": "shell", "args": {"commands": ["rm -rf build"]}}]
    assert shown(done) == {"s1": "ran: rm -rf build"}
    record = sqlite_store.calls(outcome.run_id)["s1"]
    assert (record.status, record.request_id) == (CallStatus.EXECUTED, request.id)
    assert sqlite_store.get(request.id).status is RequestStatus.RESUMED
    trail = kinds(sqlite_store, outcome.run_id)
    assert trail.count(AuditKind.STARTED) == trail.count(AuditKind.EXECUTED) == 1
    assert trail.index(AuditKind.DECIDED) < trail.index(AuditKind.STARTED)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_shell_callable_needs_approval_pauses_only_the_calls_it_flags(
    tmp_path: Path, sqlite_store: ApprovalStore, asynchronous: bool
) -> None:
    """The tool's own predicate sees each call's action: ``ls`` runs, ``rm`` waits."""
    asked: list[list[str]] = []

    def destructive(_: RunContextWrapper[Any], action: ShellActionRequest, __: str) -> bool:
        asked.append(list(action.commands))
        return any(command.startswith("rm") for command in action.commands)

    async def destructive_async(
        ctx: RunContextWrapper[Any], action: ShellActionRequest, call_id: str
    ) -> bool:
        return destructive(ctx, action, call_id)

    ledger = tmp_path / "ledger.jsonl"
    needs = destructive_async if asynchronous else destructive
    turns = [[shell(["ls build"], "s1"), shell(["rm -rf build"], "s2")], TOLD]
    runner = build(sqlite_store, ledger, {"turns": turns}, tools=[shell_tool(ledger, needs)])
    outcome = paused(runner.start("Look, then clean"))
    assert [r.action.call_id for r in outcome.requests] == ["s2"]
    assert ledger_entries(ledger) == [{"tool": "shell", "args": {"commands": ["ls build"]}}]
    assert ["rm -rf build"] in asked
    assert ["ls build"] in asked
    assert sqlite_store.calls(outcome.run_id)["s1"].request_id is None

    sqlite_store.decide(outcome.requests[0].id, Decision.approve(by=REVIEWER))
    completed(runner.resume(outcome.run_id))
    assert [e["args"]["commands"] for e in ledger_entries(ledger)] == [
        ["ls build"],
        ["rm -rf build"],
    ]


def test_the_policy_gates_a_shell_tool_by_its_name(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """No own flag: a rule for ``shell`` adds the gate."""
    ledger = tmp_path / "ledger.jsonl"
    spec = {
        "turns": [[shell(["make deploy"])], TOLD],
        "tools": {"shell": False},
        "policy": {"rules": {"shell": "always"}},
    }
    outcome = paused(build(sqlite_store, ledger, spec).start("Deploy"))
    assert [r.action.tool for r in outcome.requests] == ["shell"]
    assert outcome.requests[0].reason != "the tool shell requires approval (its own needs_approval)"
    assert ledger_entries(ledger) == []


def test_a_policy_that_exempts_the_shell_tool_cannot_remove_its_own_gate(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {
        "turns": [[shell(["make deploy"])], TOLD],
        "tools": {"shell": True},
        "policy": {"rules": {"shell": "never"}},
    }
    outcome = paused(build(sqlite_store, ledger, spec).start("Deploy"))
    assert len(outcome.requests) == 1
    assert ledger_entries(ledger) == []


def test_a_rejected_shell_call_runs_nothing_and_the_model_reads_the_rejection(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[shell(["rm -rf /"])], TOLD], "tools": {"shell": True}}
    runner = build(sqlite_store, ledger, spec)
    outcome = paused(runner.start("Clean"))
    sqlite_store.decide(outcome.requests[0].id, Decision.reject(by=REVIEWER, feedback="never"))
    done = completed(runner.resume(outcome.run_id))
    assert ledger_entries(ledger) == []
    assert shown(done) == {"s1": rejection_text("shell", "never")}
    assert done.output == f"Told: {rejection_text('shell', 'never')}"
    assert sqlite_store.calls(outcome.run_id) == {}


def test_an_edited_shell_call_runs_the_reviewers_commands_and_says_so(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[shell(["rm -rf build"])], TOLD], "tools": {"shell": True}}
    runner = build(sqlite_store, ledger, spec)
    outcome = paused(runner.start("Clean"))
    edited = {"commands": ["rm -rf build/tmp"], "timeout_ms": 5000}
    sqlite_store.decide(outcome.requests[0].id, Decision.edit(edited, by=REVIEWER))
    done = completed(runner.resume(outcome.run_id))
    assert ledger_entries(ledger) == [{"tool": "shell", "args": {"commands": ["rm -rf build/tmp"]}}]
    expected = tool_result(RunTool(edited, True, None, "shell"), "ran: rm -rf build/tmp")
    assert shown(done) == {"s1": expected}
    assert sqlite_store.calls(outcome.run_id)["s1"].args == edited


def test_an_edit_outside_the_shell_schema_is_refused_and_the_request_stays_pending(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[shell(["ls"])], TOLD], "tools": {"shell": True}}
    outcome = paused(build(sqlite_store, ledger, spec).start("List"))
    request = outcome.requests[0]
    with pytest.raises(Exception, match="commands"):
        sqlite_store.decide(request.id, Decision.edit({"commands": "ls"}, by=REVIEWER))
    assert sqlite_store.get(request.id).status is RequestStatus.PENDING


def test_a_respond_answers_the_shell_call_without_running_it(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[shell(["cat /etc/shadow"])], TOLD], "tools": {"shell": True}}
    runner = build(sqlite_store, ledger, spec)
    outcome = paused(runner.start("Read"))
    answer = {"type": "respond", "answer": "You may not read that file.", "by": REVIEWER}
    sqlite_store.decide(outcome.requests[0].id, answer)
    done = completed(runner.resume(outcome.run_id))
    assert ledger_entries(ledger) == []
    assert shown(done) == {"s1": "You may not read that file."}


def test_a_shell_tools_own_on_approval_still_decides_what_its_flag_asks(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """Its callback's rejection stands (nobody asked); its approval lifts only its own gate."""
    ledger = tmp_path / "ledger.jsonl"
    base = shell_tool(ledger, True)

    def only_ls(_: RunContextWrapper[Any], item: ToolApprovalItem) -> ShellOnApprovalFunctionResult:
        raw: Any = item.raw_item  # the model's item, or its JSON after a reload
        action = raw["action"] if isinstance(raw, dict) else raw.action.model_dump()
        if action["commands"] == ["ls"]:
            return {"approve": True}
        return {"approve": False, "reason": "only ls"}

    tool = ShellTool(executor=base.executor, needs_approval=True, on_approval=only_ls)
    turns = [[shell(["ls"], "s1"), shell(["rm x"], "s2")], TOLD]
    gate_ls = Policy({"shell": arg("commands").contains("ls")})
    runner = build(sqlite_store, ledger, {"turns": turns}, tools=[tool])
    runner = ApprovalRunner(
        runner.agent, policy=gate_ls, store=sqlite_store, run_config=runner.run_config
    )
    outcome = paused(runner.start("Go"))
    assert [r.action.call_id for r in outcome.requests] == ["s1"]  # the policy's gate
    sqlite_store.decide(outcome.requests[0].id, Decision.approve(by=REVIEWER))
    done = completed(runner.resume(outcome.run_id))
    assert ledger_entries(ledger) == [{"tool": "shell", "args": {"commands": ["ls"]}}]
    assert shown(done)["s2"] == own_check_rejected("shell", "only ls")


def test_a_hosted_shell_the_policy_may_gate_is_refused_when_the_runner_is_built(
    sqlite_store: ApprovalStore, tmp_path: Path
) -> None:
    hosted = ShellTool(environment={"type": "container_auto"})
    with pytest.raises(CannotGate, match="'shell'"):
        build(
            sqlite_store,
            tmp_path / "l",
            {"turns": [], "policy": {"default": "always"}},
            tools=[hosted],
        )
    build(
        sqlite_store,
        tmp_path / "l",
        {"turns": [], "policy": {"rules": {"shell": never()}}},
        tools=[hosted],
    )
