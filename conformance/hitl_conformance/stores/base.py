"""`StoreConformanceTests`: the `ApprovalStore` contract as a pytest base class."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

from hitl_conformance.stores.audit import AuditTests
from hitl_conformance.stores.calls import CallTests
from hitl_conformance.stores.leases import LeaseTests
from hitl_conformance.stores.requests import RequestTests
from hitl_conformance.stores.runs import RunTests
from hitl_core import ApprovalStore, ManualClock

__all__ = ["StoreConformanceTests", "standard_store_tests"]


class StoreConformanceTests(RequestTests, RunTests, LeaseTests, CallTests, AuditTests):
    """Every `ApprovalStore` guarantee, checked on your store. Subclass it and give `store`::

        class TestMyStore(StoreConformanceTests):
            @pytest.fixture
            def store(self, clock: ManualClock) -> Iterator[ApprovalStore]:
                opened = MyStore("mystore://test", clock=clock)
                yield opened
                opened.close()

    Fixtures:
        store: required. An EMPTY store (no requests, runs, leases, calls or audit
            events) whose ``clock`` is the `clock` fixture's; each test gets a fresh one.
        clock: the `ManualClock` the store must run on; tests move it forward to expire
            requests and leases. Override it only to start at another time.

    Capabilities (class attributes, declared, never inferred):
        has_run_leases: the store offers `RunLeases.claim_ready` (default True); set it
            to False to skip the worker tests.

    Some tests run eight threads against the store at once, so its pool (if any) needs
    eight connections. A standard test may not be overridden or deleted unless marked
    ``@pytest.mark.xfail(reason=...)``, so every deviation is visible
    (`test_no_overrides_DO_NOT_OVERRIDE`).
    """

    @pytest.fixture
    def clock(self) -> ManualClock:
        """The store's clock; it stands still until a test moves it."""
        return ManualClock()

    @pytest.fixture
    def store(self, clock: ManualClock) -> Iterator[ApprovalStore]:
        """An EMPTY store on `clock`. Override this fixture in your subclass."""
        pytest.fail(
            f"{type(self).__name__} must override the `store` fixture: yield an empty store "
            "opened with clock=clock, and close it afterwards."
        )

    def test_the_store_runs_on_the_clock_fixture(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """The `store` fixture's store is empty and its `clock` is the `clock` fixture.

        If this fails, open the store with ``clock=clock`` and on fresh storage per test.
        """
        assert store.clock is clock
        assert store.audit() == []
        assert store.list_requests(status=None).items == []
        assert store.list_runs().items == []

    def test_no_overrides_DO_NOT_OVERRIDE(self) -> None:
        """Every standard test is present and unchanged, or marked xfail with a reason.

        If this fails, remove the override, or mark it ``@pytest.mark.xfail(reason=...)``.
        """
        problems = []
        for name, standard in standard_store_tests().items():
            mine = getattr(type(self), name, None)
            if mine is None:
                problems.append(f"{name} was deleted")
            elif mine is not standard and not _xfail_reason(mine):
                problems.append(f"{name} is overridden without @pytest.mark.xfail(reason=...)")
        assert not problems, "; ".join(problems)


def standard_store_tests() -> dict[str, object]:
    """The suite's own test functions, by name."""
    return {
        name: member
        for name, member in inspect.getmembers(StoreConformanceTests, inspect.isfunction)
        if name.startswith("test_") and name != "test_no_overrides_DO_NOT_OVERRIDE"
    }


def _xfail_reason(function: object) -> str | None:
    for mark in getattr(function, "pytestmark", []):
        if mark.name == "xfail" and mark.kwargs.get("reason"):
            return str(mark.kwargs["reason"])
    return None
