"""`hitl pending` and `hitl show`: listing, filtering, paging and one request in full."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hitl_cli import inbox
from hitl_core import (
    ApprovalRequest,
    ApprovalStore,
    Decision,
    ProposedAction,
    RequestStatus,
)
from tests.cli.conftest import Hitl, PaymentRun
from tests.factories import payment_request

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _requested_by(request: ApprovalRequest, who: str) -> ApprovalRequest:
    return request.model_copy(update={"context": {"requested_by": who}})


def _delete_rows(run_id: str, now: datetime) -> ApprovalRequest:
    return ApprovalRequest.create(
        run_id=run_id,
        adapter="test",
        action=ProposedAction(
            tool="delete_rows", args={"table": "users", "count": 40}, call_id="c"
        ),
        reason="count 40 > 10",
        now=now,
    )


@pytest.fixture
def inbox_requests(store: ApprovalStore) -> dict[str, ApprovalRequest]:
    """Four requests over two runs, one of them already approved."""
    made = {
        "a_pay": _requested_by(payment_request(run_id="run_a", now=T0), "bob"),
        "b_pay": payment_request(run_id="run_b", amount=9000, now=T0 + timedelta(minutes=1)),
        "a_delete": _delete_rows("run_a", T0 + timedelta(minutes=2)),
        "c_pay": payment_request(run_id="run_c", call_id="x", now=T0 + timedelta(minutes=3)),
    }
    for request in made.values():
        store.put(request)
    store.decide(made["c_pay"].id, Decision.approve(by="ana"))
    return made


def _ids(result_json: list[dict[str, object]]) -> list[object]:
    return [item["id"] for item in result_json]


def test_pending_filters_by_tool_run_and_status(
    hitl: Hitl, db_url: str, store: ApprovalStore, inbox_requests: dict[str, ApprovalRequest]
) -> None:
    r = inbox_requests
    listed = hitl("pending", "--store", db_url, "--json")
    assert listed.code == 0, listed.err
    assert _ids(listed.json()) == [r["a_pay"].id, r["b_pay"].id, r["a_delete"].id]
    assert listed.json()[0] == r["a_pay"].model_dump(mode="json")

    def ids(*args: str) -> list[object]:
        result = hitl("pending", "--store", db_url, "--json", *args)
        assert result.code == 0, result.err
        return _ids(result.json())

    assert ids("--tool", "delete_rows") == [r["a_delete"].id]
    assert ids("--run", "run_a") == [r["a_pay"].id, r["a_delete"].id]
    assert ids("--run", "run_a", "--tool", "send_payment") == [r["a_pay"].id]
    assert ids("--status", "decided") == [r["c_pay"].id]
    assert ids("--status", "any") == [x.id for x in r.values()]
    assert ids("--status", "expired") == []
    # Listing is read-only.
    assert [store.get(x.id).status for x in r.values()] == [RequestStatus.PENDING] * 3 + [
        RequestStatus.DECIDED
    ]


def test_pending_table_shows_who_what_and_why(
    hitl: Hitl, db_url: str, store: ApprovalStore, inbox_requests: dict[str, ApprovalRequest]
) -> None:
    result = hitl("pending", "--store", db_url)
    assert result.code == 0, result.err
    row = next(line for line in result.out.splitlines() if inbox_requests["a_pay"].id in line)
    for cell in ("send_payment", 'amount=4200, recipient="Acme Corp"', "amount 4200 > 1000"):
        assert cell in row
    assert "run_a" in row
    assert "bob" in row
    assert row.rstrip(" │").endswith("never")  # no deadline
    assert inbox_requests["c_pay"].id not in result.out  # decided, so not pending
    assert store.get(inbox_requests["a_pay"].id).is_pending


def test_pending_on_a_narrow_terminal_prints_lines_not_a_folded_table(
    hitl: Hitl,
    db_url: str,
    inbox_requests: dict[str, ApprovalRequest],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = hitl("pending", "--store", db_url)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    first = next(i for i, line in enumerate(lines) if inbox_requests["a_pay"].id in line)
    assert "send_payment" in lines[first]
    assert lines[first + 1].strip() == 'amount=4200, recipient="Acme Corp" -- amount 4200 > 1000'
    assert lines[first + 2].strip() == "expires never, requested by bob"
    assert all(len(line) <= 80 for line in lines)
    assert "┃" not in result.out  # not a table folded to a few letters a column


def test_pending_follows_cursors_up_to_the_limit(
    hitl: Hitl, db_url: str, store: ApprovalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    made = [
        store.put(payment_request(run_id=f"run_{i}", now=T0 + timedelta(seconds=i)))
        for i in range(5)
    ]
    four = hitl("pending", "--store", db_url, "--json", "--limit", "4")
    assert _ids(four.json()) == [x.id for x in made[:4]]
    every = hitl("pending", "--store", db_url, "--json")
    assert _ids(every.json()) == [x.id for x in made]
    assert [store.get(x.id).status for x in made] == [RequestStatus.PENDING] * 5
    empty = hitl("pending", "--store", db_url, "--status", "cancelled")
    assert (empty.code, empty.out.strip()) == (0, "No cancelled requests.")


def test_the_store_url_comes_from_the_environment(
    hitl: Hitl,
    db_url: str,
    store: ApprovalStore,
    payment_run: PaymentRun,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HITL_STORE_URL", db_url)
    listed = hitl("pending", "--json")
    assert listed.code == 0, listed.err
    assert _ids(listed.json()) == [payment_run.request.id]
    approved = hitl("approve", payment_run.request.id, "--as", "ana")
    assert approved.code == 0, approved.err
    decided = store.get(payment_run.request.id)
    assert decided.status is RequestStatus.DECIDED
    assert decided.decision is not None
    assert (decided.decision.kind, decided.decision.by) == ("approve", "ana")


def test_a_missing_sqlite_file_is_an_error_not_an_empty_store(hitl: Hitl, tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    result = hitl("pending", "--store", f"sqlite:///{missing}")
    assert result.code == 2
    assert "no SQLite store at" in result.err
    assert not missing.exists()


def test_show_prints_the_call_and_the_edit_as_a_diff(
    hitl: Hitl, db_url: str, store: ApprovalStore, payment_run: PaymentRun
) -> None:
    request_id = payment_run.request.id
    before = hitl("show", request_id, "--store", db_url)
    assert before.code == 0, before.err
    for text in ("send_payment", '"amount": 4200', "amount 4200 > 1000", "pending", "bob"):
        assert text in before.out
    assert "approve, edit, reject, respond" in before.out

    store.decide(
        request_id,
        Decision.edit({"amount": 4000, "recipient": "Acme Corp"}, by="ana", feedback="cap"),
    )
    after = hitl("show", request_id, "--store", db_url)
    assert after.code == 0, after.err
    assert "amount: 4200 -> 4000" in after.out
    assert "recipient: " not in after.out  # only what changed is listed as a change
    for text in ("edited", "ana", "cap", "decided"):
        assert text in after.out

    as_json = hitl("show", request_id, "--store", db_url, "--json")
    assert ApprovalRequest.model_validate_json(as_json.out) == store.get(request_id)


def test_show_an_unknown_request_exits_1_with_the_core_message(
    hitl: Hitl, db_url: str, store: ApprovalStore
) -> None:
    result = hitl("show", "req_nope", "--store", db_url, "--json")
    assert (result.code, result.out) == (1, "")
    assert "UnknownRequest" in result.err
    assert "No approval request 'req_nope'" in result.err
    assert store.list_requests(status=None).items == []
