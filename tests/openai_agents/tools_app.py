"""Agents with every tool kind the gate covers, for the tool-kind tests and a fresh process.

Each tool appends what it runs to a JSON-lines ledger file (`ledger_entries`), so any
process can see what really executed: a function tool ``archive(name)``, a `ShellTool`
whose executor records its commands, an `ApplyPatchTool` whose editor records its
operations, a local MCP server over stdio (`mcp_files_server.py`), and a hosted MCP server
(`HostedMCPTool`, driven by the scripted model's ``mcp_approval_request`` / ``mcp_call``
items; no network). Run as
``python -m tests.openai_agents.tools_app STORE_URL LEDGER SPEC_JSON RUN_ID`` it resumes
the run and prints the outcome and what the model was told as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agents import (
    Agent,
    ApplyPatchOperation,
    ApplyPatchTool,
    FunctionTool,
    HostedMCPTool,
    RunConfig,
    ShellCommandRequest,
    ShellTool,
    Tool,
    TResponseInputItem,
    function_tool,
)
from agents.mcp import MCPServer, MCPServerStdio

from hitl_core import ApprovalStore, Policy
from hitl_openai_agents import ApprovalRunner, Completed, Outcome, Paused, tool_outputs
from hitl_openai_agents.scripted import (
    ScriptedModel,
    Turn,
    call,
    mcp_approval_request,
    mcp_call,
    patch_call,
    shell_call,
)
from tests.openai_agents.payments_app import ledger_entries

__all__ = ["approvals_sent", "build", "ledger_entries", "mcp_server", "told", "turns_of"]

SERVER_SCRIPT = Path(__file__).with_name("mcp_files_server.py")
LABEL = "tracker"
"""The hosted MCP server's label."""
TOLD = "<told>"
"""A final answer that quotes the last tool result the model was shown."""

Spec = dict[str, Any]
"""``{"turns": [...], "tools": {...}, "policy": {...}}``: turns are strings (``"<told>"``
quotes the last result) or lists of ``{"kind": "shell" | "patch" | "call" |
"mcp_request" | "mcp_call", ...}``; tools say which to offer and their own approval
settings; policy is `Policy.from_data` data."""


def record(ledger: Path, tool: str, args: dict[str, Any]) -> None:
    with ledger.open("a") as f:
        f.write(json.dumps({"tool": tool, "args": args}) + "\n")


def archive_tool(ledger: Path, needs_approval: Any = False) -> FunctionTool:
    """A function tool ``archive(name)`` with its own ``needs_approval``."""

    def archive(name: str) -> str:
        """Archive a project."""
        record(ledger, "archive", {"name": name})
        return f"archived {name}"

    return function_tool(archive, needs_approval=needs_approval)


def shell_tool(ledger: Path, needs_approval: Any = False) -> ShellTool:
    def execute(request: ShellCommandRequest) -> str:
        commands = list(request.data.action.commands)
        record(ledger, "shell", {"commands": commands})
        return "ran: " + "; ".join(commands)

    return ShellTool(executor=execute, needs_approval=needs_approval)


class Editor:
    """An apply_patch editor that records each operation instead of touching files."""

    def __init__(self, ledger: Path) -> None:
        self.ledger = ledger

    def _apply(self, verb: str, op: ApplyPatchOperation) -> str:
        args = {"type": op.type, "path": op.path}
        if op.diff is not None:
            args["diff"] = op.diff
        record(self.ledger, "apply_patch", args)
        return f"{verb} {op.path}"

    def create_file(self, op: ApplyPatchOperation) -> str:
        return self._apply("created", op)

    def update_file(self, op: ApplyPatchOperation) -> str:
        return self._apply("updated", op)

    def delete_file(self, op: ApplyPatchOperation) -> str:
        return self._apply("deleted", op)


def patch_tool(ledger: Path, needs_approval: Any = False) -> ApplyPatchTool:
    return ApplyPatchTool(editor=Editor(ledger), needs_approval=needs_approval)


def hosted_tool(require_approval: Any = "never") -> HostedMCPTool:
    return HostedMCPTool(
        tool_config={
            "type": "mcp",
            "server_label": LABEL,
            "server_url": "https://mcp.example.invalid/sse",
            "require_approval": require_approval,
        }
    )


@asynccontextmanager
async def mcp_server(ledger: Path, require_approval: Any = None) -> AsyncIterator[MCPServer]:
    """The local MCP files server over stdio, connected for the block."""
    server = MCPServerStdio(
        params={"command": sys.executable, "args": [str(SERVER_SCRIPT), str(ledger)]},
        cache_tools_list=True,
        require_approval=require_approval,
        client_session_timeout_seconds=30,
    )
    async with server:
        yield server


