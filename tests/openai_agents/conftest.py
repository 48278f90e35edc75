"""Stores for the Agents SDK adapter tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hitl_core import ApprovalStore, open_store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[ApprovalStore]:
    """An empty SQLite store in the test's directory."""
    store = open_store(f"sqlite:///{tmp_path / 'hitl.db'}")
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty SQLite file, or to an empty PostgreSQL schema."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'hitl.db'}"
