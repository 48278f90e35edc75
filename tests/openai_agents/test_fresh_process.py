"""Resume in another Python process, from SQLite and from PostgreSQL, and from async code."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from hitl_core import AuditKind, Decision, RequestStatus, RunStatus, open_store
from hitl_core.outcomes import RunTool, tool_result
from hitl_core.stores.postgres_aio import AsyncPostgresStore
from hitl_openai_agents import Completed, Paused
from tests.openai_agents.payments_app import build, ledger_entries

ROOT = Path(__file__).parents[2]
REVIEWER = "ana@example.com"


def pay(amount: float, call_id: str) -> dict[str, Any]:
    return {"id": call_id, "name": "send_payment", "args": {"amount": amount, "recipient": "Acme"}}


SCRIPT: dict[str, Any] = {
    "turns": [
        [{"id": "b1", "name": "get_balance", "args": {}}, pay(2000, "p1"), pay(4200, "p2")],
        "All settled.",
    ],
    "agents": {},
}


def resume_elsewhere(store_url: str, ledger: Path, run_id: str) -> dict[str, Any]:
    """Resume `run_id` in a new interpreter that shares only the store (and the ledger)."""
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.openai_agents.payments_app",
            store_url,
            str(ledger),
            json.dumps(SCRIPT),
            run_id,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    data: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return data


def test_a_paused_run_resumes_in_a_fresh_process(store_url: str, tmp_path: Path) -> None:
    """Partial decisions, then the rest, each resumed by a process that shares only the store."""
    ledger = tmp_path / "ledger.jsonl"
    store = open_store(store_url)
    outcome = build(store, ledger, SCRIPT).start("Pay two invoices")
    assert isinstance(outcome, Paused)
    p1, p2 = outcome.requests
    store.decide(p2.id, Decision.edit({"amount": 4000, "recipient": "Acme"}, by=REVIEWER))

    partial = resume_elsewhere(store_url, ledger, outcome.run_id)
    assert partial == {"status": "paused", "requests": [p1.id]}
    assert [e["args"].get("amount") for e in ledger_entries(ledger)] == [None, 4000.0]

    store.decide(p1.id, Decision.approve(by=REVIEWER))
    done = resume_elsewhere(store_url, ledger, outcome.run_id)
    assert done == {"status": "completed", "output": "All settled."}
    assert [e["args"].get("amount") for e in ledger_entries(ledger)] == [None, 4000.0, 2000.0]
    assert {store.get(r.id).status for r in (p1, p2)} == {RequestStatus.RESUMED}
    assert store.load_run(outcome.run_id).status is RunStatus.COMPLETED
    edited = store.calls(outcome.run_id)["p2"]
    assert edited.output == tool_result(
        RunTool({"amount": 4000, "recipient": "Acme"}, True, None, "send_payment"),
        "paid 4000.00 to Acme",
    )
    kinds = [e.kind for e in store.audit(run_id=outcome.run_id)]
    assert kinds.count(AuditKind.EXECUTED) == 3
    assert kinds.count(AuditKind.RESUMED) == 2
    store.close()


def test_async_code_uses_the_async_postgres_store(postgres_url: str, tmp_path: Path) -> None:
    """`AsyncPostgresStore` is awaited (``asave_run``...), never blocking the event loop."""
    ledger = tmp_path / "ledger.jsonl"
    script = {"turns": [[pay(4200, "c1")], "Paid."]}

    async def scenario() -> tuple[Paused, Completed]:
        store = await AsyncPostgresStore.open(postgres_url)
        try:
            runner = build(store, ledger, script)
            paused = await runner.astart("Pay")
            assert isinstance(paused, Paused)
            await store.adecide(paused.requests[0].id, Decision.approve(by=REVIEWER))
            done = await build(store, ledger, script).aresume(paused.run_id)
            assert isinstance(done, Completed)
            return paused, done
        finally:
            await store.aclose()

    paused, done = asyncio.run(scenario())
    assert done.output == "Paid."
    assert [e["args"]["amount"] for e in ledger_entries(ledger)] == [4200.0]
    sync_store = open_store(postgres_url)
    assert sync_store.get(paused.requests[0].id).status is RequestStatus.RESUMED
    sync_store.close()
