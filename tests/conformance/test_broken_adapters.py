"""The conformance suite fails the adapters it should: one broken driver per fault.

Each case runs the whole standard suite against a factory in `broken_adapters` and pins
exactly which standard tests catch the fault, which capabilities that fails, and the
level. A suite that passes everything proves nothing; these cases show every fault is
caught, by the tests that should catch it, and by no unrelated test.

Each run is a separate ``python -m hitl_cli conformance REF --json PATH`` process rather
than an in-process `run_suite` call: `run_suite` writes its generated test module under
one fixed name, so a second call in the same process gets the first call's module back
(an import-mismatch error by default; with ``--import-mode=importlib``, silently the first
call's factory). The subprocess runs from the project root, so it and the suite's own
fresh-process resumes can import ``tests.conformance.broken_adapters``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hitl_conformance import Capability
from hitl_conformance.report import AdapterReport, Level
from hitl_conformance.suite.base import standard_tests
from hitl_loop.conformance import LoopDriver

ROOT = Path(__file__).resolve().parents[2]
"""The project root: the working directory a factory in ``tests`` is importable from."""
BROKEN = "tests.conformance.broken_adapters"

ALL_TESTS = frozenset(standard_tests()) | {"test_no_overrides_DO_NOT_OVERRIDE"}


@dataclass(frozen=True)
class Fault:
    """A broken factory and exactly what the suite must report for it."""

    factory: str
    failing: frozenset[str]
    """The standard tests that must fail, and no others."""
    failed_capabilities: frozenset[Capability]
    """The capabilities whose status must be ``failed``, and no others."""
    level: Level
    undeclared: frozenset[Capability] = field(default_factory=frozenset)
    """Capabilities the reference declares and this driver leaves out: skipped, not failed."""


C = Capability
# A failed test fails only the capability it checks (the first it is marked with), so a
# fault is charged where it is, not to everything the failing test needed to run.
FAULTS = [
    Fault(
        "runs_tool_on_reject",
        failing=frozenset(
            {
                "test_reject_runs_nothing_and_the_model_gets_the_feedback",
                "test_rejection_feedback_survives_a_fresh_process",
                "test_a_second_decision_is_refused",  # its first decision is a reject
                "test_two_gated_calls_in_one_turn_are_decided_separately",
                "test_an_expired_request_takes_its_expiry_outcome",  # expiry rejects
                "test_a_rejection_inside_a_sub_agent_reaches_the_sub_agent",
                "test_a_rejection_stands_when_the_policy_is_relaxed",
            }
        ),
        failed_capabilities=frozenset(
            {C.REJECT, C.PERSIST, C.BOUND_DECISION, C.PARALLEL, C.EXPIRY, C.NESTED}
            | {C.DECISION_STANDS}
        ),
        level="NONE",
    ),
    Fault(
        "loses_feedback_across_processes",
        failing=frozenset(
            {
                "test_rejection_feedback_survives_a_fresh_process",
                # Expiry's reject carries feedback ("approval expired") and the test
                # resumes in a fresh process, so the same fault shows there too.
                "test_an_expired_request_takes_its_expiry_outcome",
                # So does the relaxed-policy resume, which also runs in a fresh process.
                "test_a_rejection_stands_when_the_policy_is_relaxed",
            }
        ),
        failed_capabilities=frozenset({C.PERSIST, C.EXPIRY, C.DECISION_STANDS}),
        level="NONE",
    ),
    Fault(
        "reruns_ungated_calls_on_resume",
        # It runs ungated calls outside the ledger, so everything that counts an ungated
        # call's runs across a pause, a retry or a tool's own flag catches it.
        failing=frozenset(
            {
                "test_ungated_calls_in_a_mixed_turn_run_exactly_once",
                # The streamed resume runs (and surfaces) the ungated balance call again.
                "test_a_streamed_run_surfaces_its_pause_and_resumes",
                "test_a_tool_failure_is_recorded_once",  # the retry runs it again
                "test_a_pass_that_raises_leaves_the_run_failed",  # so does this retry
                "test_a_tools_own_approval_flag_is_kept",  # the policy does not gate it
            }
        ),
        failed_capabilities=frozenset(
            {C.EXACTLY_ONCE, C.STREAMING, C.TOOL_FAILURE, C.RUN_FAILURE, C.AUTHOR_GATES}
        ),
        level="NONE",
    ),
    Fault(
        "gates_every_call",
        failing=frozenset(
            {
                "test_small_call_runs_without_a_pause",
                "test_every_rule_of_the_policy_gates",
                "test_the_verdict_is_the_same_on_resume",
                "test_ungated_calls_in_a_mixed_turn_run_exactly_once",
                "test_a_streamed_run_surfaces_its_pause_and_resumes",  # the balance call
                # The parent's call to the sub-agent is gated too, so the run pauses on
                # it instead of on the sub-agent's payment.
                "test_a_gated_call_inside_a_sub_agent_pauses_the_whole_run",
                "test_a_rejection_inside_a_sub_agent_reaches_the_sub_agent",
                # The calls these expect to run at once pause instead.
                "test_a_tool_failure_is_recorded_once",
                "test_a_pass_that_raises_leaves_the_run_failed",
            }
        ),
        failed_capabilities=frozenset(
            {C.THRESHOLD, C.EXACTLY_ONCE, C.STREAMING, C.NESTED, C.TOOL_FAILURE, C.RUN_FAILURE}
        ),
        level="NONE",
    ),
    Fault(
        "runs_proposed_args_on_edit",
        # The ledger refuses the proposed arguments (they are not the edit's): the run fails.
        failing=frozenset(
            {
                "test_edit_runs_the_corrected_arguments_and_says_so",
                "test_an_edit_stands_when_the_policy_is_relaxed",
            }
        ),
        failed_capabilities=frozenset({C.EDIT, C.DECISION_STANDS}),
        level="NONE",
    ),
    Fault(
        "edit_without_notice",
        failing=frozenset({"test_edit_runs_the_corrected_arguments_and_says_so"}),
        # Edit is a MAY capability: the adapter keeps level BASE, and the report says why.
        failed_capabilities=frozenset({C.EDIT}),
        level="BASE",
    ),
    Fault(
        "borrows_the_lease",
        failing=frozenset(
            {
                "test_two_processes_resuming_one_run_execute_it_once",
                "test_a_long_tool_keeps_its_run_leased",
                "test_a_pass_that_lost_its_lease_mid_tool_writes_nothing",
            }
        ),
        failed_capabilities=frozenset({C.LEASED, C.FENCED}),
        level="NONE",
    ),
    Fault(
        "records_after_running",
        failing=frozenset(
            {
                "test_a_crash_after_the_effect_leaves_an_unknown_outcome",
                "test_a_pass_that_lost_its_lease_mid_tool_writes_nothing",
                "test_a_tool_failure_is_recorded_once",  # the failure was never recorded
                "test_the_audit_trail_records_who_when_and_what",  # no `started` event
            }
        ),
        failed_capabilities=frozenset({C.CRASH_SAFE, C.FENCED, C.TOOL_FAILURE, C.APPROVE}),
        level="NONE",
    ),
    Fault(
        "renews_nothing",
        failing=frozenset({"test_a_long_tool_keeps_its_run_leased"}),
        failed_capabilities=frozenset({C.FENCED}),
        level="NONE",
    ),
    Fault(
        "runs_its_own_call",
        # It runs every reviewed call itself, outside the ledger, as its snapshot has it.
        failing=frozenset(
            {
                "test_a_snapshot_whose_call_was_rewritten_runs_nothing",
                "test_edit_runs_the_corrected_arguments_and_says_so",
                "test_an_edit_stands_when_the_policy_is_relaxed",
                "test_a_crash_after_the_effect_leaves_an_unknown_outcome",
                "test_a_pass_that_lost_its_lease_mid_tool_writes_nothing",
                "test_the_audit_trail_records_who_when_and_what",
            }
        ),
        failed_capabilities=frozenset(
            {C.REVIEWED_ONLY, C.EDIT, C.DECISION_STANDS, C.CRASH_SAFE, C.FENCED, C.APPROVE}
        ),
        level="NONE",
    ),
    Fault(
        "asks_the_policy_first",
        failing=frozenset(
            {
                "test_a_rejection_stands_when_the_policy_is_relaxed",
                "test_an_edit_stands_when_the_policy_is_relaxed",
            }
        ),
        failed_capabilities=frozenset({C.DECISION_STANDS}),
        level="NONE",
    ),
    Fault(
        "drops_the_authors_flag",
        failing=frozenset({"test_a_tools_own_approval_flag_is_kept"}),
        failed_capabilities=frozenset({C.AUTHOR_GATES}),
        level="BASE",
    ),
    Fault(
        "retries_failed_tools",
        failing=frozenset({"test_a_tool_failure_is_recorded_once"}),
        failed_capabilities=frozenset({C.TOOL_FAILURE}),
        level="NONE",
    ),
    Fault(
        "leaves_failed_runs_running",
        failing=frozenset(
            {
                "test_a_pass_that_raises_leaves_the_run_failed",
                # A refusal must leave the run failed too.
                "test_a_request_whose_arguments_were_rewritten_runs_nothing",
                "test_a_snapshot_whose_call_was_rewritten_runs_nothing",
            }
        ),
        failed_capabilities=frozenset({C.RUN_FAILURE, C.REVIEWED_ONLY}),
        level="NONE",
    ),
    Fault(
        "asks_about_unknown_tools",
        failing=frozenset({"test_a_call_to_an_unknown_tool_runs_nothing_and_asks_nobody"}),
        failed_capabilities=frozenset({C.UNKNOWN_TOOL}),
        level="NONE",
    ),
    Fault(
        "omits_persist",
        failing=frozenset(),
        failed_capabilities=frozenset(),
        level="NONE",
        undeclared=frozenset({C.PERSIST}),
    ),
]


def conformance(ref: str, tmp_path: Path) -> tuple[int, AdapterReport]:
    """Run ``hitl conformance REF`` in a fresh process; its exit code and JSON report."""
    path = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "hitl_cli", "conformance", ref, "--json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert path.exists(), f"hitl conformance {ref} wrote no report:\n{done.stdout}{done.stderr}"
    data = json.loads(path.read_text())
    report = AdapterReport.model_validate(
        {"suite": data["suite"], "factory": data["factory"], "results": data["tests"]}
    )
    assert data["level"] == report.level()
    assert {r.name for r in report.results} == ALL_TESTS, "not every standard test ran"
    return done.returncode, report


def outcomes(report: AdapterReport, outcome: str) -> frozenset[str]:
    return frozenset(r.name for r in report.results if r.outcome == outcome)


def needing_more_than(report: AdapterReport, declared: frozenset[Capability]) -> frozenset[str]:
    """The tests that must be skipped: those needing a capability outside `declared`.

    Computed from each test's own marker, so new standard tests for capabilities the
    loop does not declare (nested, streaming...) need no change here.
    """
    return frozenset(r.name for r in report.results if not set(r.capabilities) <= declared)


def test_the_reference_adapter_passes_everything(tmp_path: Path) -> None:
    """The unbroken driver fails nothing, so every failure below is the fault's doing."""
    code, report = conformance("hitl_loop", tmp_path)
    assert outcomes(report, "failed") == frozenset()
    assert outcomes(report, "skipped") == frozenset()
    assert report.level() == "FULL"
    assert code == 0


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.factory)
def test_the_suite_catches_the_fault(fault: Fault, tmp_path: Path) -> None:
    """Exactly the tests that check the broken behaviour fail, and the level reflects it."""
    code, report = conformance(f"{BROKEN}:{fault.factory}", tmp_path)
    assert outcomes(report, "failed") == fault.failing
    declared = LoopDriver.capabilities - fault.undeclared
    assert outcomes(report, "skipped") == needing_more_than(report, declared)
    rows = {row.capability: row for row in report.capabilities()}
    assert {c for c, row in rows.items() if row.status == "failed"} == fault.failed_capabilities
    for capability in fault.undeclared:
        row = rows[capability]
        assert (row.status, row.passed, row.failed) == ("skipped", [], [])
        assert row.skipped, f"no standard test checks {capability.value}"
        assert all(capability.value in reason for reason in row.reasons), row.reasons
    assert report.unmarked_failures() == []
    assert report.level() == fault.level
    assert code == (1 if fault.level == "NONE" else 0)
