"""Every tool kind the gate covers pauses here and is resumed by another Python process.

The child (``python -m tests.openai_agents.tools_app``) shares only the SQLite file and the
ledger file: it rebuilds the agent (connecting its own MCP server where one is used),
reloads the paused run, applies the decision and runs the call exactly once.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hitl_core import AuditKind, Decision, RequestStatus, RunStatus, open_store
from hitl_core.outcomes import rejection_text
from hitl_openai_agents import Paused
from tests.openai_agents.tools_app import TOLD, build, ledger_entries, mcp_server

ROOT = Path(__file__).parents[2]
REVIEWER = "ana@example.com"

CASES: dict[str, dict[str, Any]] = {
    "function": {
        "spec": {
            "turns": [
                [{"kind": "call", "id": "c1", "name": "archive", "args": {"name": "x"}}],
                TOLD,
            ],
            "tools": {"function": True},
        },
        "ran": [{"tool": "archive", "args": {"name": "x"}}],
        "told": {"c1": "archived x"},
    },
    "shell": {
        "spec": {
            "turns": [[{"kind": "shell", "id": "c1", "commands": ["make clean"]}], TOLD],
            "tools": {"shell": True},
        },
        "ran": [{"tool": "shell", "args": {"commands": ["make clean"]}}],
        "told": {"c1": "ran: make clean"},
    },
    "apply_patch": {
        "spec": {
            "turns": [
                [{"kind": "patch", "id": "c1", "operation": {"type": "delete_file", "path": "a"}}],
                TOLD,
            ],
            "tools": {"patch": False},
            "policy": {"rules": {"apply_patch": "always"}},
        },
        "ran": [{"tool": "apply_patch", "args": {"type": "delete_file", "path": "a"}}],
        "told": {"c1": "deleted a"},
    },
    "local_mcp": {
        "spec": {
            "turns": [
                [{"kind": "call", "id": "c1", "name": "delete_file", "args": {"path": "a"}}],
                TOLD,
            ],
            "tools": {"mcp": "always"},
        },
        "ran": [{"tool": "delete_file", "args": {"path": "a"}}],
        "told": {"c1": "deleted a"},
    },
    "hosted_mcp": {
        "spec": {
            "turns": [
                [{"kind": "mcp_request", "id": "c1", "name": "create_issue", "args": {}}],
                [
                    {
                        "kind": "mcp_call",
                        "id": "mcp_1",
                        "name": "create_issue",
                        "output": "issue 7",
                        "approval_request_id": "c1",
                    }
                ],
                TOLD,
            ],
            "tools": {"hosted": "never"},
            "policy": {"rules": {"create_issue": "always"}},
        },
        "ran": [],  # it runs on the hosted server: what ran is the approval sent back
        "told": {"c1": "approved", "mcp_1": "issue 7"},
    },
}


def start(store_url: str, ledger: Path, spec: dict[str, Any]) -> Paused:
    async def main() -> Any:
        if "mcp" in spec.get("tools", {}):
            async with mcp_server(ledger, spec["tools"]["mcp"]) as server:
                return await build(store_url, ledger, spec, servers=[server]).astart("Go")
        return await build(store_url, ledger, spec).astart("Go")

    outcome = asyncio.run(main())
    assert isinstance(outcome, Paused), outcome
    return outcome


def resume_elsewhere(store_url: str, ledger: Path, spec: dict[str, Any], run_id: str) -> Any:
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.openai_agents.tools_app",
            store_url,
            str(ledger),
            json.dumps(spec),
            run_id,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", list(CASES))
def test_each_tool_kind_resumes_in_a_fresh_process_and_runs_once(tmp_path: Path, kind: str) -> None:
    case = CASES[kind]
    store_url = f"sqlite:///{tmp_path / 'hitl.db'}"
    ledger = tmp_path / "ledger.jsonl"
    outcome = start(store_url, ledger, case["spec"])
    store = open_store(store_url)
    [request] = outcome.requests
    assert request.action.call_id == "c1"
    assert ledger_entries(ledger) == []
    store.decide(request.id, Decision.approve(by=REVIEWER))

    done = resume_elsewhere(store_url, ledger, case["spec"], outcome.run_id)
    assert done["status"] == "completed"
    assert {k: v for k, v in done["told"].items() if k in case["told"]} == case["told"]
    assert ledger_entries(ledger) == case["ran"]
    assert store.get(request.id).status is RequestStatus.RESUMED
    assert store.load_run(outcome.run_id).status is RunStatus.COMPLETED
    executed = [e for e in store.audit(run_id=outcome.run_id) if e.kind is AuditKind.EXECUTED]
    assert len(executed) == len(case["ran"])
    store.close()


def test_a_rejection_applied_in_a_fresh_process_runs_no_shell_command(tmp_path: Path) -> None:
    spec = CASES["shell"]["spec"]
    store_url = f"sqlite:///{tmp_path / 'hitl.db'}"
    ledger = tmp_path / "ledger.jsonl"
    outcome = start(store_url, ledger, spec)
    store = open_store(store_url)
    store.decide(outcome.requests[0].id, Decision.reject(by=REVIEWER, feedback="not today"))
    done = resume_elsewhere(store_url, ledger, spec, outcome.run_id)
    assert done["told"] == {"c1": rejection_text("shell", "not today")}
    assert ledger_entries(ledger) == []
    assert store.calls(outcome.run_id) == {}
    store.close()
