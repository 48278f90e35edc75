"""Fixtures of the fault tests: the fork server, a PostgreSQL server to crash, figures."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from multiprocessing.context import ForkServerContext
from typing import Any

import pytest

from tests.faults.forks import fork_context, stop_fork_server
from tests.postgres_server import PostgresServer, PostgresUnavailable, start_server

FIGURES: list[dict[str, Any]] = []
"""What each fault test measured, printed at the end of the session."""


@pytest.fixture(scope="session")
def forkserver() -> Iterator[ForkServerContext]:
    """The fork server every fault test forks its processes from (stopped at the end)."""
    try:
        yield fork_context()
    finally:
        stop_fork_server()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, to crash and restart; always removed."""
    try:
        server = start_server(own=True)
    except PostgresUnavailable as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs PostgreSQL and none could start: {error}")
        pytest.skip(f"PostgreSQL unavailable: {error}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A dict the test fills with what it measured; reported at the end of the session."""
    measured: dict[str, Any] = {}
    yield measured
    if measured:
        FIGURES.append({"test": request.node.name, **measured})


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("hitl fault figures")
    for line in FIGURES:
        terminalreporter.write_line(json.dumps(line))
    path = os.environ.get("HITL_FAULT_FIGURES")
    if path:
        with open(path, "a") as out:
            out.writelines(json.dumps(line) + "\n" for line in FIGURES)
