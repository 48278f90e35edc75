"""The Agents SDK adapter, held to the standard suite on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from hitl_conformance import AdapterConformanceTests


class TestAgentsConformance(AdapterConformanceTests):
    factory = "hitl_openai_agents"


class TestAgentsConformanceOnPostgres(AdapterConformanceTests):
    factory = "hitl_openai_agents"

    @pytest.fixture
    def store_url(self, postgres_url: str) -> str | None:
        return postgres_url
