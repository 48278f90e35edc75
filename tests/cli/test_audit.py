"""`hitl audit RUN_ID` shows the trail; `hitl audit verify` catches a row changed in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hitl_core import ApprovalStore, AuditEvent, AuditKind
from hitl_loop import Completed, Paused
from tests.cli.conftest import Hitl, PaymentRun, pay
from tests.loop.payments_app import build


def _edit_and_resume(hitl: Hitl, db_url: str, run: PaymentRun) -> None:
    edited = hitl(
        "edit",
        run.request.id,
        "--store",
        db_url,
        "--as",
        "ana",
        "--set",
        "amount=4000",
        "--feedback",
        "cap at 4000",
    )
    assert edited.code == 0, edited.err
    assert isinstance(run.loop.resume(run.paused.run_id), Completed)


def test_audit_shows_a_runs_trail_in_order(
    hitl: Hitl, db_url: str, store: ApprovalStore, payment_run: PaymentRun
) -> None:
    run_id = payment_run.paused.run_id
    _edit_and_resume(hitl, db_url, payment_run)
    events = store.audit(run_id=run_id)
    assert [e.kind for e in events] == [
        AuditKind.CREATED,
        AuditKind.DECIDED,
        AuditKind.STARTED,
        AuditKind.EXECUTED,
        AuditKind.RESUMED,
    ]

    shown = hitl("audit", run_id, "--store", db_url)
    assert shown.code == 0, shown.err
    rows = [line for line in shown.out.splitlines() if line.startswith("│")]
    assert len(rows) == len(events)
    for row, event in zip(rows, events, strict=True):
        assert f"│ {event.seq} " in row
        assert event.kind.value in row
    decided = next(r for r in rows if " decided " in r)
    for text in ("ana", "edit", "edited: amount: 4200 -> 4000", "cap at 4000"):
        assert text in decided
    assert "reason: amount 4200 > 1000" in rows[0]

    as_json = hitl("audit", run_id, "--store", db_url, "--json")
    assert [AuditEvent.model_validate(item) for item in as_json.json()] == events
    by_option = hitl("audit", "--run", run_id, "--store", db_url, "--json")
    assert by_option.out == as_json.out
    assert store.audit(run_id=run_id) == events  # reading the trail appends nothing


def test_audit_on_a_narrow_terminal_prints_lines_not_a_folded_table(
    hitl: Hitl,
    db_url: str,
    store: ApprovalStore,
    payment_run: PaymentRun,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = payment_run.paused.run_id
    _edit_and_resume(hitl, db_url, payment_run)
    monkeypatch.setenv("COLUMNS", "80")
    shown = hitl("audit", run_id, "--store", db_url)
    assert shown.code == 0, shown.err
    assert "┃" not in shown.out
    lines = shown.out.splitlines()
    heads = [line for line in lines if line[:1].isdigit()]
    assert [h.split()[0] for h in heads] == [str(e.seq) for e in store.audit(run_id=run_id)]
    decided = next(i for i, line in enumerate(lines) if "  decided  by ana  edit" in line)
    details = " ".join(lines[decided + 1 : decided + 4])
    for text in ("edited: amount: 4200 -> 4000", "cap at 4000"):
        assert text in details


def test_audit_of_an_unknown_run_exits_1(hitl: Hitl, db_url: str, store: ApprovalStore) -> None:
    result = hitl("audit", "run_nowhere", "--store", db_url)
    assert result.code == 1
    assert "UnknownRun" in result.err
    assert "run_nowhere" in result.err
    assert store.audit() == []
    neither = hitl("audit", "--store", db_url)
    assert neither.code == 2
    assert "give a RUN_ID" in neither.err


def test_verify_passes_on_an_untouched_store(
    hitl: Hitl, db_url: str, store: ApprovalStore, payment_run: PaymentRun, tmp_path: Path
) -> None:
    _edit_and_resume(hitl, db_url, payment_run)
    other = build(store, tmp_path / "other.jsonl", [[pay(4200)], "Paid."])
    assert isinstance(other.start("Pay again"), Paused)
    total = len(store.audit())

    result = hitl("audit", "verify", "--store", db_url)
    assert result.code == 0, result.out + result.err
    assert result.out.strip() == f"{total} events in 2 runs verified."

    as_json = hitl("audit", "verify", "--store", db_url, "--json")
    assert as_json.code == 0
    data = as_json.json()
    assert (data["ok"], data["events"], data["runs"], data["problems"]) == (True, total, 2, [])

    one = hitl("audit", "verify", "--run", payment_run.paused.run_id, "--store", db_url, "--json")
    assert (one.json()["runs"], one.json()["events"]) == (
        1,
        5,
    )  # created, decided, started, executed, resumed
    assert len(store.audit()) == total  # verifying writes nothing


def test_verify_names_the_row_changed_behind_the_stores_back(
    hitl: Hitl, db_url: str, store: ApprovalStore, payment_run: PaymentRun, tmp_path: Path
) -> None:
    run_id = payment_run.paused.run_id
    _edit_and_resume(hitl, db_url, payment_run)
    decided = next(e for e in store.audit(run_id=run_id) if e.kind is AuditKind.DECIDED)
    assert decided.seq is not None

    with sqlite3.connect(tmp_path / "approvals.db") as conn:
        conn.execute("DROP TRIGGER hitl_audit_no_update")
        conn.execute(
            "UPDATE hitl_audit SET doc = json_set(doc, '$.edited_args.amount', 40000) "
            "WHERE seq = ?",
            (decided.seq,),
        )
    tampered = next(e for e in store.audit(run_id=run_id) if e.seq == decided.seq)
    assert tampered.edited_args == {"amount": 40000, "recipient": "Acme Corp"}

    result = hitl("audit", "verify", "--store", db_url)
    assert result.code == 1
    row = next(line for line in result.out.splitlines() if run_id in line)
    assert f"│ {decided.seq} " in row
    assert "edited" in row
    assert "does not verify" in result.err

    as_json = hitl("audit", "verify", "--store", db_url, "--json")
    assert as_json.code == 1
    data = as_json.json()
    assert data["ok"] is False
    assert [(p["run_id"], p["seq"], p["kind"]) for p in data["problems"]] == [
        (run_id, decided.seq, "edited")
    ]


def test_a_run_named_verify_is_reached_with_the_run_option(
    hitl: Hitl, db_url: str, store: ApprovalStore, tmp_path: Path
) -> None:
    loop = build(store, tmp_path / "ledger.jsonl", [[pay(4200)], "Paid."])
    paused = loop.start("Pay", run_id="verify")
    assert isinstance(paused, Paused)

    trail = hitl("audit", "--run", "verify", "--store", db_url, "--json")
    assert trail.code == 0, trail.err
    assert [item["kind"] for item in trail.json()] == ["created"]
    assert [item["run_id"] for item in trail.json()] == ["verify"]

    checked = hitl("audit", "verify", "--run", "verify", "--store", db_url, "--json")
    assert checked.code == 0, checked.err
    assert (checked.json()["runs"], checked.json()["events"]) == (1, 1)
    assert [e.run_id for e in store.audit()] == ["verify"]
