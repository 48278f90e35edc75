"""Our plain loop, held to the standard suite on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from hitl_conformance import AdapterConformanceTests


class TestLoopConformance(AdapterConformanceTests):
    factory = "hitl_loop"


class TestLoopConformanceOnPostgres(AdapterConformanceTests):
    factory = "hitl_loop"

    @pytest.fixture
    def store_url(self, postgres_url: str) -> str | None:
        return postgres_url
