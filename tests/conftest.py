"""Fixtures shared by the whole suite: clocks and a store of every kind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from hitl_core import ApprovalStore, ManualClock, open_store

settings.register_profile(
    "default", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
"""`make test` keeps examples bounded; HYPOTHESIS_PROFILE=deep explores far more."""

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
