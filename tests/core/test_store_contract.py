"""The public store suite (`hitl_conformance.stores`) on every store hitl-kit ships."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hitl_conformance.stores import StoreConformanceTests
from hitl_core import ApprovalStore, ManualClock
from tests.sync_facade import SyncFacade


class TestStoreContract(StoreConformanceTests):
    """Memory, SQLite and PostgreSQL: the `store` fixture of ``tests/conftest.py``."""

    @pytest.fixture
    def store(self, store: ApprovalStore) -> Iterator[ApprovalStore]:
        """The conftest's store of each kind; it runs on this class's `clock` fixture."""
        yield store  # noqa: PT022 (a generator, as the fixture it overrides; conftest closes it)


class TestAsyncPostgresStoreContract(StoreConformanceTests):
    """`AsyncPostgresStore`, through a sync facade that awaits its ``a``-prefixed twins."""

    @pytest.fixture
    def store(self, postgres_url: str, clock: ManualClock) -> Iterator[ApprovalStore]:
        facade = SyncFacade(postgres_url, clock)
        yield facade.as_store()
        facade.close()
