"""The worker resumes decided runs exactly once: in process, as 4 processes, after a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from hitl_conformance.adapters import installed_adapters
from hitl_conformance.journal import Journal
from hitl_core import AuditKind, Decision, Lease, RequestStatus, RunStatus, open_store
from hitl_core.calls.keeper import renewal_interval
from hitl_core.errors import RunBusy
from hitl_core.worker import Worker, WorkerPass
from tests.every_adapter_app import driver_for
from tests.faults.sizes import sizes
from tests.worker_app import REGISTRY, build

ROOT = Path(__file__).parents[2]


def paused_runs(url: str, count: int) -> list[str]:
    """Start `count` runs that each pause on a 4,200 payment; return their request ids."""
    store = open_store(url)
    loop = build(store)
    ids = []
    for i in range(count):
        outcome = loop.start(f"recipient-{i:04d}", run_id=f"run-{i:04d}")
        assert outcome.status == "paused"
        ids.append(outcome.requests[0].id)
    store.close()
    return ids


def ledger(path: Path) -> list[str]:
    return (
        [json.loads(line)["recipient"] for line in path.read_text().splitlines()]
        if path.exists()
        else []
    )


def test_a_worker_resumes_every_decided_run_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITL_TEST_LEDGER", str(tmp_path / "ledger.jsonl"))
    url = f"sqlite:///{tmp_path / 'hitl.db'}"
    requests = paused_runs(url, 6)
    store = open_store(url)
    for request_id in requests[:4]:
        store.decide(request_id, Decision.approve(by="ana"))
    done = Worker(store, REGISTRY, worker_id="w1").run_once()
    assert sorted(done.resumed) == [f"run-{i:04d}" for i in range(4)]
    assert sorted(ledger(tmp_path / "ledger.jsonl")) == [f"recipient-{i:04d}" for i in range(4)]
    assert Worker(store, REGISTRY, worker_id="w2").run_once().idle
    assert store.load_run("run-0004").status is RunStatus.PAUSED
    assert [r.status for r in map(store.get, requests)] == [RequestStatus.RESUMED] * 4 + [
        RequestStatus.PENDING
    ] * 2


def test_a_tool_that_outlives_the_workers_claim_keeps_its_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 s claim, resumed by an agent whose passes renew for 60 s, is renewed in time:
    nobody can take the run while its 2 s payment runs."""
    monkeypatch.setenv("HITL_TEST_LEDGER", str(tmp_path / "ledger.jsonl"))
    monkeypatch.setenv("HITL_TEST_PAY_SECONDS", "2")
    url = f"sqlite:///{tmp_path / 'hitl.db'}"
    [request_id] = paused_runs(url, 1)
    store = open_store(url)
    store.decide(request_id, Decision.approve(by="ana"))
    worker = Worker(store, REGISTRY, worker_id="w1", lease=timedelta(seconds=1))
    done: list[WorkerPass] = []
    thread = threading.Thread(target=lambda: done.append(worker.run_once()))
    thread.start()
    try:
        time.sleep(1.5)  # the claim alone would have run out by now
        with pytest.raises(RunBusy):
            store.acquire_lease("run-0000", "intruder", ttl=timedelta(seconds=60))
    finally:
        thread.join(timeout=30)
    assert [d.resumed for d in done] == [["run-0000"]]
    assert ledger(tmp_path / "ledger.jsonl") == ["recipient-0000"]
    assert store.load_run("run-0000").status is RunStatus.COMPLETED
    assert not store.list_requests().items  # no unknown outcome was surfaced
    store.close()


def test_a_lease_is_renewed_within_a_third_of_what_is_left_of_it() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    claim = Lease(run_id="r", holder="w", fence=2, until=now + timedelta(seconds=3))
    assert renewal_interval(claim, timedelta(seconds=60), now) == pytest.approx(1.0)
    assert renewal_interval(claim, timedelta(seconds=1.5), now) == pytest.approx(0.5)
    gone = claim.model_copy(update={"until": now - timedelta(seconds=5)})
    assert renewal_interval(gone, timedelta(seconds=60), now) == pytest.approx(0.1)
    assert renewal_interval(gone, timedelta(seconds=0.15), now) == pytest.approx(0.05)


