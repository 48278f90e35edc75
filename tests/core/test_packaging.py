"""Packaging promises: a light core, typed packages, and a working console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import hitl_core
import hitl_loop
from hitl_cli.demo import ADAPTERS

ROOT = Path(__file__).parents[2]
HEAVY = {
    "langgraph",
    "langchain",
    "langchain_core",
    "agents",
    "openai",
    "fastapi",
    "uvicorn",
    "starlette",
    "httpx",
    "psycopg",
    "typer",
    "rich",
}


def test_importing_the_core_imports_no_framework_or_server() -> None:
    code = "import sys, hitl_core; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = set(
        json.loads(
            subprocess.check_output([sys.executable, "-c", code], text=True).replace("'", '"')
        )
    )
    assert loaded & HEAVY == set()


def test_the_loop_adapter_imports_no_other_framework() -> None:
    code = "import sys, hitl_loop; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = set(
        json.loads(
            subprocess.check_output([sys.executable, "-c", code], text=True).replace("'", '"')
        )
    )
    assert loaded & HEAVY == set()


def test_packages_ship_py_typed() -> None:
    for package in (hitl_core, hitl_loop):
        assert (Path(str(package.__file__)).parent / "py.typed").exists()


def test_every_public_name_resolves() -> None:
    for package in (hitl_core, hitl_loop):
        missing = [name for name in package.__all__ if not hasattr(package, name)]
        assert missing == []


def test_hitl_schema_prints_every_wire_model() -> None:
    out = subprocess.check_output([sys.executable, "-m", "hitl_cli", "schema"], text=True, cwd=ROOT)
    schemas = json.loads(out)
    assert {"ApprovalRequest", "Decision", "ProposedAction", "AuditEvent"} <= set(schemas)
    assert schemas["ApprovalRequest"]["properties"]["status"]["$ref"].endswith("RequestStatus")
    bad = subprocess.run(
        [sys.executable, "-m", "hitl_cli", "schema", "Nope"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode == 2
    assert "Unknown schema 'Nope'" in bad.stderr


def test_hitl_demo_runs_the_payments_scenario(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "hitl_cli", "demo", "--store", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    out = done.stdout
    assert "amount 4200 > 1000" in out
    assert "rejected by" in out
    assert "4,000 to Acme Corp" in out
    assert "Pending requests left: 0" in out
    for adapter in ADAPTERS:
        assert f"{adapter} " in out
    store = hitl_core.open_store(url)
    kinds = [e.kind.value for e in store.audit()]
    # Per adapter: the small payment, approve and edit execute; three decisions, resumed.
    assert kinds.count("executed") == 3 * len(ADAPTERS)
    assert kinds.count("decided") == 3 * len(ADAPTERS)
    assert kinds.count("resumed") == 3 * len(ADAPTERS)
