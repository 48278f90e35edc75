"""The payments agent the Agents SDK adapter tests drive, importable by a fresh process.

Tools append to a JSON-lines ledger file, so any process can see what really executed.
Run as ``python -m tests.openai_agents.payments_app STORE_URL LEDGER SCRIPT_JSON RUN_ID``
it resumes the run and prints the outcome as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from agents import Agent, RunConfig, Tool, function_tool

from hitl_core import ApprovalStore, Policy, arg
from hitl_openai_agents import ApprovalRunner, AsyncApprovalStore, Completed, Outcome, Paused
from hitl_openai_agents.scripted import ScriptedModel, Turn, call

POLICY = Policy({"send_payment": arg("amount") > 1000})
"""Payments over 1,000 need a human; `send_payment` takes a float ``amount``."""

Script = dict[str, Any]
"""``{"turns": [...], "agents": {name: [...]}}``: a string is a final answer, a list of
``{"id", "name", "args"}`` is one tool-calling turn (in-process tests may also give a
callable final answer)."""


def turns_from_data(data: list[Any]) -> list[Turn]:
    return [
        step
        if isinstance(step, str) or callable(step)
        else [call(c["name"], c["args"], id=c["id"]) for c in step]
        for step in data
    ]


def payments_tools(ledger: Path) -> list[Tool]:
    def write(tool: str, args: dict[str, Any]) -> None:
        with ledger.open("a") as f:
            f.write(json.dumps({"tool": tool, "args": args}) + "\n")

    @function_tool
    def send_payment(amount: float, recipient: str) -> str:
        """Send money to a recipient."""
        write("send_payment", {"amount": amount, "recipient": recipient})
        return f"paid {amount:.2f} to {recipient}"

    @function_tool
    def get_balance() -> str:
        """The account balance."""
        write("get_balance", {})
        return "balance: 10000.00"

    return [send_payment, get_balance]


def build_agent(ledger: Path, script: Script, name: str = "payments") -> Agent[Any]:
    """The root agent of `script`, with its sub-agents offered as tools."""
    subs = [
        Agent(
            name=sub, model=ScriptedModel(turns_from_data(turns)), tools=payments_tools(ledger)
        ).as_tool(sub, f"The {sub} sub-agent.")
        for sub, turns in script.get("agents", {}).items()
    ]
    return Agent(
        name=name,
        model=ScriptedModel(turns_from_data(script["turns"])),
        tools=[*payments_tools(ledger), *subs],
    )


def build(
    store: ApprovalStore | AsyncApprovalStore | str,
    ledger: Path,
    script: Script,
    policy: Policy = POLICY,
    **options: Any,
) -> ApprovalRunner:
    return ApprovalRunner(
        build_agent(ledger, script),
        policy=policy,
        store=store,
        run_config=RunConfig(tracing_disabled=True),
        **options,
    )


def ledger_entries(ledger: Path) -> list[dict[str, Any]]:
    if not ledger.exists():
        return []
    return [json.loads(line) for line in ledger.read_text().splitlines()]


def outcome_data(outcome: Outcome) -> dict[str, Any]:
    """The outcome as JSON data: what a fresh process reports back."""
    if isinstance(outcome, Paused):
        return {"status": "paused", "requests": [r.id for r in outcome.requests]}
    assert isinstance(outcome, Completed)
    return {"status": "completed", "output": outcome.output}


if __name__ == "__main__":
    store_url, ledger_path, script_json, run_id = sys.argv[1:5]
    runner = build(store_url, Path(ledger_path), json.loads(script_json))
    print(json.dumps(outcome_data(runner.resume(run_id))))
