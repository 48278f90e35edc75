"""`hitl approve|reject|edit|respond`: each records exactly one decision, or nothing at all."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from hitl_core import (
    ApprovalRequest,
    ApprovalStore,
    AuditKind,
    Edit,
    ProposedAction,
    RequestStatus,
    Respond,
    open_store,
)
from hitl_core.clock import utcnow
from hitl_loop import Completed
from tests.cli.conftest import REQUESTER, Hitl, PaymentRun, decided_events
from tests.factories import payment_request

FINANCE_POLICY = """
[rules.send_payment]
when = { kind = "compare", source = "arg", path = "amount", op = ">", value = 1000 }
roles = ["finance"]
"""


@pytest.mark.parametrize(
    ("command", "extra", "kind", "feedback"),
    [
        ("approve", ["--feedback", "ok by me"], "approve", "ok by me"),
        ("reject", ["--feedback", "over budget"], "reject", "over budget"),
        ("respond", ["--answer", "Pay it next week."], "respond", None),
        ("edit", ["--set", "amount=4000", "--feedback", "cap at 4000"], "edit", "cap at 4000"),
    ],
)
def test_each_decision_is_recorded_once_as_given(
    hitl: Hitl,
    db_url: str,
    store: ApprovalStore,
    payment_run: PaymentRun,
    command: str,
    extra: list[str],
    kind: str,
    feedback: str | None,
) -> None:
    request = payment_run.request
    result = hitl(command, request.id, "--store", db_url, "--as", "ana", "--json", *extra)
    assert result.code == 0, result.err
    shown = ApprovalRequest.model_validate_json(result.out)

    stored = store.get(request.id)
    assert shown == stored
    assert stored.status is RequestStatus.DECIDED
    decision = stored.decision
    assert decision is not None
    assert (decision.kind, decision.by, decision.feedback) == (kind, "ana", feedback)
    assert (decision.request_id, decision.args_digest) == (request.id, request.args_digest)
    assert stored.action == request.action  # the proposal itself never changes
    if isinstance(decision, Edit):
        assert decision.args == {"amount": 4000, "recipient": "Acme Corp"}
    if isinstance(decision, Respond):
        assert decision.answer == "Pay it next week."

    events = decided_events(store, request.id)
    assert len(events) == 1
    event = events[0]
    assert (event.actor, event.decision, event.feedback) == ("ana", kind, feedback)
    assert event.args == {"amount": 4200, "recipient": "Acme Corp"}
    assert event.edited_args == (decision.args if isinstance(decision, Edit) else None)


def test_an_edit_from_the_cli_is_what_the_resumed_run_pays(
    hitl: Hitl, db_url: str, store: ApprovalStore, payment_run: PaymentRun
) -> None:
    result = hitl(
        "edit", payment_run.request.id, "--store", db_url, "--as", "ana", "--set", "amount=4000"
    )
    assert result.code == 0, result.err
    assert "edited by ana" in result.out
    assert "amount: 4200 -> 4000" in result.out
    done = payment_run.loop.resume(payment_run.paused.run_id)
    assert isinstance(done, Completed)
    assert payment_run.executed() == [
        {"tool": "send_payment", "args": {"amount": 4000, "recipient": "Acme Corp"}}
    ]
    assert store.get(payment_run.request.id).status is RequestStatus.RESUMED


def test_a_second_decision_exits_1_and_the_first_stands(
    hitl: Hitl, db_url: str, store: ApprovalStore, payment_run: PaymentRun
) -> None:
    request_id = payment_run.request.id
    assert hitl("reject", request_id, "--store", db_url, "--as", "ana").code == 0
    first = store.get(request_id)

    again = hitl("approve", request_id, "--store", db_url, "--as", "carol", "--json")
    assert (again.code, again.out) == (1, "")
    assert "AlreadyDecided" in again.err
    assert "already decided by ana" in again.err
    assert store.get(request_id) == first
    assert len(decided_events(store, request_id)) == 1


def test_an_edit_failing_the_tool_schema_exits_1_and_stays_pending(
    hitl: Hitl, db_url: str, store: ApprovalStore, payment_run: PaymentRun
) -> None:
    request_id = payment_run.request.id
    result = hitl(
        "edit", request_id, "--store", db_url, "--as", "ana", "--set", "amount=lots of money"
    )
    assert result.code == 1
    assert "EditArgumentsInvalid" in result.err
    assert "amount: 'lots of money' is not of type 'number'" in result.err
    assert store.get(request_id) == payment_run.request
    assert decided_events(store, request_id) == []


def test_edit_sets_nested_keys_and_json_values_and_reads_args_files(
    hitl: Hitl, db_url: str, store: ApprovalStore, tmp_path: Path
) -> None:
    action = ProposedAction(
        tool="wire_transfer",
        args={"amount": 4200, "recipient": {"name": "Acme", "iban": "DE00 0000"}, "memo": "x"},
        call_id="c1",
    )
    request = store.put(
        ApprovalRequest.create(run_id="run_w", adapter="test", action=action, reason="big")
    )
    result = hitl(
        "edit",
        request.id,
        "--store",
        db_url,
        "--as",
        "ana",
        "--set",
        "recipient.iban=DE89 3704 0044",
        "--set",
        "urgent=true",
        "--set",
        'reference="007"',
    )
    assert result.code == 0, result.err
    assert 'recipient.iban: "DE00 0000" -> "DE89 3704 0044"' in result.out
    assert "urgent: added true" in result.out
    decision = store.get(request.id).decision
    assert isinstance(decision, Edit)
    assert decision.args == {
        "amount": 4200,
        "recipient": {"name": "Acme", "iban": "DE89 3704 0044"},
        "memo": "x",
        "urgent": True,
        "reference": "007",
    }

    other = store.put(
        ApprovalRequest.create(run_id="run_f", adapter="test", action=action, reason="big")
    )
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"amount": 100, "recipient": {"name": "Acme"}}))
    from_file = hitl(
        "edit",
        other.id,
        "--store",
        db_url,
        "--as",
        "ana",
        "--args-file",
        str(args_file),
        "--set",
        "amount=150",
    )
    assert from_file.code == 0, from_file.err
    assert 'memo: removed (was "x")' in from_file.out
    edited = store.get(other.id).decision
    assert isinstance(edited, Edit)
    assert edited.args == {"amount": 150, "recipient": {"name": "Acme"}}


def test_edit_refuses_a_set_through_a_non_object_and_changes_nothing(
    hitl: Hitl, db_url: str, store: ApprovalStore, payment_run: PaymentRun
) -> None:
    request_id = payment_run.request.id
    result = hitl("edit", request_id, "--store", db_url, "--as", "ana", "--set", "amount.cents=5")
    assert result.code == 1
    assert "amount is 4200, not an object" in result.err
    no_change = hitl("edit", request_id, "--store", db_url, "--as", "ana")
    assert no_change.code == 2
    assert "--set KEY=VALUE" in no_change.err
    assert store.get(request_id) == payment_run.request
    assert decided_events(store, request_id) == []


def test_the_requester_may_not_approve_or_edit_but_may_reject(
    hitl: Hitl, db_url: str, store: ApprovalStore, payment_run: PaymentRun
) -> None:
    request_id = payment_run.request.id
    for command, extra in (("approve", []), ("edit", ["--set", "amount=1"])):
        result = hitl(command, request_id, "--store", db_url, "--as", REQUESTER, *extra)
        assert result.code == 1
        assert "SelfApproval" in result.err
        assert f"Reviewer '{REQUESTER}' started this run" in result.err
        assert store.get(request_id) == payment_run.request
    assert decided_events(store, request_id) == []

    rejected = hitl("reject", request_id, "--store", db_url, "--as", REQUESTER)
    assert rejected.code == 0, rejected.err
    decision = store.get(request_id).decision
    assert decision is not None
    assert (decision.kind, decision.by) == ("reject", REQUESTER)


def test_the_os_user_decides_when_no_name_is_given(
    hitl: Hitl,
    db_url: str,
    store: ApprovalStore,
    payment_run: PaymentRun,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGNAME", "dora")  # getpass.getuser() reads LOGNAME first
    result = hitl("approve", payment_run.request.id, "--store", db_url)
    assert result.code == 0, result.err
    decision = store.get(payment_run.request.id).decision
    assert decision is not None
    assert decision.by == "dora"

    second = store.put(payment_request(run_id="run_env"))
    monkeypatch.setenv("HITL_REVIEWER", "erin")
    assert hitl("reject", second.id, "--store", db_url).code == 0
    rejected = store.get(second.id).decision
    assert rejected is not None
    assert rejected.by == "erin"


def test_policy_roles_refuse_outsiders_and_admit_the_role(
    hitl: Hitl,
    db_url: str,
    store: ApprovalStore,
    payment_run: PaymentRun,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(FINANCE_POLICY)
    request_id = payment_run.request.id

    refused = hitl(
        "approve", request_id, "--store", db_url, "--as", "carol", "--policy", str(policy)
    )
    assert refused.code == 1
    assert "NotAuthorized" in refused.err
    assert "the policy allows roles finance" in refused.err
    assert store.get(request_id) == payment_run.request
    assert decided_events(store, request_id) == []

    monkeypatch.setenv("HITL_POLICY", str(policy))  # the policy from the environment
    still = hitl("approve", request_id, "--store", db_url, "--as", "carol", "--role", "ops")
    assert still.code == 1
    assert store.get(request_id).is_pending

    allowed = hitl("approve", request_id, "--store", db_url, "--as", "carol", "--role", "finance")
    assert allowed.code == 0, allowed.err
    decision = store.get(request_id).decision
    assert decision is not None
    assert (decision.kind, decision.by) == ("approve", "carol")
    assert [e.actor for e in decided_events(store, request_id)] == ["carol"]


def test_an_expired_or_unknown_request_takes_no_decision(
    hitl: Hitl, db_url: str, store: ApprovalStore
) -> None:
    overdue = store.put(
        payment_request(now=utcnow() - timedelta(hours=2), expires_in=timedelta(hours=1))
    )
    result = hitl("approve", overdue.id, "--store", db_url, "--as", "ana")
    assert result.code == 1
    assert "RequestExpired" in result.err
    assert store.get(overdue.id) == overdue
    assert decided_events(store, overdue.id) == []

    unknown = hitl("reject", "req_missing", "--store", db_url, "--as", "ana")
    assert unknown.code == 1
    assert "UnknownRequest" in unknown.err
    assert [r.id for r in store.list_requests(status=None).items] == [overdue.id]


def test_a_respond_only_request_refuses_approval(
    hitl: Hitl, db_url: str, store: ApprovalStore
) -> None:
    question = store.put(payment_request(allowed=("respond", "reject")))
    refused = hitl("approve", question.id, "--store", db_url, "--as", "ana")
    assert refused.code == 1
    assert "DecisionNotAllowed" in refused.err
    assert store.get(question.id).is_pending
    answered = hitl("respond", question.id, "--store", db_url, "--as", "ana", "--answer", "no")
    assert answered.code == 0, answered.err
    assert isinstance(store.get(question.id).decision, Respond)


def test_decisions_on_postgresql(hitl: Hitl, postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        first, second = (store.put(payment_request(call_id=c)) for c in ("a", "b"))
        listed = hitl("pending", "--store", postgres_url, "--json")
        assert listed.code == 0, listed.err
        assert sorted(item["id"] for item in listed.json()) == sorted([first.id, second.id])

        edited = hitl(
            "edit", first.id, "--store", postgres_url, "--as", "ana", "--set", "amount=4000"
        )
        assert edited.code == 0, edited.err
        again = hitl("approve", first.id, "--store", postgres_url, "--as", "bo")
        assert again.code == 1
        assert "AlreadyDecided" in again.err

        decision = store.get(first.id).decision
        assert isinstance(decision, Edit)
        assert (decision.args["amount"], decision.by) == (4000, "ana")
        assert store.get(second.id).is_pending
        decided = [e for e in store.audit() if e.kind is AuditKind.DECIDED]
        assert [(e.request_id, e.actor, e.edited_args) for e in decided] == [
            (first.id, "ana", {"amount": 4000, "recipient": "Acme Corp"})
        ]
        remaining = hitl("pending", "--store", postgres_url, "--json")
        assert [item["id"] for item in remaining.json()] == [second.id]
    finally:
        store.close()
