"""``hitl approve|edit|reject|respond --as NAME [--role R] [--policy F]`` on a real loop run.

Driven through `hitl_cli.app.main`, the console script's own path, which prints a refusal
with the error's name and exits 1. A refused command leaves the request as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hitl_cli.app import main
from hitl_core import ApprovalRequest, ApprovalStore, open_store
from hitl_loop import Paused
from tests.access.apps import loop_app
from tests.access.conftest import (
    FINANCE,
    LOOKALIKE,
    OUTSIDER,
    REQUESTER,
    ROLE_HOLDER,
    SELF_IDS,
    SELF_PAIRS,
    UNUSABLE,
    assert_decided_by,
    assert_untouched,
)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Hitl = Callable[..., Result]


@pytest.fixture
def hitl(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Hitl:
    """Run ``hitl ARGS…`` in this process through `main`; never raises SystemExit."""
    monkeypatch.setenv("COLUMNS", "250")
    for name in ("HITL_STORE_URL", "HITL_REVIEWER", "HITL_POLICY", "HITL_REVIEWERS"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = 0
        try:
            main(list(args))
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hitl.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[ApprovalStore]:
    opened = open_store(db_url)
    yield opened
    opened.close()


def pause(store: ApprovalStore, requester: str = REQUESTER) -> ApprovalRequest:
    loop, _ = loop_app(store)
    paused = loop.start("Pay Acme 4200", context={"requested_by": requester})
    assert isinstance(paused, Paused)
    return paused.requests[0]


def decide(hitl: Hitl, db_url: str, command: str, request: ApprovalRequest, *args: str) -> Result:
    extra = {"edit": ["--set", "amount=1"], "respond": ["--answer", "paid by hand"]}
    return hitl(command, request.id, "--store", db_url, *extra.get(command, []), *args)


@pytest.mark.parametrize(("requester", "decider"), SELF_PAIRS, ids=SELF_IDS)
def test_the_requester_cannot_approve_or_edit_in_any_spelling(
    hitl: Hitl, db_url: str, store: ApprovalStore, requester: str, decider: str
) -> None:
    request = pause(store, requester)
    for command in ("approve", "edit"):
        result = decide(hitl, db_url, command, request, "--as", decider, "--role", FINANCE)
        assert result.code == 1, result
        assert "SelfApproval" in result.err
        assert "started this run" in result.err
    assert_untouched(store, request)


@pytest.mark.parametrize("decider", UNUSABLE)
def test_an_unusable_name_is_refused(
    hitl: Hitl, db_url: str, store: ApprovalStore, decider: str
) -> None:
    request = pause(store)
    for command in ("approve", "reject"):
        result = decide(hitl, db_url, command, request, "--as", decider)
        assert result.code == 1, result
        assert "InvalidIdentity" in result.err
    assert_untouched(store, request)


@pytest.mark.parametrize("decider", [OUTSIDER, LOOKALIKE])
def test_someone_the_rule_does_not_name_is_refused(
    hitl: Hitl, db_url: str, store: ApprovalStore, decider: str
) -> None:
    request = pause(store)
    result = decide(hitl, db_url, "approve", request, "--as", decider, "--role", "ops")
    assert result.code == 1, result
    assert "NotAuthorized" in result.err
    assert "SelfApproval" not in result.err
    assert "reviewers alice, carol, roles finance" in result.err
    assert_untouched(store, request)


@pytest.mark.parametrize(
    "args", [["--as", "Carol"], ["--as", ROLE_HOLDER, "--role", "FINANCE"]], ids=["named", "role"]
)
def test_the_named_reviewer_or_a_role_holder_approves(
    hitl: Hitl, db_url: str, store: ApprovalStore, args: list[str]
) -> None:
    request = pause(store)
    result = decide(hitl, db_url, "approve", request, *args)
    assert result.code == 0, result.err
    assert_decided_by(store, request.id, args[1], "approve")


@pytest.mark.parametrize("command", ["reject", "respond"])
def test_the_requester_may_reject_or_answer(
    hitl: Hitl, db_url: str, store: ApprovalStore, command: str
) -> None:
    request = pause(store, "ALICE")
    result = decide(hitl, db_url, command, request, "--as", " alice")
    assert result.code == 0, result.err
    assert_decided_by(store, request.id, " alice", command)


def test_a_policy_file_restricts_further_never_less(
    hitl: Hitl, db_url: str, store: ApprovalStore, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[rules.send_payment]\nwhen = "always"\nreviewers = ["Carol", "dave"]\n')
    request = pause(store)
    role = decide(
        hitl,
        db_url,
        "approve",
        request,
        "--as",
        ROLE_HOLDER,
        "--role",
        FINANCE,
        "--policy",
        str(policy),
    )
    assert role.code == 1
    assert "NotAuthorized" in role.err
    dave = decide(hitl, db_url, "approve", request, "--as", OUTSIDER, "--policy", str(policy))
    assert dave.code == 1
    assert "NotAuthorized" in dave.err
    assert_untouched(store, request)
    carol = decide(hitl, db_url, "approve", request, "--as", "CAROL", "--policy", str(policy))
    assert carol.code == 0, carol.err
    assert_decided_by(store, request.id, "CAROL", "approve")
