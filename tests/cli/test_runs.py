"""`hitl runs` finds a failed run and `hitl retry` reopens it without paying twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hitl_core import ApprovalStore, AuditKind, RunStatus
from hitl_loop import Completed, Message
from tests.cli.conftest import REQUESTER, Hitl, pay
from tests.loop.payments_app import build, ledger_entries

RUN_ID = "run_flaky"


class FlakyTurn:
    """The model's second turn: the provider is down the first time, then answers."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, messages: list[Message]) -> str:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("the model provider is down")
        return "Paid."


def test_a_failed_run_is_listed_retried_once_and_finishes_without_paying_again(
    hitl: Hitl, db_url: str, store: ApprovalStore, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    flaky = FlakyTurn()
    loop = build(store, ledger, [[pay(4200)], flaky])
    paused = loop.start("Pay Acme 4200", run_id=RUN_ID, context={"requested_by": REQUESTER})
    request_id = paused.requests[0].id  # type: ignore[union-attr]
    assert hitl("approve", request_id, "--as", "ana", "--store", db_url).code == 0

    try:
        loop.resume(RUN_ID)
    except ConnectionError:
        pass
    else:  # pragma: no cover - the flaky turn raises on its first call
        raise AssertionError("the model's outage should fail the pass")
    assert [e["args"]["amount"] for e in ledger_entries(ledger)] == [4200]

    failed = hitl("runs", "--status", "failed", "--json", "--store", db_url)
    assert failed.code == 0, failed.err
    [listed] = failed.json()
    assert (listed["run_id"], listed["status"]) == (RUN_ID, "failed")
    assert "the model provider is down" in listed["error"]
    assert hitl("runs", "--status", "paused", "--json", "--store", db_url).json() == []

    reopened = hitl("retry", RUN_ID, "--as", "ana", "--json", "--store", db_url)
    assert reopened.code == 0, reopened.err
    assert reopened.json()["status"] == "paused"
    assert store.load_run(RUN_ID).status is RunStatus.PAUSED
    retried = [e for e in store.audit(run_id=RUN_ID) if e.kind is AuditKind.RETRIED]
    assert [e.actor for e in retried] == ["ana"]

    outcome = loop.resume(RUN_ID)
    assert isinstance(outcome, Completed)
    assert outcome.output == "Paid."
    assert [e["args"]["amount"] for e in ledger_entries(ledger)] == [4200]  # paid once
    assert store.load_run(RUN_ID).status is RunStatus.COMPLETED


def test_retry_refuses_a_run_that_did_not_fail_and_changes_nothing(
    hitl: Hitl, db_url: str, store: ApprovalStore, payment_run: Any
) -> None:
    run_id = payment_run.paused.run_id
    before = store.load_run(run_id)
    audit_before = store.audit(run_id=run_id)

    refused = hitl("retry", run_id, "--as", "ana", "--store", db_url)
    assert refused.code == 1
    assert refused.err.startswith("RunNotFailed:")
    assert "Traceback" not in refused.err
    assert store.load_run(run_id) == before
    assert store.audit(run_id=run_id) == audit_before

    unknown = hitl("retry", "no_such_run", "--as", "ana", "--store", db_url)
    assert unknown.code == 1
    assert unknown.err.startswith("UnknownRun:")


def test_runs_lists_every_status_and_refuses_an_unknown_one(
    hitl: Hitl, db_url: str, payment_run: Any
) -> None:
    listed = hitl("runs", "--store", db_url)
    assert listed.code == 0, listed.err
    assert payment_run.paused.run_id in listed.out
    assert "paused" in listed.out

    bogus = hitl("runs", "--status", "broken", "--store", db_url)
    assert bogus.code == 2
    assert "unknown status 'broken'" in bogus.err
