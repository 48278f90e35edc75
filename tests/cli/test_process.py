"""The installed ``hitl`` script in its own process: exit codes, streams, the environment."""

from __future__ import annotations

import subprocess

from pydantic import TypeAdapter

from hitl_core import ApprovalRequest, ApprovalStore, RequestStatus
from tests.cli.conftest import HITL, PaymentRun, child_env, decided_events


def _hitl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HITL, *args], capture_output=True, text=True, env=env, timeout=60)


def test_the_console_script_decides_once_and_reports_the_second_try(
    db_url: str, store: ApprovalStore, payment_run: PaymentRun
) -> None:
    env = child_env(HITL_STORE_URL=db_url, HITL_REVIEWER="ana")
    request_id = payment_run.request.id

    listed = _hitl("pending", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [r.id for r in _requests(listed.stdout)] == [request_id]

    approved = _hitl("approve", request_id, "--feedback", "fine", "--json", env=env)
    assert approved.returncode == 0, approved.stderr
    assert approved.stderr == ""
    stored = store.get(request_id)
    assert ApprovalRequest.model_validate_json(approved.stdout) == stored
    assert stored.decision is not None
    assert (stored.decision.kind, stored.decision.by, stored.decision.feedback) == (
        "approve",
        "ana",
        "fine",
    )

    again = _hitl("reject", request_id, "--as", "carol", env=env)
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr.startswith("AlreadyDecided: Request")
    assert "already decided by ana" in again.stderr
    assert "Traceback" not in again.stderr
    assert store.get(request_id) == stored
    assert len(decided_events(store, request_id)) == 1

    left = _hitl("pending", "--json", env=env)
    assert _requests(left.stdout) == []
    assert store.get(request_id).status is RequestStatus.DECIDED


def _requests(text: str) -> list[ApprovalRequest]:
    return TypeAdapter(list[ApprovalRequest]).validate_json(text)
