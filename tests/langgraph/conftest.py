"""Fixtures for the LangGraph adapter's tests: stores, checkpointers, fresh processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hitl_core import ApprovalStore, open_store

ROOT = Path(__file__).parents[2]


@pytest.fixture
def sqlite_urls(tmp_path: Path) -> tuple[str, str]:
    """A store URL and a checkpointer URL, both SQLite files in a fresh directory."""
    return f"sqlite:///{tmp_path / 'hitl.db'}", f"sqlite:///{tmp_path / 'checkpoints.db'}"


@pytest.fixture
def sqlite_store(sqlite_urls: tuple[str, str]) -> Iterator[ApprovalStore]:
    store = open_store(sqlite_urls[0])
    yield store
    store.close()


def resume_in_fresh_process(
    kind: str, store_url: str, checkpoints_url: str, thread_id: str, *extra: str
) -> tuple[dict[str, Any], str]:
    """Resume a thread in a new interpreter; its JSON outcome and everything it printed."""
    module = "tests.langgraph.payments_app"
    done = subprocess.run(
        [sys.executable, "-m", module, kind, store_url, checkpoints_url, thread_id, *extra],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1])
