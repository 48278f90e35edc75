"""Requests and their decisions: put once, decide once, expire and resume, list in pages."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from hitl_conformance.stores.builders import at_once, payment_request, run_record
from hitl_core import (
    AlreadyDecided,
    ApprovalStore,
    AuditKind,
    Decision,
    DecisionMismatch,
    DecisionNotAllowed,
    EditArgumentsInvalid,
    EditRenamesTool,
    HITLError,
    MalformedDecision,
    ManualClock,
    NotAuthorized,
    RequestExpired,
    RequestIdConflict,
    RequestNotDecided,
    RequestStatus,
    SelfApproval,
    UnknownDecisionKind,
    UnknownRequest,
)

__all__ = ["RequestTests"]


def _snapshot(store: ApprovalStore, request_id: str) -> tuple[object, int]:
    return store.get(request_id), len(store.audit())


class RequestTests:
    """`put`, `get`, `decide`, `expire_due`, `mark_resumed`, `list_requests`."""

    def test_put_is_idempotent_by_id(self, store: ApprovalStore) -> None:
        """Raising the same pause twice keeps one request and one `created` event.

        If this fails, check that `put` returns the stored request when the id exists.
        """
        request = payment_request()
        first = store.put(request)
        again = store.put(payment_request(run_id=request.run_id))
        assert first == again == store.get(request.id)
        assert [e.kind for e in store.audit()] == [AuditKind.CREATED]
        assert store.list_requests().items == [first]

    def test_put_refuses_the_same_id_for_other_arguments(self, store: ApprovalStore) -> None:
        """A second call under one request id is refused and the first stays as it was.

        If this fails, check that `put` calls `lifecycle.create` with the stored request.
        """
        request = store.put(payment_request(amount=4200))
        with pytest.raises(RequestIdConflict):
            store.put(payment_request(run_id=request.run_id, amount=9999))
        assert store.get(request.id).action.args["amount"] == 4200
        assert len(store.audit()) == 1

    def test_unknown_request(self, store: ApprovalStore) -> None:
        """Reading or deciding an id nobody put raises `UnknownRequest` and writes nothing."""
        with pytest.raises(UnknownRequest, match="req_nope"):
            store.get("req_nope")
        with pytest.raises(UnknownRequest):
            store.decide("req_nope", Decision.approve(by="ana"))
        assert store.audit() == []

    def test_decide_records_the_bound_decision_and_audits_it(self, store: ApprovalStore) -> None:
        """A decision is stored bound to its request and arguments, and audited in full.

        If this fails, check that `decide` stores what `lifecycle.decide` returns.
        """
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

    def test_a_second_decision_is_a_conflict_and_changes_nothing(
        self, store: ApprovalStore
    ) -> None:
        """A second decision raises `AlreadyDecided`; the first stands and nothing is written."""
        request = store.put(payment_request())
        store.decide(request.id, Decision.approve(by="ana"))
        before = _snapshot(store, request.id)
        with pytest.raises(AlreadyDecided, match="already decided by ana") as caught:
            store.decide(request.id, Decision.reject("no", by="bob"))
        assert caught.value.request_id == request.id
        assert _snapshot(store, request.id) == before

    def test_racing_deciders_leave_one_decision(self, store: ApprovalStore) -> None:
        """Eight threads deciding one request at once: one wins, seven get `AlreadyDecided`.

        If this fails, check that the status check and the update share one transaction.
        """
        request = store.put(payment_request())
        race = at_once(
            [partial(store.decide, request.id, Decision.approve(by=f"r{i}")) for i in range(8)]
        )
        assert len(race.results) == 1
        assert [type(e) for e in race.errors] == [AlreadyDecided] * 7
        decided = [e for e in store.audit() if e.kind is AuditKind.DECIDED]
        assert race.results[0].decision is not None
        assert [e.actor for e in decided] == [race.results[0].decision.by]

    @pytest.mark.parametrize(
        ("decision", "error"),
        [
            (Decision.respond("here", by="ana"), DecisionNotAllowed),
            (
                Decision.edit({"amount": "lots", "recipient": "Acme"}, by="ana"),
                EditArgumentsInvalid,
            ),
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
        self, store: ApprovalStore, decision: Decision, error: type[HITLError]
    ) -> None:
        """Each kind of unusable decision raises its own error and leaves the request pending."""
        request = store.put(payment_request(allowed=("approve", "edit", "reject")))
        before = _snapshot(store, request.id)
        with pytest.raises(error) as caught:
            store.decide(request.id, decision)
        assert "unchanged" in str(caught.value)
        assert _snapshot(store, request.id) == before
        assert store.get(request.id).status is RequestStatus.PENDING

    @pytest.mark.parametrize(
        ("payload", "error"),
        [
            ({"type": "maybe", "by": "ana"}, UnknownDecisionKind),
            ({"type": "edit", "by": "ana"}, MalformedDecision),
        ],
    )
    def test_bad_payloads_are_refused_and_change_nothing(
        self, store: ApprovalStore, payload: dict[str, str], error: type[HITLError]
    ) -> None:
        """A decision payload that does not parse is refused and nothing is written."""
        request = store.put(payment_request())
        before = _snapshot(store, request.id)
        with pytest.raises(error, match="unchanged"):
            store.decide(request.id, payload)
        assert _snapshot(store, request.id) == before

    def test_a_decision_may_arrive_as_json_data(self, store: ApprovalStore) -> None:
        """A decision given as JSON data is stored as the model it parses to."""
        request = store.put(payment_request())
        decided = store.decide(request.id, {"type": "reject", "by": "ana", "feedback": "no"})
        assert decided.decision == Decision.reject("no", by="ana").model_copy(
            update={
                "at": decided.decision.at if decided.decision else None,
                "request_id": request.id,
                "args_digest": request.args_digest,
            }
        )

    def test_edit_schema_errors_name_each_argument(self, store: ApprovalStore) -> None:
        """An edit failing the tool's schema names every offending argument."""
        request = store.put(payment_request())
        with pytest.raises(EditArgumentsInvalid) as caught:
            store.decide(request.id, Decision.edit({"amount": -5, "extra": 1}, by="ana"))
        problems = " ".join(caught.value.problems)
        assert "amount" in problems
        assert "recipient" in problems
        assert "extra" in problems

    def test_named_reviewers_and_roles_decide_and_nobody_else(self, store: ApprovalStore) -> None:
        """A request naming reviewers or roles takes decisions from them only.

        If this fails, check that `decide` passes its `roles` to `lifecycle.decide`.
        """
        named = store.put(payment_request(reviewers=("ana",), roles=("finance",)))
        with pytest.raises(NotAuthorized, match="bob"):
            store.decide(named.id, Decision.approve(by="bob"), roles=("support",))
        assert store.get(named.id).is_pending
        assert [e.kind for e in store.audit()] == [AuditKind.CREATED]
        by_role = store.decide(named.id, Decision.approve(by="bob"), roles=("Finance",))
        assert by_role.decision is not None
        assert by_role.decision.by == "bob"
        other = store.put(payment_request(reviewers=("ana",)))
        assert store.decide(other.id, Decision.reject("no", by="ANA")).status is (
            RequestStatus.DECIDED
        )

    def test_the_requester_may_reject_but_not_approve_their_own_call(
        self, store: ApprovalStore
    ) -> None:
        """Whoever started the run cannot approve or edit its call; rejecting is allowed.

        If this fails, check that `decide` goes through `lifecycle.decide` (`check_decider`).
        """
        request = store.put(payment_request(requested_by="bob"))
        for decision in (
            Decision.approve(by="bob"),
            Decision.edit({"amount": 1, "recipient": "Acme Corp"}, by="Bob"),
        ):
            with pytest.raises(SelfApproval):
                store.decide(request.id, decision)
        assert store.get(request.id).is_pending
        assert len(store.audit()) == 1
        assert store.decide(request.id, Decision.reject("no", by="bob")).decision is not None

    def test_expiry_applies_the_expiry_outcome(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """A request past its deadline takes its expiry outcome once, and no decision after."""
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
            update={
                "at": clock.now(),
                "request_id": request.id,
                "args_digest": request.args_digest,
            }
        )
        assert [e.kind for e in store.audit()] == [AuditKind.CREATED, AuditKind.EXPIRED]
        assert store.expire_due() == []
        with pytest.raises(RequestExpired, match="expired"):
            store.decide(request.id, Decision.approve(by="ana"))

    def test_expire_due_filters_by_run_and_limit(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """`expire_due(run_id=...)` expires that run's due requests only; `limit` caps a batch."""
        a = store.put(payment_request(now=clock.now(), expires_in=timedelta(seconds=1)))
        b = store.put(payment_request(now=clock.now(), expires_in=timedelta(seconds=1)))
        c = store.put(payment_request(now=clock.now(), expires_in=timedelta(seconds=2)))
        clock.advance(timedelta(seconds=5))
        assert [r.id for r in store.expire_due(run_id=b.run_id)] == [b.id]
        assert store.get(a.id).status is RequestStatus.PENDING
        assert [r.id for r in store.expire_due(limit=1)] == [a.id]
        assert [r.id for r in store.expire_due()] == [c.id]

    def test_mark_resumed_requires_an_answer_and_is_idempotent(self, store: ApprovalStore) -> None:
        """A request is marked resumed only once answered, and a second mark changes nothing."""
        request = store.put(payment_request())
        with pytest.raises(RequestNotDecided):
            store.mark_resumed(request.id)
        store.decide(request.id, Decision.approve(by="ana"))
        resumed = store.mark_resumed(request.id)
        assert resumed.status is RequestStatus.RESUMED
        assert store.mark_resumed(request.id) == resumed
        assert [e.kind for e in store.audit()].count(AuditKind.RESUMED) == 1

    def test_listing_filters_and_pages(self, store: ApprovalStore, clock: ManualClock) -> None:
        """`list_requests` pages in creation order and filters by status, run and tool."""
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
        decided = store.list_requests(status=RequestStatus.DECIDED).items
        assert [r.id for r in decided] == [made[0].id]
        assert len(store.list_requests(status=None).items) == 8
        assert store.list_requests(tool="other_tool").items == []
        assert other.id in [r.id for r in store.list_requests().items]

    def test_cancel_run_cancels_pending_requests_only(
        self, store: ApprovalStore, clock: ManualClock
    ) -> None:
        """Cancelling a run cancels its pending requests; answered ones keep their decision."""
        a = payment_request(run_id="run_c", call_id="a")
        b = payment_request(run_id="run_c", call_id="b")
        store.save_run(run_record("run_c", clock), [a, b])
        store.decide(a.id, Decision.approve(by="ana"))
        cancelled = store.cancel_run("run_c", by="ops", reason="customer left")
        assert [r.id for r in cancelled] == [b.id]
        assert store.get(b.id).status is RequestStatus.CANCELLED
        assert store.get(a.id).status is RequestStatus.DECIDED
        with pytest.raises(AlreadyDecided, match="cancelled"):
            store.decide(b.id, Decision.approve(by="ana"))
