"""Differential testing: generated runs must leave identical traces on every adapter.

Each generated plan (turns of tool calls on both sides of the thresholds, a decision per
call, partial decisions between resumes, some resumes in a fresh process) runs on every
installed adapter, and once more entirely in-process. All traces must be equal, and
equal to what the contract alone predicts. ``HYPOTHESIS_PROFILE=deep`` runs many more.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given

from hitl_conformance.adapters import installed_adapters
from hitl_conformance.generate import Plan, expected_effects, play, run_plans

ADAPTERS = installed_adapters()


def test_the_reference_adapter_is_installed() -> None:
    assert "hitl_loop" in ADAPTERS


@given(run_plans())
def test_every_adapter_leaves_the_same_trace(plan: Plan) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        traces = {name: play(plan, name, root / name) for name in ADAPTERS}
        in_process = play(plan, ADAPTERS[0], root / "in-process", in_process_only=True)
        executed, told = expected_effects(plan, root / "scratch")
    first = traces[ADAPTERS[0]]
    assert first.status == "completed"
    assert sorted(first.executed, key=repr) == executed
    assert first.told == told
    assert first == in_process, "the trace depends on where the run resumed"
    for name, trace in traces.items():
        assert trace == first, f"{name} differs from {ADAPTERS[0]}"