def worker_process(url: str, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hitl_cli",
            "worker",
            "--store",
            url,
            "--app",
            "tests.worker_app:REGISTRY",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_worker_processes_resume_a_thousand_runs_exactly_once(
    postgres_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "HITL_TEST_LEDGER": str(tmp_path / "ledger.jsonl")}
    os.environ["HITL_TEST_LEDGER"] = env["HITL_TEST_LEDGER"]
    requests = paused_runs(postgres_url, 1000)
    store = open_store(postgres_url)
    for request_id in requests:
        store.decide(request_id, Decision.approve(by="ana"))
    workers = [
        worker_process(postgres_url, env, "--until-idle", "--batch", "25", "--id", f"w{i}")
        for i in range(4)
    ]
    counts = []
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
        counts.append(int(err.split("resumed ")[1].split()[0]))
    assert sum(counts) == 1000
    paid = ledger(tmp_path / "ledger.jsonl")
    assert len(paid) == 1000
    assert sorted(paid) == [f"recipient-{i:04d}" for i in range(1000)]
    assert store.list_requests(status=RequestStatus.DECIDED, limit=1).items == []
    events = store.audit()
    assert sum(e.kind is AuditKind.RESUMED for e in events) == 1000
    assert sum(e.kind is AuditKind.EXECUTED for e in events) == 1000
    assert {store.load_run(f"run-{i:04d}").status for i in range(0, 1000, 97)} == {
        RunStatus.COMPLETED
    }
    store.close()


def test_a_run_whose_worker_is_killed_is_finished_by_another(
    postgres_url: str, tmp_path: Path
) -> None:
    block = tmp_path / "block"
    env = {
        **os.environ,
        "HITL_TEST_LEDGER": str(tmp_path / "ledger.jsonl"),
        "HITL_TEST_BLOCK": str(block),
    }
    os.environ["HITL_TEST_LEDGER"] = env["HITL_TEST_LEDGER"]
    [request_id] = paused_runs(postgres_url, 1)
    store = open_store(postgres_url)
    store.decide(request_id, Decision.approve(by="ana"))
    block.touch()
    doomed = worker_process(postgres_url, env, "--lease", "2", "--poll", "0.2", "--id", "doomed")
    deadline = time.monotonic() + 30
    while not Path(f"{block}.reached").exists():
        assert time.monotonic() < deadline, "the first worker never reached the model"
        time.sleep(0.05)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    assert ledger(tmp_path / "ledger.jsonl") == ["recipient-0000"]  # it paid, then died
    assert store.load_run("run-0000").status is RunStatus.PAUSED
    assert store.get(request_id).status is RequestStatus.DECIDED  # nothing was acknowledged
    block.unlink()
    rescuer = worker_process(postgres_url, env, "--lease", "2", "--poll", "0.2", "--id", "rescuer")
    deadline = time.monotonic() + 30
    while store.load_run("run-0000").status is not RunStatus.COMPLETED:
        assert time.monotonic() < deadline, "no worker finished the run"
        time.sleep(0.1)
    rescuer.send_signal(signal.SIGTERM)
    _, err = rescuer.communicate(timeout=30)
    assert rescuer.returncode == 0, err
    assert "resumed 1 runs" in err
    assert ledger(tmp_path / "ledger.jsonl") == ["recipient-0000"]  # not paid twice
    assert store.get(request_id).status is RequestStatus.RESUMED
    kinds = [e.kind for e in store.audit(run_id="run-0000")]
    assert kinds.count(AuditKind.EXECUTED) == 1
    assert kinds.count(AuditKind.RESUMED) == 1
    store.close()


def test_an_idle_worker_wakes_on_a_decision_not_on_its_poll(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a 60 s poll interval, only LISTEN/NOTIFY can explain a pickup within seconds."""
    monkeypatch.setenv("HITL_TEST_LEDGER", str(tmp_path / "ledger.jsonl"))
    [request_id] = paused_runs(postgres_url, 1)
    store = open_store(postgres_url)
    worker = Worker(open_store(postgres_url), REGISTRY, worker_id="listener", poll_interval=60)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        time.sleep(0.5)  # let it finish its first (idle) pass and start waiting
        decided_at = time.monotonic()
        store.decide(request_id, Decision.approve(by="ana"))
        while store.load_run("run-0000").status is not RunStatus.COMPLETED:
            assert time.monotonic() - decided_at < 10, "the worker did not wake on the decision"
            time.sleep(0.01)
        assert time.monotonic() - decided_at < 10
        with psycopg.connect(postgres_url, autocommit=True) as conn:  # a foreign event:
            conn.execute("""SELECT pg_notify('hitl_events', '{"event": "created"}')""")
        stopping = time.monotonic()
    finally:
        worker.stop()  # noticed within a wait slice, not after the 60 s poll
        thread.join(timeout=10)
        store.close()
    assert not thread.is_alive()
    assert time.monotonic() - stopping < 3
    assert ledger(tmp_path / "ledger.jsonl") == ["recipient-0000"]


def test_four_workers_resume_runs_spread_over_every_adapter(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each adapter's runs are resumed exactly once by whichever worker claims them.

    1,000 runs under ``make faults`` (HITL_FAULTS=full), 250 under ``make test``.
    """
    count = sizes().worker_runs
    monkeypatch.setenv("HITL_TEST_STORE_URL", postgres_url)
    monkeypatch.setenv("HITL_TEST_JOURNAL", str(tmp_path / "journal"))
    adapters = installed_adapters()
    assert set(adapters) == {"hitl_loop", "hitl_langgraph", "hitl_openai_agents"}
    drivers = {adapter: driver_for(adapter) for adapter in adapters}
    runs = {f"run-{i:04d}": adapters[i % len(adapters)] for i in range(count)}
    for run_id, adapter in runs.items():
        assert drivers[adapter].start(run_id).status == "paused"
    for driver in drivers.values():
        driver.close()
    store = open_store(postgres_url)
    pending = store.list_requests(limit=2000).items
    assert len(pending) == count
    assert {store.load_run(r).adapter for r in runs} == set(adapters)
    for request in pending:
        store.decide(request.id, Decision.approve(by="ana"))
    app = ("--app", "tests.every_adapter_app:REGISTRY", "--until-idle", "--batch", "25")
    workers = [
        worker_process(postgres_url, dict(os.environ), *app, "--id", f"w{i}") for i in range(4)
    ]
    counts = []
    for w in workers:
        _, err = w.communicate(timeout=600)
        assert w.returncode == 0, err
        counts.append(int(err.split("resumed ")[1].split()[0]))
    assert sum(counts) == count
    assert len(Journal(tmp_path / "journal").executions()) == count  # each payment made once
    events = store.audit()
    executed = [e.run_id for e in events if e.kind is AuditKind.EXECUTED]
    resumed = [e.run_id for e in events if e.kind is AuditKind.RESUMED]
    assert sorted(executed) == sorted(runs)
    assert sorted(resumed) == sorted(runs)
    for adapter in adapters:
        finished = [r for r, a in runs.items() if a == adapter][:5]
        assert {store.load_run(r).status for r in finished} == {RunStatus.COMPLETED}
    store.close()
