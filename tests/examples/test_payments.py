"""examples/payments: one policy file, the same four outcomes on every framework.

Each run uses a real SQLite store and the framework's real runner; the pause is started
by one agent, decided through a separate store handle, and resumed by a newly built
agent. The assertions are on effects: the ledger's lines, what the model read, the
request and the audit trail.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

import examples.payments.__main__ as payments_main
from examples.payments import agent_langgraph, agent_loop, agent_openai_agents
from examples.payments.common import POLICY, Ledger, Payment, Turn
from hitl_core import (
    AnyDecision,
    ApprovalRequest,
    AuditKind,
    Decision,
    InvalidRunState,
    RequestStatus,
    RunNotPaused,
    RunStatus,
    open_store,
)
from tests.examples.running import run_example

FRAMEWORKS = ["langgraph", "openai-agents", "loop"]
REVIEWER = "ana@example.com"
SMALL = Payment("Acme Corp", 250.0)
BIG = Payment("Acme Corp", 4200.0)
PROPOSED = {"recipient": "Acme Corp", "amount": 4200.0, "currency": "USD"}


@pytest.fixture(autouse=True)
def _scripted_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples switch to OpenAI when a key is set; these tests run offline."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@dataclass
class Env:
    """One SQLite store, one checkpoint file and one ledger, all in a fresh directory."""

    store_url: str
    checkpoints: str
    ledger: Ledger


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(
        f"sqlite:///{tmp_path / 'approvals.db'}",
        f"sqlite:///{tmp_path / 'checkpoints.db'}",
        Ledger(tmp_path / "ledger.jsonl"),
    )


def start(framework: str, payment: Payment, env: Env) -> Turn:
    """The framework's `start`, in its own store handle (the agent's process)."""
    with closing(open_store(env.store_url)) as store:
        if framework == "langgraph":
            model = agent_langgraph.model_for(payment)
            return agent_langgraph.start(
                model, payment, store=store, ledger=env.ledger, checkpoints=env.checkpoints
            )
        if framework == "openai-agents":
            sdk_model = agent_openai_agents.model_for(payment)
            return agent_openai_agents.start(sdk_model, payment, store=store, ledger=env.ledger)
        loop_model = agent_loop.model_for(payment)
        return agent_loop.start(loop_model, payment, store=store, ledger=env.ledger)


def resume(framework: str, payment: Payment, run_id: str, env: Env) -> Turn:
    """The framework's `resume`: a newly built agent and store handle, only the run id."""
    with closing(open_store(env.store_url)) as store:
        if framework == "langgraph":
            model = agent_langgraph.model_for(payment)
            return agent_langgraph.resume(
                model, run_id, store=store, ledger=env.ledger, checkpoints=env.checkpoints
            )
        if framework == "openai-agents":
            sdk_model = agent_openai_agents.model_for(payment)
            return agent_openai_agents.resume(sdk_model, run_id, store=store, ledger=env.ledger)
        loop_model = agent_loop.model_for(payment)
        return agent_loop.resume(loop_model, run_id, store=store, ledger=env.ledger)


def decide(env: Env, request_id: str, decision: AnyDecision) -> None:
    """The reviewer's part: their own store handle, nothing else."""
    with closing(open_store(env.store_url)) as reviewer:
        reviewer.decide(request_id, decision)


def pause(framework: str, env: Env) -> tuple[Turn, ApprovalRequest]:
    """Start the 4,200 payment; check it paused, saved, with nothing paid."""
    turn = start(framework, BIG, env)
    assert turn.paused
    [request] = turn.pending
    assert request.action.tool == "send_payment"
    assert request.action.args == PROPOSED
    assert request.reason == "amount 4200.0 > 1000"
    assert request.allowed == ("approve", "edit", "reject")
    assert request.expires_at is not None
    assert request.expires_at - request.created_at == timedelta(hours=24)
    assert env.ledger.entries() == []
    with closing(open_store(env.store_url)) as store:  # what any other process sees
        assert store.get(request.id).status is RequestStatus.PENDING
        assert store.load_run(turn.run_id).status is RunStatus.PAUSED
    return turn, request


def paid(env: Env) -> list[dict[str, object]]:
    return [{k: v for k, v in e.items() if k != "ref"} for e in env.ledger.entries()]


