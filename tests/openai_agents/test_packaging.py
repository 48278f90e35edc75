"""The adapter as a package: its public names, its types, a worker, and what it imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import hitl_openai_agents
from hitl_core import ApprovalStore, Decision, RequestStatus, RunStatus
from hitl_core.worker import Worker
from hitl_openai_agents import Paused
from tests.openai_agents.payments_app import build, ledger_entries


def test_every_public_name_resolves_and_the_package_is_typed() -> None:
    missing = [n for n in hitl_openai_agents.__all__ if not hasattr(hitl_openai_agents, n)]
    assert missing == []
    assert (Path(str(hitl_openai_agents.__file__)).parent / "py.typed").exists()


def test_the_adapter_imports_no_other_framework_or_server() -> None:
    code = "import sys, hitl_openai_agents; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = json.loads(
        subprocess.check_output([sys.executable, "-c", code], text=True).replace("'", '"')
    )
    assert set(loaded) & {"langgraph", "langchain", "langchain_core", "fastapi", "psycopg"} == set()


def test_a_worker_resumes_a_decided_run(sqlite_store: ApprovalStore, tmp_path: Path) -> None:
    """`hitl worker` rebuilds the runner per store and calls its blocking `resume`."""
    ledger = tmp_path / "ledger.jsonl"
    script = {
        "turns": [
            [{"id": "c1", "name": "send_payment", "args": {"amount": 4200, "recipient": "A"}}],
            "Paid.",
        ]
    }
    outcome = build(sqlite_store, ledger, script).start("Pay")
    assert isinstance(outcome, Paused)
    sqlite_store.decide(outcome.requests[0].id, Decision.approve(by="ana@example.com"))
    worker = Worker(
        sqlite_store, {"hitl_openai_agents": lambda store: build(store, ledger, script).resume}
    )
    done = worker.run_once()
    assert done.resumed == [outcome.run_id]
    assert sqlite_store.load_run(outcome.run_id).status is RunStatus.COMPLETED
    assert sqlite_store.get(outcome.requests[0].id).status is RequestStatus.RESUMED
    assert [e["args"]["amount"] for e in ledger_entries(ledger)] == [4200.0]
