"""The `ApprovalStore` contract, run against every store kind."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hitl_core import (
    AlreadyDecided,
    ApprovalStore,
    AuditKind,
    Decision,
    DecisionMismatch,
    DecisionNotAllowed,
    EditArgumentsInvalid,
    EditRenamesTool,
    ExecutionRecord,
    MalformedDecision,
    ManualClock,
    RequestExpired,
    RequestIdConflict,
    RequestNotDecided,
    RequestStatus,
    RunChanged,
    RunRecord,
    RunStatus,
    UnknownDecisionKind,
    UnknownRequest,
    UnknownRun,
)
from hitl_core.errors import HITLError
from hitl_core.stores.leases import RunLeases, supports_leases
from tests.factories import payment_request


def snapshot(store: ApprovalStore, request_id: str) -> tuple[object, int]:
    return store.get(request_id), len(store.audit())


def test_put_is_idempotent_by_id(store: ApprovalStore) -> None:
    """Raising the same pause twice keeps one request and one `created` event."""
    request = payment_request()
    first = store.put(request)
    again = store.put(payment_request(run_id=request.run_id))
    assert first == again == store.get(request.id)
    assert [e.kind for e in store.audit()] == [AuditKind.CREATED]
    assert store.list_requests().items == [first]


def test_put_refuses_the_same_id_for_other_arguments(store: ApprovalStore) -> None:
    request = store.put(payment_request(amount=4200))
    with pytest.raises(RequestIdConflict):
        store.put(payment_request(run_id=request.run_id, amount=9999))
    assert store.get(request.id).action.args["amount"] == 4200
    assert len(store.audit()) == 1


def test_unknown_request(store: ApprovalStore) -> None:
    with pytest.raises(UnknownRequest, match="req_nope"):
        store.get("req_nope")
    with pytest.raises(UnknownRequest):
        store.decide("req_nope", Decision.approve(by="ana"))
    assert store.audit() == []


def test_decide_records_the_bound_decision_and_audits_it(store: ApprovalStore) -> None:
    request = store.put(payment_request())
    decided = store.decide(
        request.id,
        Decision.edit({"amount": 4000, "recipient": "Acme Corp"}, by="ana", feedback="cap"),
    )
    assert decided.status is RequestStatus.DECIDED
    assert decided.decision is not None
    assert decided.decision.request_id == request.id
    assert decided.decision.args_digest == request.args_digest
    event = store.audit(request_id=request.id)[-1]
    assert (event.kind, event.actor, event.decision) == (AuditKind.DECIDED, "ana", "edit")
    assert event.args == {"amount": 4200, "recipient": "Acme Corp"}
    assert event.edited_args == {"amount": 4000, "recipient": "Acme Corp"}
    assert event.feedback == "cap"


def test_a_second_decision_is_a_conflict_and_changes_nothing(store: ApprovalStore) -> None:
    request = store.put(payment_request())
    store.decide(request.id, Decision.approve(by="ana"))
    before = snapshot(store, request.id)
    with pytest.raises(AlreadyDecided, match="already decided by ana") as caught:
        store.decide(request.id, Decision.reject("no", by="bob"))
    assert caught.value.request_id == request.id
    assert snapshot(store, request.id) == before


@pytest.mark.parametrize(
    ("decision", "error"),
    [
        (Decision.respond("here", by="ana"), DecisionNotAllowed),
        (Decision.edit({"amount": "lots", "recipient": "Acme"}, by="ana"), EditArgumentsInvalid),
        (Decision.edit({"amount": 10}, by="ana"), EditArgumentsInvalid),
        (
            Decision.edit({"amount": 10, "recipient": "A"}, by="ana", tool="wire_money"),
            EditRenamesTool,
        ),
        (
            Decision.approve(by="ana").model_copy(update={"args_digest": "sha256:old"}),
            DecisionMismatch,
        ),
        (
            Decision.approve(by="ana").model_copy(update={"request_id": "req_other"}),
            DecisionMismatch,
        ),
    ],
)
def test_bad_decisions_are_refused_and_change_nothing(
    store: ApprovalStore, decision: Decision, error: type[HITLError]
) -> None:
    request = store.put(payment_request(allowed=("approve", "edit", "reject")))
    before = snapshot(store, request.id)
    with pytest.raises(error) as caught:
        store.decide(request.id, decision)
    assert "unchanged" in str(caught.value)
    assert snapshot(store, request.id) == before
    assert store.get(request.id).status is RequestStatus.PENDING


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"type": "maybe", "by": "ana"}, UnknownDecisionKind),
        ({"type": "edit", "by": "ana"}, MalformedDecision),
    ],
)
def test_bad_payloads_are_refused_and_change_nothing(
    store: ApprovalStore, payload: dict[str, str], error: type[HITLError]
) -> None:
    request = store.put(payment_request())
    before = snapshot(store, request.id)
    with pytest.raises(error, match="unchanged"):
        store.decide(request.id, payload)
    assert snapshot(store, request.id) == before


def test_a_decision_may_arrive_as_json_data(store: ApprovalStore) -> None:
    request = store.put(payment_request())
    decided = store.decide(request.id, {"type": "reject", "by": "ana", "feedback": "no"})
    assert decided.decision == Decision.reject("no", by="ana").model_copy(
        update={
            "at": decided.decision.at if decided.decision else None,
            "request_id": request.id,
            "args_digest": request.args_digest,
        }
    )


def test_edit_schema_errors_name_each_argument(store: ApprovalStore) -> None:
    request = store.put(payment_request())
    with pytest.raises(EditArgumentsInvalid) as caught:
        store.decide(request.id, Decision.edit({"amount": -5, "extra": 1}, by="ana"))
    problems = " ".join(caught.value.problems)
    assert "amount" in problems
    assert "recipient" in problems
    assert "extra" in problems


def test_expiry_applies_the_expiry_outcome(store: ApprovalStore, clock: ManualClock) -> None:
    request = store.put(payment_request(now=clock.now(), expires_in=timedelta(hours=1)))
    clock.advance(timedelta(minutes=59))
    assert store.expire_due() == []
    clock.advance(timedelta(minutes=1))
    with pytest.raises(RequestExpired):
        store.decide(request.id, Decision.approve(by="ana"))
    expired = store.expire_due()
    assert [r.id for r in expired] == [request.id]
    stored = store.get(request.id)
    assert stored.status is RequestStatus.EXPIRED
    assert stored.decision == Decision.reject("approval expired", by="hitl:expiry").model_copy(
        update={"at": clock.now(), "request_id": request.id, "args_digest": request.args_digest}
    )
    assert [e.kind for e in store.audit()] == [AuditKind.CREATED, AuditKind.EXPIRED]
    assert store.expire_due() == []
    with pytest.raises(RequestExpired, match="expired"):
        store.decide(request.id, Decision.approve(by="ana"))


def test_expire_due_filters_by_run(store: ApprovalStore, clock: ManualClock) -> None:
    a = store.put(payment_request(now=clock.now(), expires_in=timedelta(seconds=1)))
    b = store.put(payment_request(now=clock.now(), expires_in=timedelta(seconds=1)))
    clock.advance(timedelta(seconds=5))
    assert [r.id for r in store.expire_due(run_id=b.run_id)] == [b.id]
    assert store.get(a.id).status is RequestStatus.PENDING


def test_mark_resumed_requires_an_answer_and_is_idempotent(store: ApprovalStore) -> None:
    request = store.put(payment_request())
    with pytest.raises(RequestNotDecided):
        store.mark_resumed(request.id)
    store.decide(request.id, Decision.approve(by="ana"))
    resumed = store.mark_resumed(request.id)
    assert resumed.status is RequestStatus.RESUMED
    assert store.mark_resumed(request.id) == resumed
    assert [e.kind for e in store.audit()].count(AuditKind.RESUMED) == 1


def test_listing_filters_and_pages(store: ApprovalStore, clock: ManualClock) -> None:
    run = "run_listing"
    made = []
    for i in range(7):
        made.append(store.put(payment_request(run_id=run, call_id=f"c{i}", now=clock.now())))
        clock.advance(timedelta(seconds=1))
    other = store.put(payment_request(now=clock.now()))
    store.decide(made[0].id, Decision.approve(by="ana"))
    seen, cursor = [], None
    while True:
        page = store.list_requests(run_id=run, limit=3, cursor=cursor)
        seen += [r.id for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [r.id for r in made[1:]]
    assert [r.id for r in store.list_requests(status=RequestStatus.DECIDED).items] == [made[0].id]
    assert len(store.list_requests(status=None).items) == 8
    assert store.list_requests(tool="other_tool").items == []
    assert other.id in [r.id for r in store.list_requests().items]


def _run(
    run_id: str, clock: ManualClock, state: str = "{}", status: RunStatus = RunStatus.PAUSED
) -> RunRecord:
    now = clock.now()
    return RunRecord(
        run_id=run_id, adapter="test", status=status, state=state, created_at=now, updated_at=now
    )


def test_runs_save_with_their_requests_atomically(store: ApprovalStore, clock: ManualClock) -> None:
    with pytest.raises(UnknownRun):
        store.load_run("run_x")
    request = payment_request(run_id="run_x")
    saved = store.save_run(_run("run_x", clock, '{"step": 1}'), [request], expected_version=0)
    assert saved.version == 1
    assert store.load_run("run_x").state == '{"step": 1}'
    assert store.get(request.id).is_pending
    clash = payment_request(run_id="run_x", amount=1)
    with pytest.raises(RequestIdConflict):
        store.save_run(_run("run_x", clock, '{"step": 2}'), [clash], expected_version=1)
    assert store.load_run("run_x").state == '{"step": 1}'
    with pytest.raises(RunChanged):
        store.save_run(_run("run_x", clock, '{"step": 3}'), expected_version=0)
    assert store.save_run(_run("run_x", clock, '{"step": 4}'), expected_version=1).version == 2


def test_first_execution_record_wins(store: ApprovalStore, clock: ManualClock) -> None:
    first = ExecutionRecord(
        run_id="r",
        call_id="c",
        tool="t",
        args={"a": 1},
        output="one",
        at=clock.now(),
        adapter="hitl_loop",
    )
    second = first.model_copy(update={"output": "two", "adapter": "other"})
    assert store.record_execution(first) == first
    assert store.record_execution(second) == first
    assert store.executions("r") == {"c": first}
    executed = [e for e in store.audit(run_id="r") if e.kind is AuditKind.EXECUTED]
    assert len(executed) == 1
    assert (executed[0].args, executed[0].actor) == ({"a": 1}, "hitl_loop")


def test_cancel_run(store: ApprovalStore, clock: ManualClock) -> None:
    a = payment_request(run_id="run_c", call_id="a")
    b = payment_request(run_id="run_c", call_id="b")
    store.save_run(_run("run_c", clock), [a, b])
    store.decide(a.id, Decision.approve(by="ana"))
    cancelled = store.cancel_run("run_c", by="ops", reason="customer left")
    assert [r.id for r in cancelled] == [b.id]
    assert store.get(b.id).status is RequestStatus.CANCELLED
    assert store.get(a.id).status is RequestStatus.DECIDED
    assert store.load_run("run_c").status is RunStatus.CANCELLED
    with pytest.raises(AlreadyDecided, match="cancelled"):
        store.decide(b.id, Decision.approve(by="ana"))


def test_leases_hand_each_ready_run_to_one_worker(store: ApprovalStore, clock: ManualClock) -> None:
    assert supports_leases(store)
    assert isinstance(store, RunLeases)
    runs = {name: payment_request(run_id=name) for name in ("run_a", "run_b", "run_c")}
    for name, request in runs.items():
        store.save_run(_run(name, clock), [request])
    store.decide(runs["run_a"].id, Decision.approve(by="ana"))
    store.decide(runs["run_b"].id, Decision.reject("no", by="ana"))
    lease = timedelta(seconds=30)
    first = store.claim_ready("w1", lease=lease, limit=1)
    second = store.claim_ready("w2", lease=lease, limit=10)
    assert [c.run_id for c in first] == ["run_a"]
    assert [c.run_id for c in second] == ["run_b"]  # run_c has nothing decided
    assert (first[0].adapter, first[0].worker, first[0].until) == (
        "test",
        "w1",
        clock.now() + lease,
    )
    assert store.claim_ready("w3", lease=lease) == []
    store.release("run_a", "w2")  # not w2's lease: nothing happens
    assert store.claim_ready("w3", lease=lease) == []
    store.release("run_a", "w1")
    assert [c.run_id for c in store.claim_ready("w3", lease=lease)] == ["run_a"]
    clock.advance(timedelta(seconds=31))  # w2 died: its lease runs out
    assert [c.run_id for c in store.claim_ready("w4", lease=lease)] == ["run_a", "run_b"]


def test_finished_runs_are_not_claimed(store: ApprovalStore, clock: ManualClock) -> None:
    assert isinstance(store, RunLeases)
    request = payment_request(run_id="run_done")
    store.save_run(_run("run_done", clock), [request])
    store.decide(request.id, Decision.approve(by="ana"))
    store.save_run(_run("run_done", clock, status=RunStatus.COMPLETED))
    assert store.claim_ready("w1", lease=timedelta(seconds=30)) == []