def test_the_policy_file_pays_up_to_1000_alone_and_asks_above() -> None:
    assert not POLICY.check("send_payment", {"amount": 1000}).required
    verdict = POLICY.check("send_payment", {"amount": 1000.01})
    assert verdict.required
    assert verdict.allowed == ("approve", "edit", "reject")
    assert verdict.expires_in == timedelta(hours=24)
    assert verdict.on_expiry.kind == "reject"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_250_is_paid_once_with_nobody_asked(framework: str, env: Env) -> None:
    turn = start(framework, SMALL, env)
    assert not turn.paused
    assert paid(env) == [{"recipient": "Acme Corp", "amount": 250.0, "currency": "USD"}]
    assert turn.told == ["Paid 250.00 USD to Acme Corp (ref PAY-0001)."]
    assert turn.answer == "Done: Paid 250.00 USD to Acme Corp (ref PAY-0001)."
    with closing(open_store(env.store_url)) as store:
        assert store.list_requests(run_id=turn.run_id, status=None).items == []
        started, executed = store.audit(run_id=turn.run_id)
        assert (started.kind, executed.kind) == (AuditKind.STARTED, AuditKind.EXECUTED)
        assert started.args == executed.args
        assert executed.args == {"recipient": "Acme Corp", "amount": 250.0, "currency": "USD"}
        assert store.load_run(turn.run_id).status is RunStatus.COMPLETED


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_4200_pauses_and_an_approval_pays_it_once(framework: str, env: Env) -> None:
    paused, request = pause(framework, env)
    decide(env, request.id, Decision.approve(by=REVIEWER))

    turn = resume(framework, BIG, paused.run_id, env)
    assert turn.run_id == paused.run_id
    assert not turn.paused
    assert paid(env) == [PROPOSED]
    assert turn.told == ["Paid 4,200.00 USD to Acme Corp (ref PAY-0001)."]
    assert turn.answer == f"Done: {turn.told[-1]}"  # the script quotes what the model read

    with pytest.raises(RunNotPaused):  # a second resume runs nothing
        resume(framework, BIG, paused.run_id, env)
    assert len(env.ledger.entries()) == 1
    with closing(open_store(env.store_url)) as store:
        events = store.audit(run_id=turn.run_id)
        assert [e.kind for e in events] == [
            AuditKind.CREATED,
            AuditKind.DECIDED,
            AuditKind.STARTED,
            AuditKind.EXECUTED,
            AuditKind.RESUMED,
        ]
        assert (events[1].actor, events[1].decision) == (REVIEWER, "approve")
        assert events[2].args == PROPOSED
        assert store.get(request.id).status is RequestStatus.RESUMED
        assert store.load_run(turn.run_id).status is RunStatus.COMPLETED


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_edit_to_900_pays_900_once_and_the_model_is_told(framework: str, env: Env) -> None:
    paused, request = pause(framework, env)
    edited = {"recipient": "Acme Corp", "amount": 900.0, "currency": "USD"}
    decide(env, request.id, Decision.edit(edited, by=REVIEWER, feedback="Pay 900 now."))

    turn = resume(framework, BIG, paused.run_id, env)
    assert paid(env) == [edited]
    assert turn.told == [
        "Note: a human reviewer edited this call before it ran. Executed instead: "
        'send_payment with arguments {"amount": 900.0, "currency": "USD", '
        '"recipient": "Acme Corp"}.\n'
        "Reviewer feedback: Pay 900 now.\n\n"
        "Tool response:\nPaid 900.00 USD to Acme Corp (ref PAY-0001)."
    ]
    assert turn.answer == f"Done: {turn.told[-1]}"
    with closing(open_store(env.store_url)) as store:
        events = store.audit(run_id=turn.run_id)
        [decided] = [e for e in events if e.kind is AuditKind.DECIDED]
        assert (decided.actor, decided.decision) == (REVIEWER, "edit")
        assert decided.args == PROPOSED
        assert decided.edited_args == edited
        assert [e.args for e in events if e.kind is AuditKind.EXECUTED] == [edited]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_rejection_pays_nothing_and_the_model_reads_the_feedback(
    framework: str, env: Env
) -> None:
    paused, request = pause(framework, env)
    feedback = "Invoice 88 was already paid by wire."
    decide(env, request.id, Decision.reject(feedback, by=REVIEWER))

    turn = resume(framework, BIG, paused.run_id, env)
    assert env.ledger.entries() == []
    assert turn.told == [
        "A human reviewer rejected the call to `send_payment`; it was not executed. "
        f"Reviewer feedback: {feedback}"
    ]
    assert turn.answer == f"Done: {turn.told[-1]}"
    with closing(open_store(env.store_url)) as store:
        events = store.audit(run_id=turn.run_id)
        assert [e.kind for e in events] == [
            AuditKind.CREATED,
            AuditKind.DECIDED,
            AuditKind.RESUMED,
        ]
        assert (events[1].actor, events[1].decision, events[1].feedback) == (
            REVIEWER,
            "reject",
            feedback,
        )