def quote_last(items: list[TResponseInputItem]) -> str:
    """The final answer quoting the last result shown (a tool's, or a hosted approval's)."""
    shown = told(items)
    return f"Told: {list(shown.values())[-1] if shown else '(nothing)'}"


def told(items: list[Any]) -> dict[str, str]:
    """What the model was shown per call id: tool results; for a hosted MCP approval
    request the answer it got back (``approved``, or ``rejected: <reason>``); for a hosted
    MCP call (by its own id) the hosted server's output."""
    shown = tool_outputs(items)
    for item in items:
        if item.get("type") == "mcp_approval_response":
            reason = item.get("reason")
            answer = "approved" if item.get("approve") else f"rejected: {reason}"
            shown[str(item.get("approval_request_id"))] = answer
        elif item.get("type") == "mcp_call":
            shown[str(item.get("id"))] = str(item.get("output"))
    return shown


def approvals_sent(items: list[Any]) -> list[tuple[str, bool]]:
    """The hosted MCP approval responses in the conversation: (request id, approved)."""
    return [
        (str(i.get("approval_request_id")), bool(i.get("approve")))
        for i in items
        if i.get("type") == "mcp_approval_response"
    ]


def turns_of(data: list[Any]) -> list[Turn]:
    turns: list[Turn] = []
    for step in data:
        if step == TOLD:
            turns.append(quote_last)
        elif isinstance(step, str):
            turns.append(step)
        else:
            turns.append([_item(spec) for spec in step])
    return turns


def _item(spec: dict[str, Any]) -> Any:
    kind, call_id = spec["kind"], spec["id"]
    if kind == "shell":
        return shell_call(spec["commands"], id=call_id)
    if kind == "patch":
        return patch_call(spec["operation"], id=call_id)
    if kind == "mcp_request":
        return mcp_approval_request(LABEL, spec["name"], spec.get("args"), id=call_id)
    if kind == "mcp_call":
        return mcp_call(
            LABEL,
            spec["name"],
            spec.get("args"),
            id=call_id,
            output=spec["output"],
            approval_request_id=spec.get("approval_request_id"),
        )
    return call(spec["name"], spec.get("args"), id=call_id)


def tools_of(ledger: Path, settings: dict[str, Any]) -> list[Tool]:
    tools: list[Tool] = []
    if "function" in settings:
        tools.append(archive_tool(ledger, settings["function"]))
    if "shell" in settings:
        tools.append(shell_tool(ledger, settings["shell"]))
    if "patch" in settings:
        tools.append(patch_tool(ledger, settings["patch"]))
    if "hosted" in settings:
        tools.append(hosted_tool(settings["hosted"]))
    return tools


def build(
    store: ApprovalStore | str,
    ledger: Path,
    spec: Spec,
    *,
    servers: list[MCPServer] | None = None,
    tools: list[Tool] | None = None,
) -> ApprovalRunner:
    """A runner for `spec`: the tools it names (or `tools`), its policy, its script."""
    agent = Agent(
        name="ops",
        model=ScriptedModel(turns_of(spec["turns"])),
        tools=tools if tools is not None else tools_of(ledger, spec.get("tools", {})),
        mcp_servers=servers or [],
    )
    policy = Policy.from_data(spec.get("policy", {}))
    return ApprovalRunner(
        agent, policy=policy, store=store, run_config=RunConfig(tracing_disabled=True)
    )


def outcome_data(outcome: Outcome) -> dict[str, Any]:
    """The outcome as JSON data, with what the model was told on completion."""
    if isinstance(outcome, Paused):
        return {"status": "paused", "requests": [r.id for r in outcome.requests]}
    assert isinstance(outcome, Completed)
    items = outcome.result.to_input_list()
    return {"status": "completed", "output": outcome.output, "told": told(items)}


async def _resume(store_url: str, ledger: Path, spec: Spec, run_id: str) -> dict[str, Any]:
    if "mcp" in spec.get("tools", {}):
        async with mcp_server(ledger, spec["tools"]["mcp"]) as server:
            outcome = await build(store_url, ledger, spec, servers=[server]).aresume(run_id)
    else:
        outcome = await build(store_url, ledger, spec).aresume(run_id)
    return outcome_data(outcome)


if __name__ == "__main__":
    store_url, ledger_path, spec_json, run_id = sys.argv[1:5]
    data = asyncio.run(_resume(store_url, Path(ledger_path), json.loads(spec_json), run_id))
    print(json.dumps(data))
