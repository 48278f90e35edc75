"""A standard test may be overridden or removed only in plain sight (xfail with a reason)."""

from __future__ import annotations

import pytest

from hitl_conformance import AdapterConformanceTests
from hitl_conformance.suite.base import standard_tests
from hitl_conformance.suite.fixtures import NewRun


class Overridden(AdapterConformanceTests):
    factory = "hitl_loop"

    def test_reject_runs_nothing_and_the_model_gets_the_feedback(self, new_run: NewRun) -> None:
        """Passes by doing nothing."""


class Deleted(AdapterConformanceTests):
    factory = "hitl_loop"
    test_a_second_decision_is_refused = None  # type: ignore[assignment]


class Declared(AdapterConformanceTests):
    factory = "hitl_loop"

    @pytest.mark.xfail(reason="our framework cannot bind decisions yet", strict=True)
    def test_a_second_decision_is_refused(self, new_run: NewRun) -> None:
        raise AssertionError("not supported")


def test_a_silent_override_fails_the_suite() -> None:
    with pytest.raises(
        AssertionError,
        match="test_reject_runs_nothing_and_the_model_gets_the_feedback is overridden",
    ):
        Overridden().test_no_overrides_DO_NOT_OVERRIDE()


def test_a_deleted_test_fails_the_suite() -> None:
    with pytest.raises(AssertionError, match="test_a_second_decision_is_refused was deleted"):
        Deleted().test_no_overrides_DO_NOT_OVERRIDE()


def test_an_xfail_with_a_reason_is_an_accepted_deviation() -> None:
    Declared().test_no_overrides_DO_NOT_OVERRIDE()


def test_the_suite_has_every_case_the_contract_lists() -> None:
    names = set(standard_tests())
    assert len(names) >= 19
    for needle in (
        "small_call",
        "large_call",
        "approve",
        "edit",
        "reject",
        "fresh_process",
        "second_decision",
        "expir",
        "audit",
        "mixed_turn",
    ):
        assert any(needle in n for n in names), needle
