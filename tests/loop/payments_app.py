"""The payments agent the loop tests drive, importable by a fresh Python process.

Tools write to a JSON-lines ledger file, so any process can see what really executed.
Run as ``python -m tests.loop.payments_app STORE_URL LEDGER SCRIPT_JSON RUN_ID`` it
resumes the run and prints the outcome as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hitl_core import Policy, arg
from hitl_loop import ScriptedModel, ToolCall, ToolLoop

POLICY = Policy({"send_payment": arg("amount") > 1000})


def script_from_data(data: list[Any]) -> ScriptedModel:
    """A script from JSON: a string is a final answer, a list of calls is one turn.

    A callable step (a test's flaky model turn) is passed through as `ScriptedModel` takes it.
    """
    steps: list[Any] = []
    for step in data:
        passed = isinstance(step, str) or callable(step)
        steps.append(step if passed else [ToolCall.model_validate(c) for c in step])
    return ScriptedModel(steps)


def build(store: Any, ledger: Path, script: list[Any], policy: Policy = POLICY) -> ToolLoop:
    def send_payment(amount: float, recipient: str) -> str:
        """Send money to a recipient."""
        with ledger.open("a") as f:
            f.write(
                json.dumps(
                    {"tool": "send_payment", "args": {"amount": amount, "recipient": recipient}}
                )
                + "\n"
            )
        return f"paid {amount} to {recipient}"

    def get_balance() -> str:
        """The account balance."""
        with ledger.open("a") as f:
            f.write(json.dumps({"tool": "get_balance", "args": {}}) + "\n")
        return "balance: 10000"

    return ToolLoop(
        script_from_data(script), [send_payment, get_balance], policy=policy, store=store
    )


def ledger_entries(ledger: Path) -> list[dict[str, Any]]:
    if not ledger.exists():
        return []
    return [json.loads(line) for line in ledger.read_text().splitlines()]


if __name__ == "__main__":
    store_url, ledger_path, script_json, run_id = sys.argv[1:5]
    loop = build(store_url, Path(ledger_path), json.loads(script_json))
    print(loop.resume(run_id).model_dump_json())
