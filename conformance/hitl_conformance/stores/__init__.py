"""The store conformance suite: every `ApprovalStore` guarantee, for any store.

    import pytest
    from hitl_conformance.stores import StoreConformanceTests

    class TestMyStore(StoreConformanceTests):
        @pytest.fixture
        def store(self, clock):
            opened = MyStore("mystore://test", clock=clock)
            yield opened
            opened.close()

One module per concern: `requests`, `runs`, `leases` (and the `RunLeases` capability),
`calls` (the ledger) and `audit`; `builders` makes what they store. See
`StoreConformanceTests` for the fixtures and capabilities.
"""

import pytest

# Full assertion diffs for store authors: rewrite the suite's asserts when pytest runs.
pytest.register_assert_rewrite(
    *(
        f"hitl_conformance.stores.{name}"
        for name in ("audit", "base", "builders", "calls", "leases", "requests", "runs")
    )
)

from hitl_conformance.stores.base import StoreConformanceTests as StoreConformanceTests  # noqa: E402
from hitl_conformance.stores.base import standard_store_tests as standard_store_tests  # noqa: E402

__all__ = ["StoreConformanceTests", "standard_store_tests"]
