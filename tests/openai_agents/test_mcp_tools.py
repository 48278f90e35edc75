"""MCP tools on the real Runner: a local server over stdio, and a hosted server's approvals.

The local server (`mcp_files_server.py`) records every call it runs in the ledger file;
the hosted server runs on OpenAI's side, so its runs are what the model was sent back: the
``mcp_approval_response`` items (`approvals_sent`) and the scripted ``mcp_call`` results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from agents import HostedMCPTool, MCPToolApprovalFunctionResult, MCPToolApprovalRequest

from hitl_core import ApprovalStore, Decision, DecisionNotAllowed, RequestStatus
from hitl_core.outcomes import RunTool, rejection_text, tool_result
from hitl_core.stores import CallStatus
from hitl_openai_agents import ApprovalRunner, Completed, Paused
from hitl_openai_agents.mcp import GatedHostedMCPTool
from tests.openai_agents.tools_app import (
    LABEL,
    TOLD,
    approvals_sent,
    build,
    hosted_tool,
    ledger_entries,
    mcp_server,
    told,
)

REVIEWER = "ana@example.com"
DELETE = {"kind": "call", "id": "m1", "name": "delete_file", "args": {"path": "old.log"}}


def paused(outcome: Any) -> Paused:
    assert isinstance(outcome, Paused), outcome
    return outcome


def completed(outcome: Any) -> Completed:
    assert isinstance(outcome, Completed), outcome
    return outcome


def with_server(
    ledger: Path, require_approval: Any, scenario: Callable[[Any], Awaitable[None]]
) -> None:
    async def main() -> None:
        async with mcp_server(ledger, require_approval) as server:
            await scenario(server)

    asyncio.run(main())


# -- local MCP servers ----------------------------------------------------------------


def test_a_local_mcp_tool_requiring_approval_pauses_and_runs_once_when_approved(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """``require_approval="always"``, empty policy: asked, then run once, through the ledger."""
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[DELETE], TOLD]}

    async def scenario(server: Any) -> None:
        runner = build(sqlite_store, ledger, spec, servers=[server])
        outcome = paused(await runner.astart("Clean the logs"))
        [request] = outcome.requests
        assert (request.action.tool, request.action.args) == ("delete_file", {"path": "old.log"})
        assert request.reason == "the tool delete_file requires approval (its own needs_approval)"
        assert request.allowed == ("approve", "edit", "reject", "respond")
        assert request.action.args_schema is not None
        assert request.action.args_schema["required"] == ["path"]
        assert ledger_entries(ledger) == []
        sqlite_store.decide(request.id, Decision.approve(by=REVIEWER))
        done = completed(await runner.aresume(outcome.run_id))
        assert told(done.result.to_input_list()) == {"m1": "deleted old.log"}
        record = sqlite_store.calls(outcome.run_id)["m1"]
        assert (record.status, record.output) == (CallStatus.EXECUTED, "deleted old.log")

    with_server(ledger, "always", scenario)
    assert ledger_entries(ledger) == [{"tool": "delete_file", "args": {"path": "old.log"}}]


def test_the_policy_gates_a_local_mcp_tool_its_server_lets_through(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[DELETE], TOLD], "policy": {"rules": {"delete_file": "always"}}}

    async def scenario(server: Any) -> None:
        outcome = paused(await build(sqlite_store, ledger, spec, servers=[server]).astart("Go"))
        assert [r.action.tool for r in outcome.requests] == ["delete_file"]

    with_server(ledger, "never", scenario)
    assert ledger_entries(ledger) == []


def test_a_policy_exempting_a_local_mcp_tool_cannot_remove_its_servers_gate(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[DELETE], TOLD], "policy": {"rules": {"delete_file": "never"}}}

    async def scenario(server: Any) -> None:
        outcome = paused(await build(sqlite_store, ledger, spec, servers=[server]).astart("Go"))
        assert len(outcome.requests) == 1

    with_server(ledger, {"delete_file": "always"}, scenario)
    assert ledger_entries(ledger) == []


@pytest.mark.parametrize("kind", ["reject", "edit", "respond"])
def test_a_local_mcp_call_is_rejected_edited_or_answered_as_decided(
    tmp_path: Path, sqlite_store: ApprovalStore, kind: str
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    spec = {"turns": [[DELETE], TOLD]}
    decisions: dict[str, Any] = {
        "reject": Decision.reject(by=REVIEWER, feedback="keep logs"),
        "edit": Decision.edit({"path": "older.log"}, by=REVIEWER),
        "respond": {"type": "respond", "answer": "Already gone.", "by": REVIEWER},
    }
    expected_told = {
        "reject": rejection_text("delete_file", "keep logs"),
        "edit": tool_result(
            RunTool({"path": "older.log"}, True, None, "delete_file"), "deleted older.log"
        ),
        "respond": "Already gone.",
    }

    async def scenario(server: Any) -> None:
        runner = build(sqlite_store, ledger, spec, servers=[server])
        outcome = paused(await runner.astart("Go"))
        sqlite_store.decide(outcome.requests[0].id, decisions[kind])
        done = completed(await runner.aresume(outcome.run_id))
        assert told(done.result.to_input_list()) == {"m1": expected_told[kind]}

    with_server(ledger, "always", scenario)
    ran = [{"tool": "delete_file", "args": {"path": "older.log"}}] if kind == "edit" else []
    assert ledger_entries(ledger) == ran


# -- hosted MCP servers ---------------------------------------------------------------


def request_issue(name: str = "create_issue", call_id: str = "mcpr_1") -> dict[str, Any]:
    return {"kind": "mcp_request", "id": call_id, "name": name, "args": {"title": "Crash"}}


def issue_created(call_id: str = "mcpr_1") -> dict[str, Any]:
    return {
        "kind": "mcp_call",
        "id": "mcp_1",
        "name": "create_issue",
        "args": {"title": "Crash"},
        "output": "issue 7 created",
        "approval_request_id": call_id,
    }


def hosted_config(runner: ApprovalRunner) -> dict[str, Any]:
    [tool] = [t for t in runner.agent.tools if isinstance(t, HostedMCPTool)]
    return dict(tool.tool_config)


def test_a_hosted_mcp_approval_request_pauses_and_approving_sends_one_approval(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    spec = {
        "turns": [[request_issue()], [issue_created()], TOLD],
        "tools": {"hosted": "always"},
    }
    runner = build(sqlite_store, tmp_path / "ledger.jsonl", spec)
    outcome = paused(runner.start("File the crash"))
    [request] = outcome.requests
    assert (request.action.tool, request.action.args) == ("create_issue", {"title": "Crash"})
    assert request.reason == f"the hosted MCP server {LABEL} asks"
    assert request.allowed == ("approve", "reject")
    sqlite_store.decide(request.id, Decision.approve(by=REVIEWER))
    done = completed(runner.resume(outcome.run_id))
    items = done.result.to_input_list()
    assert approvals_sent(items) == [("mcpr_1", True)]
    assert told(items)["mcp_1"] == "issue 7 created"
    assert done.output == "Told: issue 7 created"
    assert sqlite_store.get(request.id).status is RequestStatus.RESUMED


def test_a_rejected_hosted_mcp_call_is_refused_with_the_rejection_text(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    spec = {"turns": [[request_issue()], TOLD], "tools": {"hosted": "always"}}
    runner = build(sqlite_store, tmp_path / "ledger.jsonl", spec)
    outcome = paused(runner.start("File it"))
    request = outcome.requests[0]
    with pytest.raises(DecisionNotAllowed):
        sqlite_store.decide(request.id, {"type": "respond", "answer": "no", "by": REVIEWER})
    sqlite_store.decide(request.id, Decision.reject(by=REVIEWER, feedback="duplicate"))
    done = completed(runner.resume(outcome.run_id))
    items = done.result.to_input_list()
    assert approvals_sent(items) == [("mcpr_1", False)]
    assert told(items)["mcpr_1"] == f"rejected: {rejection_text('create_issue', 'duplicate')}"


def test_the_policy_gates_a_hosted_mcp_tool_its_server_config_lets_run(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """``require_approval="never"``: the gated copy has the API ask, and the policy decides."""
    spec = {
        "turns": [[request_issue()], [issue_created()], TOLD],
        "tools": {"hosted": "never"},
        "policy": {"rules": {"create_issue": "always"}},
    }
    runner = build(sqlite_store, tmp_path / "ledger.jsonl", spec)
    assert hosted_config(runner)["require_approval"] == "always"
    outcome = paused(runner.start("File it"))
    assert [r.action.tool for r in outcome.requests] == ["create_issue"]
    assert outcome.requests[0].reason == "always requires approval"


def test_hosted_calls_neither_the_server_nor_the_policy_gates_are_approved_unasked(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    spec = {
        "turns": [[request_issue("list_issues")], "Listed."],
        "tools": {"hosted": "never"},
        "policy": {"rules": {"create_issue": "always"}},
    }
    runner = build(sqlite_store, tmp_path / "ledger.jsonl", spec)
    done = completed(runner.start("List"))
    assert approvals_sent(done.result.to_input_list()) == [("mcpr_1", True)]
    assert sqlite_store.list_requests(status=None).items == []


def test_a_policy_that_cannot_gate_a_hosted_server_leaves_its_config_alone(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    """No extra model round trip when no rule could name a tool the server may run."""
    plain = build(sqlite_store, tmp_path / "l", {"turns": [], "tools": {"hosted": "never"}})
    assert hosted_config(plain)["require_approval"] == "never"
    listed = hosted_tool("never")
    listed.tool_config["allowed_tools"] = ["list_issues"]
    spec = {"turns": [], "policy": {"rules": {"create_issue": "always"}}}
    narrowed = build(sqlite_store, tmp_path / "l", spec, tools=[listed])
    assert hosted_config(narrowed)["require_approval"] == "never"
    spec = {"turns": [], "policy": {"rules": {"list_issues": "always"}}}
    gated = build(sqlite_store, tmp_path / "l", spec, tools=[hosted_tool("never")])
    assert hosted_config(gated)["require_approval"] == "always"


def test_a_policy_exempting_a_hosted_tool_cannot_remove_its_servers_gate(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    spec = {
        "turns": [[request_issue()], TOLD],
        "tools": {"hosted": {"always": {"tool_names": ["create_issue"]}}},
        "policy": {"rules": {"create_issue": "never"}},
    }
    outcome = paused(build(sqlite_store, tmp_path / "ledger.jsonl", spec).start("File it"))
    assert [r.action.tool for r in outcome.requests] == ["create_issue"]


def test_a_hosted_tools_own_approval_callback_still_decides_what_its_config_asks(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    answers: list[str] = []

    def callback(request: MCPToolApprovalRequest) -> MCPToolApprovalFunctionResult:
        answers.append(request.data.name)
        return {"approve": False, "reason": "read-only today"}

    tool = hosted_tool("always")
    tool.on_approval_request = callback
    spec = {"turns": [[request_issue()], TOLD]}
    runner = build(sqlite_store, tmp_path / "ledger.jsonl", spec, tools=[tool])
    assert isinstance(runner.agent.tools[0], GatedHostedMCPTool)
    done = completed(runner.start("File it"))
    assert answers == ["create_issue"]
    [(request_id, approved)] = approvals_sent(done.result.to_input_list())
    assert (request_id, approved) == ("mcpr_1", False)
    assert "read-only today" in told(done.result.to_input_list())["mcpr_1"]
    assert sqlite_store.list_requests(status=None).items == []


def test_a_state_waiting_on_a_hosted_server_this_graph_lacks_is_refused_unchanged(
    tmp_path: Path, sqlite_store: ApprovalStore
) -> None:
    from hitl_openai_agents import AgentGraphMismatch

    spec = {"turns": [[request_issue()], TOLD], "tools": {"hosted": "always"}}
    outcome = paused(build(sqlite_store, tmp_path / "l", spec).start("File it"))
    before = sqlite_store.load_run(outcome.run_id)
    other = build(sqlite_store, tmp_path / "l", {"turns": spec["turns"], "tools": {}})
    with pytest.raises(AgentGraphMismatch) as caught:
        other.resume(outcome.run_id)
    assert caught.value.missing == [f"hosted MCP server {LABEL!r} on agent 'ops'"]
    assert sqlite_store.load_run(outcome.run_id) == before


def test_the_hosted_servers_own_filter_asks_for_the_tools_it_names_and_unlisted_ones() -> None:
    from hitl_openai_agents.mcp import hosted_flag

    tool = hosted_tool({"never": {"tool_names": ["list_issues"]}})
    assert hosted_flag(tool, "list_issues") is False
    assert hosted_flag(tool, "create_issue") is True  # not listed: fail closed
    assert hosted_flag(hosted_tool("never"), "create_issue") is False
    assert hosted_flag(hosted_tool({"always": {"read_only": True}}), "x") is True
