"""Who may decide, on every path: the names, the policy and the checks these tests share.

Alice starts the runs. The payment rule names alice and carol as reviewers and the
``finance`` role, so alice would be allowed to decide if she had not started the run:
every refusal of her is the self-approval rule, never the reviewer list. Dave is named
nowhere and holds no role. Erin holds ``finance``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hitl_core import (
    ApprovalRequest,
    ApprovalStore,
    AuditKind,
    Policy,
    ProposedAction,
    RequestStatus,
    Rule,
    UnknownRun,
    arg,
    open_store,
)

REQUESTER = "alice"
NAMED = "carol"
"""Named by the rule, did not start the run: may approve."""
ROLE_HOLDER = "erin"
FINANCE = "finance"
OUTSIDER = "dave"
LOOKALIKE = "\u0430lice"
"""``alice`` with a Cyrillic first letter: another person, whom the rule does not name."""

SPELLINGS = [
    "alice",
    "Alice",
    "ALICE",
    " alice",
    "alice ",
    "  ALICE  ",
    "\uff41\uff4c\uff49\uff43\uff45",
]
"""Every way of writing alice that PRECIS compares equal: case, surrounding spaces, width."""
SELF_PAIRS = [(REQUESTER, s) for s in SPELLINGS] + [(s, REQUESTER) for s in SPELLINGS[1:]]
"""(requester, decider): one side written as ``alice``, the other in each spelling."""
SELF_IDS = [f"{r!r}-approves-{d!r}" for r, d in SELF_PAIRS]

UNUSABLE = ["alice\t", "al\u200bice", "al\u00adice", "\u200balice", "alice\u2060", "ali\nce"]
"""Names with a control or invisible character inside or around: refused, never guessed."""

BAD_REQUESTERS: list[object] = [
    ["alice"],
    {"id": "alice"},
    3,
    4.5,
    True,
    None,
    "",
    "   ",
    "alice\t",
    "al\u200bice",
    "al\u00adice",
]
"""`requested_by` values a run is refused for when it starts."""

POLICY = Policy(
    {
        "send_payment": Rule(
            when=arg("amount") > 1000, reviewers=(REQUESTER, NAMED), roles=(FINANCE,)
        )
    }
)
"""Payments over 1000 wait for alice, carol or a finance role holder."""
OPEN_POLICY = Policy({"send_payment": arg("amount") > 1000})
"""The same gate with nobody named: any reviewer may decide."""


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[ApprovalStore]:
    """An empty SQLite store in the test's directory."""
    opened = open_store(f"sqlite:///{tmp_path / 'hitl.db'}")
    yield opened
    opened.close()


def decided_events(store: ApprovalStore, request_id: str) -> list[object]:
    return [e for e in store.audit(request_id=request_id) if e.kind is AuditKind.DECIDED]


def assert_untouched(store: ApprovalStore, before: ApprovalRequest) -> None:
    """The request is exactly as it was: pending, no decision, no ``decided`` event."""
    after = store.get(before.id)
    assert after == before
    assert after.status is RequestStatus.PENDING
    assert after.decision is None
    assert decided_events(store, before.id) == []


def assert_decided_by(store: ApprovalStore, request_id: str, by: str, kind: str) -> None:
    after = store.get(request_id)
    assert after.decision is not None
    assert (after.decision.kind, after.decision.by) == (kind, by)
    assert len(decided_events(store, request_id)) == 1


def assert_nothing_stored(store: ApprovalStore, run_id: str) -> None:
    """No run record, no request, no audit event: the run never started."""
    with pytest.raises(UnknownRun):
        store.load_run(run_id)
    assert store.list_requests(status=None).items == []
    assert store.audit() == []


def payment(
    *,
    requester: object = REQUESTER,
    reviewers: tuple[str, ...] = (REQUESTER, NAMED),
    roles: tuple[str, ...] = (FINANCE,),
    run_id: str = "run_1",
    context: dict[str, object] | None = None,
) -> ApprovalRequest:
    """A pending payment request as a run started by `requester` files it."""
    return ApprovalRequest.create(
        run_id=run_id,
        adapter="tests",
        action=ProposedAction(
            tool="send_payment", args={"amount": 4200, "recipient": "Acme"}, call_id="c1"
        ),
        reason="amount 4200 > 1000",
        context={"requested_by": requester} if context is None else context,
        reviewers=reviewers,
        roles=roles,
    )