@pytest.mark.parametrize(
    ("paused_on", "resumed_on"), [("langgraph", "openai-agents"), ("openai-agents", "langgraph")]
)
def test_a_paused_run_stays_with_the_framework_that_paused_it(
    paused_on: str, resumed_on: str, env: Env
) -> None:
    """Porting moves new runs; paused ones resume where they paused (docs/porting.md)."""
    paused, request = pause(paused_on, env)
    decide(env, request.id, Decision.approve(by=REVIEWER))
    with pytest.raises(InvalidRunState):
        resume(resumed_on, BIG, paused.run_id, env)
    assert env.ledger.entries() == []
    with closing(open_store(env.store_url)) as store:
        assert store.get(request.id).status is RequestStatus.DECIDED

    turn = resume(paused_on, BIG, paused.run_id, env)
    assert not turn.paused
    assert paid(env) == [PROPOSED]


def test_the_script_runs_every_framework_and_says_so() -> None:
    """``python -m examples.payments``, as the Makefile runs it: exit code and transcript."""
    done = run_example("examples.payments")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for header in (
        "== LangGraph: create_agent + HumanApprovalMiddleware ==",
        "== OpenAI Agents SDK: Agent + ApprovalRunner ==",
        "== Plain loop: hitl_loop.ToolLoop ==",
    ):
        assert header in out
    proposed = '{"recipient": "Acme Corp", "amount": 4200.0, "currency": "USD"}'
    assert out.count(f"paused    send_payment {proposed}: amount 4200.0 > 1000") == 9
    assert out.count("no pause  the policy let it run; nobody was asked") == 3
    for kind in ("approve", "edit", "reject"):
        assert out.count(f"decided   {kind} by ana@example.com, through the store") == 3
    assert out.count("paid      4,200.00 USD to Acme Corp") == 3
    assert out.count("paid      900.00 USD to Acme Corp") == 3
    assert out.count("paid      nothing") == 3
    assert out.strip().endswith("All 12 runs went as expected.")


def test_one_framework_on_a_given_store_leaves_its_decisions_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    assert payments_main.main(["--framework", "openai-agents", "--store", url]) == 0
    out = capsys.readouterr().out
    assert "== OpenAI Agents SDK" in out
    assert "== LangGraph" not in out
    assert "== Plain loop" not in out
    with closing(open_store(url)) as store:
        requests = store.list_requests(status=None).items
        assert sorted(str(r.decision.kind) for r in requests if r.decision) == [
            "approve",
            "edit",
            "reject",
        ]
        assert {r.status for r in requests} == {RequestStatus.RESUMED}
        assert {r.adapter for r in requests} == {"hitl_openai_agents"}


@pytest.fixture
def wrong_expectation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The approve case, expecting 4,000 to be paid instead of 4,200."""
    case = payments_main.CASES[1]
    wrong = payments_main.Case(
        case.title,
        case.payment,
        case.decide,
        [{"recipient": "Acme Corp", "amount": 4000.0, "currency": "USD"}],
        case.told,
    )
    monkeypatch.setattr(payments_main, "CASES", [wrong])


@pytest.mark.usefixtures("wrong_expectation")
def test_an_outcome_that_differs_from_the_expected_one_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert payments_main.main(["--framework", "loop"]) == 1
    out = capsys.readouterr().out
    assert "2 problem(s) in 1 runs:" in out
    title = "loop, 4,200 USD: the reviewer approves"
    paid, expected = (
        "[{'recipient': 'Acme Corp', 'amount': 4200.0",
        "[{'recipient': 'Acme Corp', 'amount': 4000.0",
    )
    assert f"  - {title}: paid {paid}" in out
    assert f"  - {title}: the audit shows executions {paid}" in out
    assert out.count(f"expected {expected}") == 2


def test_a_memory_store_is_refused_because_it_dies_with_the_process() -> None:
    with pytest.raises(SystemExit) as exit:
        payments_main.main(["--store", "memory://"])
    assert exit.value.code == 2
