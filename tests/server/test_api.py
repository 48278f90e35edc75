"""The review API over memory, SQLite and PostgreSQL: reading, deciding, and every refusal.

Each refusal also checks what it must not do: the request is still pending and the
audit trail has not grown.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hitl_core import (
    ApprovalRequest,
    ApprovalStore,
    AuditKind,
    Decision,
    ManualClock,
    Policy,
    ProposedAction,
    RequestStatus,
    Rule,
    always,
    open_store,
)
from hitl_server.app import create_app
from tests.factories import payment_request
from tests.server.conftest import (
    ALICE,
    BOB,
    CAROL,
    REVIEWERS,
    LiveServer,
    PaymentsAgent,
    ServeApi,
    error_of,
)
from tests.server.live import serve


def put_requests(store: ApprovalStore, clock: ManualClock) -> list[ApprovalRequest]:
    """Five pending requests a second apart: four payments in two runs, one delete."""
    made = []
    for index in range(4):
        run = "run_a" if index < 2 else "run_b"
        made.append(store.put(payment_request(run_id=run, call_id=f"c{index}", now=clock.now())))
        clock.advance(timedelta(seconds=1))
    delete = ApprovalRequest.create(
        run_id="run_b",
        adapter="test",
        action=ProposedAction(tool="delete_rows", args={"count": 50}, call_id="c4"),
        reason="count 50 > 10",
        now=clock.now(),
    )
    made.append(store.put(delete))
    return made


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


def assert_untouched(api: LiveServer, request_id: str, audit_before: int) -> None:
    """A refused decision changed nothing: still pending, no audit event added."""
    assert api.store.get(request_id).status is RequestStatus.PENDING
    assert len(api.audit()) == audit_before


# -- reading --------------------------------------------------------------------------


def test_lists_filters_and_pages(api: LiveServer, clock: ManualClock) -> None:
    made = put_requests(api.store, clock)
    api.store.decide(made[1].id, Decision.approve(by="ana"))
    http = api.client()

    pending = http.get("/v1/requests").json()
    assert ids(pending) == [made[i].id for i in (0, 2, 3, 4)]
    assert pending["next_cursor"] is None
    assert ids(http.get("/v1/requests", params={"status": "decided"}).json()) == [made[1].id]
    assert ids(http.get("/v1/requests", params={"status": "any"}).json()) == [r.id for r in made]
    assert ids(http.get("/v1/requests", params={"status": "expired"}).json()) == []
    by_run = http.get("/v1/requests", params={"status": "any", "run_id": "run_a"}).json()
    assert ids(by_run) == [made[0].id, made[1].id]
    by_tool = http.get("/v1/requests", params={"tool": "delete_rows"}).json()
    assert ids(by_tool) == [made[4].id]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"status": "any", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = http.get("/v1/requests", params=params).json()
        seen += ids(page)
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [r.id for r in made]
    assert pages == 3


def test_gets_one_request_as_stored(api: LiveServer) -> None:
    request = api.store.put(payment_request())
    response = api.client().get(f"/v1/requests/{request.id}")
    assert response.status_code == 200
    assert ApprovalRequest.model_validate(response.json()) == api.store.get(request.id)


def test_me_is_the_tokens_reviewer(api: LiveServer) -> None:
    assert api.client(ALICE).get("/v1/me").json() == {"id": "alice", "roles": ["finance"]}
    assert api.client(BOB).get("/v1/me").json() == {"id": "bob", "roles": []}


def test_health_and_root_need_no_token(api: LiveServer) -> None:
    http = api.client(None)
    assert http.get("/healthz").json() == {"status": "ok"}
    root = http.get("/", follow_redirects=False)
    assert root.status_code in (302, 307)
    assert root.headers["location"] == "/inbox/"
    inbox = http.get("/inbox/")
    assert inbox.status_code == 200
    assert inbox.headers["content-type"].startswith("text/html")


# -- deciding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "approve", "feedback": "ok"}, {"type": "approve", "feedback": "ok"}),
        (
            {"type": "edit", "args": {"amount": 3000, "recipient": "Acme Corp"}},
            {"type": "edit", "args": {"amount": 3000, "recipient": "Acme Corp"}},
        ),
        ({"type": "reject", "feedback": "too much"}, {"type": "reject", "feedback": "too much"}),
        (
            {"type": "respond", "answer": "Pay 100 only"},
            {"type": "respond", "answer": "Pay 100 only"},
        ),
    ],
)
def test_each_kind_is_recorded_under_the_tokens_reviewer(
    api: LiveServer, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    request = api.store.put(payment_request())
    response = api.client(CAROL).post(f"/v1/requests/{request.id}/decision", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["resume"] == "none"
    stored = api.store.get(request.id)
    assert stored.status is RequestStatus.DECIDED
    assert stored.decision is not None
    assert stored.decision.by == "carol"
    assert stored.decision.model_dump(mode="json", include=set(expected)) == expected
    assert ApprovalRequest.model_validate(result["request"]) == stored
    decided = [e for e in api.audit() if e.kind is AuditKind.DECIDED]
    assert [(e.request_id, e.actor, e.decision) for e in decided] == [
        (request.id, "carol", body["type"])
    ]


def test_a_by_field_is_refused_not_trusted(api: LiveServer) -> None:
    request = api.store.put(payment_request())
    before = len(api.audit())
    response = api.client(BOB).post(
        f"/v1/requests/{request.id}/decision", json={"type": "approve", "by": "alice"}
    )
    assert error_of(response) == (422, "InvalidInput")
    assert "'by' is not accepted" in response.json()["message"]
    assert_untouched(api, request.id, before)


def test_the_args_digest_binds_the_decision(api: LiveServer) -> None:
    request = api.store.put(payment_request())
    http = api.client()
    before = len(api.audit())
    stale = http.post(
        f"/v1/requests/{request.id}/decision",
        json={"type": "approve", "args_digest": "sha256:" + "0" * 64},
    )
    assert error_of(stale) == (422, "DecisionMismatch")
    assert_untouched(api, request.id, before)
    fresh = http.post(
        f"/v1/requests/{request.id}/decision",
        json={"type": "approve", "args_digest": request.args_digest},
    )
    assert fresh.status_code == 200


# -- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [None, "Bearer nobody-holds-this", "Basic YWxpY2U6eA==", "Bearer"]
)
def test_no_or_unknown_token_is_401_and_changes_nothing(
    api: LiveServer, header: str | None
) -> None:
    request = api.store.put(payment_request())
    before = len(api.audit())
    http = api.client(None)
    headers = {"Authorization": header} if header else {}
    for response in (
        http.post(f"/v1/requests/{request.id}/decision", json={"type": "approve"}, headers=headers),
        http.post(f"/v1/requests/{request.id}/decision", content=b"{not json", headers=headers),
        http.get("/v1/requests", headers=headers),
        http.get("/v1/no-such-path", headers=headers),
    ):
        assert error_of(response) == (401, "NotAuthenticated")
        assert response.headers["www-authenticate"] == "Bearer"
    assert_untouched(api, request.id, before)


def test_a_reviewer_outside_the_rules_roles_is_403(serve_api: ServeApi) -> None:
    policy = Policy(rules={"send_payment": Rule(when=always(), roles=("finance",))})
    api = serve_api(policy=policy)
    request = api.store.put(payment_request())
    before = len(api.audit())
    for kind in ("approve", "reject"):
        refused = api.client(BOB).post(f"/v1/requests/{request.id}/decision", json={"type": kind})
        assert error_of(refused) == (403, "NotAuthorized")
        assert "finance" in refused.json()["message"]
        assert refused.json()["request_id"] == request.id
    assert_untouched(api, request.id, before)
    allowed = api.client(ALICE).post(
        f"/v1/requests/{request.id}/decision", json={"type": "approve"}
    )
    assert allowed.status_code == 200
    assert api.store.get(request.id).decision.by == "alice"  # type: ignore[union-attr]


def test_the_requester_cannot_approve_their_own_run(
    serve_api: ServeApi, store: ApprovalStore, tmp_path: Path
) -> None:
    agent = PaymentsAgent(store, tmp_path)
    api = serve_api()
    request = agent.pause(requested_by="bob").requests[0]
    before = len(api.audit())
    bob = api.client(BOB)
    for body in (
        {"type": "approve"},
        {"type": "edit", "args": {"amount": 10, "recipient": "Acme Corp"}},
    ):
        refused = bob.post(f"/v1/requests/{request.id}/decision", json=body)
        assert error_of(refused) == (403, "SelfApproval")
    assert_untouched(api, request.id, before)
    rejected = bob.post(f"/v1/requests/{request.id}/decision", json={"type": "reject"})
    assert rejected.status_code == 200
    assert api.store.get(request.id).decision.by == "bob"  # type: ignore[union-attr]


def test_unknown_ids_are_404(api: LiveServer) -> None:
    http = api.client()
    before = len(api.audit())
    for response in (
        http.get("/v1/requests/req_missing"),
        http.post("/v1/requests/req_missing/decision", json={"type": "approve"}),
    ):
        assert error_of(response) == (404, "UnknownRequest")
        assert response.json()["request_id"] == "req_missing"
    assert error_of(http.get("/v1/runs/run_missing/audit")) == (404, "UnknownRun")
    assert error_of(http.get("/v1/no-such-path")) == (404, "NotFound")
    assert len(api.audit()) == before


def test_a_second_decision_is_409_and_the_first_stands(api: LiveServer) -> None:
    request = api.store.put(payment_request())
    first = api.client(ALICE).post(f"/v1/requests/{request.id}/decision", json={"type": "approve"})
    assert first.status_code == 200
    before = len(api.audit())
    second = api.client(CAROL).post(
        f"/v1/requests/{request.id}/decision", json={"type": "reject", "feedback": "no"}
    )
    assert error_of(second) == (409, "AlreadyDecided")
    assert "alice" in second.json()["message"]
    stored = api.store.get(request.id)
    assert stored.decision is not None
    assert (stored.decision.type, stored.decision.by) == ("approve", "alice")
    assert len(api.audit()) == before


def test_a_decision_after_the_deadline_is_409(api: LiveServer, clock: ManualClock) -> None:
    request = api.store.put(payment_request(now=clock.now(), expires_in=timedelta(minutes=5)))
    clock.advance(timedelta(minutes=6))
    before = len(api.audit())
    response = api.client().post(f"/v1/requests/{request.id}/decision", json={"type": "approve"})
    assert error_of(response) == (409, "RequestExpired")
    assert_untouched(api, request.id, before)


def test_an_edit_failing_the_tools_schema_is_422_with_the_cores_reason(api: LiveServer) -> None:
    request = api.store.put(payment_request())
    before = len(api.audit())
    response = api.client().post(
        f"/v1/requests/{request.id}/decision",
        json={"type": "edit", "args": {"amount": -5, "recipient": "Acme Corp", "memo": "x"}},
    )
    assert error_of(response) == (422, "EditArgumentsInvalid")
    body = response.json()
    assert body["message"].startswith("The edited arguments for 'send_payment'")
    assert "amount" in body["message"]
    assert any("memo" in problem for problem in body["problems"])
    assert body["request_id"] == request.id
    assert_untouched(api, request.id, before)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"type": "edit"}, "MalformedDecision"),
        ({"type": "respond"}, "MalformedDecision"),
        ({"type": "approve", "args": {"amount": 1}}, "MalformedDecision"),
        ({"type": "edit", "args": {"amount": 1, "recipient": "x"}}, "DecisionNotAllowed"),
        ({"type": "maybe"}, "InvalidInput"),
        ({"type": "approve", "extra": 1}, "InvalidInput"),
        ({"type": "approve", "feedback": "nul \u0000 inside"}, "InvalidInput"),
        ({"type": "approve", "feedback": "\ud800"}, "InvalidInput"),
    ],
)
def test_unusable_decisions_are_422(api: LiveServer, body: dict[str, Any], error: str) -> None:
    request = api.store.put(payment_request(allowed=("approve", "reject", "respond")))
    before = len(api.audit())
    response = api.client().post(
        f"/v1/requests/{request.id}/decision",
        content=json.dumps(body),  # ASCII, so an unpaired surrogate travels as its escape
        headers={"Content-Type": "application/json"},
    )
    assert error_of(response) == (422, error)
    assert_untouched(api, request.id, before)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"status": "lost"},
        {"cursor": "not a cursor"},
        {"cursor": "MjAyNi0wMS0wMVQwMDowMDowMHxyZXFfMQ=="},  # a naive time: no next_cursor
        {"run_id": "a\x00b"},
    ],
)
def test_bad_list_parameters_are_422(api: LiveServer, params: dict[str, Any]) -> None:
    response = api.client().get("/v1/requests", params=params)
    assert error_of(response) == (422, "InvalidInput")


def test_a_nul_in_an_id_is_422(api: LiveServer) -> None:
    response = api.client().get("/v1/requests/req%00x")
    assert error_of(response) == (422, "InvalidInput")


# -- audit ------------------------------------------------------------------------------


def test_a_runs_audit_trail(api: LiveServer) -> None:
    request = api.store.put(payment_request(run_id="run_audit"))
    http = api.client()
    http.post(f"/v1/requests/{request.id}/decision", json={"type": "reject", "feedback": "no"})
    trail = http.get("/v1/runs/run_audit/audit").json()
    assert [(e["kind"], e["request_id"], e["actor"]) for e in trail] == [
        ("created", request.id, "test"),
        ("decided", request.id, "alice"),
    ]
    assert [e["seq"] for e in trail] == sorted(e["seq"] for e in trail)


def test_the_audit_chain_verifies(api: LiveServer) -> None:
    request = api.store.put(payment_request(run_id="run_chain"))
    http = api.client()
    http.post(f"/v1/requests/{request.id}/decision", json={"type": "approve"})
    report = http.get("/v1/audit/verify").json()
    assert report["ok"] is True
    assert report["problems"] == []
    one = http.get("/v1/audit/verify", params={"run_id": "run_chain"}).json()
    assert one["ok"] is True
    assert one["events"] == 2


def test_a_tampered_audit_trail_fails_verification(tmp_path: Path) -> None:
    """Someone with the database file rewrites who approved: the API reports the broken link."""
    db = tmp_path / "approvals.db"
    store = open_store(f"sqlite:///{db}")
    try:
        request = store.put(payment_request(run_id="run_forged"))
        with serve(create_app(store, reviewers=REVIEWERS)) as url:
            http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ALICE}"})
            with http:
                http.post(f"/v1/requests/{request.id}/decision", json={"type": "approve"})
                assert http.get("/v1/audit/verify").json()["ok"] is True
                with sqlite3.connect(db) as conn:  # around the store, as an intruder would
                    conn.execute("DROP TRIGGER hitl_audit_no_update")
                    conn.execute(
                        "UPDATE hitl_audit SET doc = json_set(doc, '$.actor', 'mallory') "
                        "WHERE json_extract(doc, '$.kind') = 'decided'"
                    )
                report = http.get("/v1/audit/verify", params={"run_id": "run_forged"}).json()
        assert report["ok"] is False
        assert [(p["run_id"], p["kind"]) for p in report["problems"]] == [("run_forged", "edited")]
    finally:
        store.close()
