"""Fixtures shared by the whole suite: clocks and a store of every kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hitl_core import ApprovalStore, ManualClock, open_store

STORE_KINDS = ["memory", "sqlite"]


def store_url(kind: str, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory://"
    return f"sqlite:///{tmp_path / 'approvals.db'}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=STORE_KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock
) -> Iterator[ApprovalStore]:
    """An empty store of each kind, on a manual clock."""
    opened = open_store(store_url(request.param, tmp_path), clock=clock)
    yield opened
    opened.close()
