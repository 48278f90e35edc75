"""The LangGraph adapter, held to the standard suite on SQLite and on PostgreSQL.

The driver keeps LangGraph checkpoints on the same kind of backend as the store: a SQLite
file next to the SQLite store, or the same PostgreSQL schema.
"""

from __future__ import annotations

import pytest

from hitl_conformance import AdapterConformanceTests


class TestLangGraphConformance(AdapterConformanceTests):
    factory = "hitl_langgraph"


class TestLangGraphConformanceOnPostgres(AdapterConformanceTests):
    factory = "hitl_langgraph"

    @pytest.fixture
    def store_url(self, postgres_url: str) -> str | None:
        return postgres_url
