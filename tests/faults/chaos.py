"""Chaos: ``hitl worker``s SIGKILLed mid-tool, the database crashed, each payment made once.

`Chaos` pauses N runs spread over every adapter (a 4,200 payment, the standard policy),
approves them all, and keeps K ``hitl worker`` processes resuming them while a killer
SIGKILLs a lease-holding worker about every `Plan.kill_every` seconds. It prefers a worker
that is inside its tool right after the side effect: the tool journals the payment
(fsynced), then spends `Plan.after_effect` seconds before returning, and a kill there hits
the window between a call's effect and its record. The other kills land wherever the
worker is: loading the run, claiming the call, inside the tool before its effect
(`Plan.before_effect`), recording, saving. Each run journals to a directory of its
own (`tests.every_adapter_app.PER_RUN_REGISTRY`), so executions are counted per run. A
killed worker is replaced by a fresh one (a new ``--id``); on PostgreSQL the server is
crashed and restarted once (``pg_ctl -m immediate restart``) while the workers go on.

The first phase ends when every run is completed or paused on a pending recovery request
(an unknown outcome put to a person). Then: no run paid twice, every completed run paid
exactly once, every unknown outcome paid at most once, no approval lost, no run failed,
every audit chain intact. The second phase resolves each unknown outcome by the truth the
journal holds (marked done if the payment was made, retried if not) and lets the workers
finish: every run completed, each paid exactly once.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from hitl_conformance.adapters import installed_adapters
from hitl_conformance.driver import DriverConfig, load_factory
from hitl_conformance.journal import Faults, Journal
from hitl_core import ApprovalStore, Decision, RequestStatus, RunStatus, open_store, verify_store
from hitl_core.errors import StoreError
from hitl_core.requests import ApprovalRequest
from tests.every_adapter_app import SCENARIO
from tests.faults.forks import Forks, hitl_worker
from tests.postgres_server import PostgresServer

__all__ = ["PAID", "PAID_BY_HAND", "Chaos", "Figures", "Plan"]

PAID = "paid 4200.00 to Acme Corp"
"""What the payment tool returns: the model is told this when the payment ran."""
PAID_BY_HAND = "Checked with the bank: the 4,200 payment to Acme Corp went through."
"""The answer a person gives an unknown outcome whose payment the journal shows."""
TICK = 0.01
"""Seconds between the supervisor's looks at its workers."""
POLL = 0.5
"""Seconds between the harness's looks at the store."""
KILLS_PER_RUN = 1
"""A run whose worker was killed is left alone afterwards, so every run gets done."""
HUNT_SHARE = 2 / 3
"""Share of the kills that wait for a worker inside its tool, right after the side
effect; the others hit whichever worker holds a lease, wherever it is."""


@dataclass(frozen=True)
class Plan:
    runs: int
    workers: int
    lease: float = 2.0
    """The workers' ``--lease`` and their agents' pass lease, in seconds."""
    poll: float = 0.2
    batch: int = 2
    kill_every: float = 0.5
    before_effect: float = 0.1
    """Seconds the tool spends before its side effect (claimed, not yet paid)."""
    after_effect: float = 0.3
    """Seconds the tool spends after its side effect (the window a kill aims for)."""
    restart_at: float | None = None
    """Crash and restart PostgreSQL once this share of the runs has settled (None: never)."""
    deadline: float | None = None
    """Seconds each phase may take before the test fails (default: a minute, plus half a
    second per run; the full runs take about an eighth of a second per run)."""

    @property
    def phase_deadline(self) -> float:
        return self.deadline if self.deadline is not None else 60 + 0.5 * self.runs


@dataclass
class Figures:
    """What a chaos run measured, for the closing note."""

    runs: int = 0
    workers: int = 0
    executions: int = 0
    duplicates: int = 0
    completed_unattended: int = 0
    """Runs completed in the first phase, with no person involved."""
    unknown_outcomes: int = 0
    """Unknown outcomes surfaced in the first phase (runs paused on a recovery request)."""
    unknown_paid: int = 0
    """... of which the journal shows the payment made (resolved as done)."""
    unknown_unpaid: int = 0
    """... of which the payment was never made (resolved by a retry)."""
    recoveries_later: int = 0
    """Unknown outcomes surfaced again during the second phase (a retry interrupted)."""
    kills: int = 0
    kills_after_effect: int = 0
    """Kills aimed at a worker between its tool's side effect and its return."""
    restarts: int = 0
    worker_starts: int = 0
    refused_at_start: int = 0
    """Workers that exited because the store was down as they started (and were replaced)."""
    seed_seconds: float = 0.0
    """Starting and approving the runs."""
    first_phase_seconds: float = 0.0
    """From the first worker's start to every run completed or paused on an unknown outcome."""
    wall_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Slot:
    """One of the K worker places: the process in it, and how many it has had."""

    index: int
    process: BaseProcess | None = None
    starts: int = 0


@dataclass
class _Snapshot:
    """Where the runs stand, read from the store."""

    completed: set[str]
    failed: list[str]
    decided_runs: list[str]

    @property
    def decided(self) -> int:
        return len(self.decided_runs)

    recovering: dict[str, ApprovalRequest] = field(default_factory=dict)
    """Run id -> its pending recovery request."""
    other_pending: list[ApprovalRequest] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.completed)} completed, {len(self.recovering)} paused on an unknown "
            f"outcome, {self.decided} decided requests not yet applied "
            f"({', '.join(self.decided_runs[:10])}), failed: {self.failed}, other pending: "
            f"{[(r.run_id, r.kind) for r in self.other_pending][:10]}"
        )


class Chaos:
    """One chaos run over `url`; `run` returns its figures or raises AssertionError."""

    def __init__(
        self,
        forks: Forks,
        url: str,
        root: Path,
        plan: Plan,
        server: PostgresServer | None = None,
    ) -> None:
        self.forks = forks
        self.url = url
        self.plan = plan
        self.server = server
        self.journals = root / "journals"
        self.activity = root / "activity"
        self.activity.mkdir(parents=True, exist_ok=True)
        self.env = {
            "HITL_TEST_STORE_URL": url,
            "HITL_TEST_JOURNAL": str(self.journals),
            "HITL_TEST_LEASE": str(plan.lease),
            "HITL_TEST_ACTIVITY": str(self.activity),
        }
        adapters = installed_adapters()
        self.runs = {f"run-{i:04d}": adapters[i % len(adapters)] for i in range(plan.runs)}
        self.figures = Figures(runs=plan.runs, workers=plan.workers)
        self._slots = [_Slot(i) for i in range(plan.workers)]
        self._killed: set[int] = set()
        self._answers: dict[str, str] = {}
        """Run id -> what the model must have been told (how its unknown outcome was resolved)."""
        self._hits: Counter[str] = Counter()
        """Run id -> how many workers were killed while resuming it."""
        self._unexpected: list[str] = []
        self._killing = threading.Event()
        self._outage = threading.Event()
        self._outage_ended: float | None = None
        self._stopping = threading.Event()
        self._random = random.Random(20240611)
        self._supervisor = threading.Thread(target=self._supervise, name="chaos-supervisor")

    # -- the run ----------------------------------------------------------------------

    def run(self) -> Figures:
        began = time.monotonic()
        self._seed()
        self.figures.seed_seconds = round(time.monotonic() - began, 1)
        store = open_store(self.url)
        try:
            working = time.monotonic()
            for slot in self._slots:
                self._start(slot)
            self._killing.set()
            self._supervisor.start()
            first = self._first_phase(store)
            self.figures.first_phase_seconds = round(time.monotonic() - working, 1)
            self._killing.clear()
            self._check_first_phase(store, first)
            self._second_phase(store)
            self._stop_workers()
            self._check_end(store)
        finally:
            self._stopping.set()
            if self._supervisor.is_alive():
                self._supervisor.join(timeout=30)
            store.close()
            made = self._executions()
            self.figures.executions = sum(made.values())
            self.figures.duplicates = sum(n - 1 for n in made.values() if n > 1)
            self.figures.wall_seconds = round(time.monotonic() - began, 1)
        return self.figures

    def _seed(self) -> None:
        """Pause every run on its payment, give each its journal, approve them all."""
        for adapter in sorted(set(self.runs.values())):
            config = DriverConfig(
                store_url=self.url, journal=self.journals / "seed", scenario=SCENARIO
            )
            driver = load_factory(adapter)(config)
            try:
                for run_id in (r for r, a in self.runs.items() if a == adapter):
                    faults = Faults(
                        delay_before_effect=self.plan.before_effect,
                        delay_after_effect=self.plan.after_effect,
                    )
                    Journal(self.journals / run_id).set_faults(faults)
                    assert driver.start(run_id).status == "paused"
            finally:
                driver.close()
        store = open_store(self.url)
        try:
            pending = _all_requests(store, RequestStatus.PENDING)
            assert len(pending) == len(self.runs)
            for request in pending:
                store.decide(request.id, Decision.approve(by="ana"))
        finally:
            store.close()

    def _first_phase(self, store: ApprovalStore) -> _Snapshot:
        """Until every run is completed or paused on an unknown outcome (or the deadline)."""
        deadline = time.monotonic() + self.plan.phase_deadline
        restart_after = (
            None if self.plan.restart_at is None else self.plan.restart_at * len(self.runs)
        )
        while True:
            self._check_workers()
            snapshot = self._snapshot(store)
            if snapshot is not None:
                assert not snapshot.failed, f"runs failed: {self._failures(store, snapshot)}"
                settled = len(snapshot.completed) + len(snapshot.recovering)
                if restart_after is not None and settled >= restart_after:
                    restart_after = None
                    self._restart_server()
                    continue
                if snapshot.decided == 0 and settled == len(self.runs):
                    assert restart_after is None, "the runs settled before the server restarted"
                    return snapshot
            assert time.monotonic() < deadline, f"the first phase did not end: {snapshot}"
            time.sleep(POLL)

    def _check_first_phase(self, store: ApprovalStore, snapshot: _Snapshot) -> None:
        made = self._executions()
        self.figures.completed_unattended = len(snapshot.completed)
        self.figures.unknown_outcomes = len(snapshot.recovering)
        self.figures.unknown_paid = sum(made[r] == 1 for r in snapshot.recovering)
        self.figures.unknown_unpaid = sum(made[r] == 0 for r in snapshot.recovering)
        paid_twice = {r: n for r, n in made.items() if n > 1}
        assert not paid_twice, f"runs paid more than once: {paid_twice}"
        unpaid = sorted(r for r in snapshot.completed if made[r] != 1)
        assert not unpaid, f"runs completed without their payment being made: {unpaid}"
        told = {r: self._told(r) for r in snapshot.completed}
        assert all(text == PAID for text in told.values()), told
        assert not snapshot.other_pending, f"pending requests: {snapshot.other_pending}"
        self._check_decisions_kept(store)
        report = verify_store(store)
        assert report.ok, report

    def _second_phase(self, store: ApprovalStore) -> None:
        """Resolve each unknown outcome by the journal's truth until every run completed."""
        deadline = time.monotonic() + self.plan.phase_deadline
        answered: set[str] = set()
        while True:
            self._check_workers()
            snapshot = self._snapshot(store)
            if snapshot is not None:
                assert not snapshot.failed, f"runs failed: {self._failures(store, snapshot)}"
                if len(snapshot.completed) == len(self.runs):
                    return
                for run_id, recovery in snapshot.recovering.items():
                    if recovery.id in answered:
                        continue
                    if len(answered) >= self.figures.unknown_outcomes:
                        self.figures.recoveries_later += 1
                    answered.add(recovery.id)
                    self._resolve(store, run_id, recovery)
            assert time.monotonic() < deadline, f"the second phase did not end: {snapshot}"
            time.sleep(POLL)

    def _resolve(self, store: ApprovalStore, run_id: str, recovery: ApprovalRequest) -> None:
        made = len(Journal(self.journals / run_id).executions())
        assert made <= 1, f"{run_id} paid {made} times"
        decision = Decision.respond(PAID_BY_HAND, by="ana") if made else Decision.approve(by="ana")
        store.decide(recovery.id, decision)
        self._answers[run_id] = PAID_BY_HAND if made else PAID

    def _check_end(self, store: ApprovalStore) -> None:
        made = self._executions()
        assert made == dict.fromkeys(self.runs, 1), {r: n for r, n in made.items() if n != 1}
        statuses = {store.load_run(r).status for r in self.runs}
        assert statuses == {RunStatus.COMPLETED}, statuses
        told = {r: self._told(r) for r in self.runs}
        expected = {r: self._answers.get(r, PAID) for r in self.runs}
        assert told == expected, {r: t for r, t in told.items() if t != expected[r]}
        self._check_decisions_kept(store)
        assert not store.list_requests(status=RequestStatus.PENDING).items
        report = verify_store(store)
        assert report.ok, report
        assert not self._unexpected, self._unexpected

    def _check_decisions_kept(self, store: ApprovalStore) -> None:
        """Every run's approval was applied: none pending again, none still waiting."""
        approvals = [r for r in _all_requests(store, None) if r.kind == "approval"]
        assert sorted(r.run_id for r in approvals) == sorted(self.runs)
        lost = [
            (r.run_id, r.status.value) for r in approvals if r.status is not RequestStatus.RESUMED
        ]
        assert not lost, f"approvals not applied: {lost}"

    # -- observing ----------------------------------------------------------------------

    def _snapshot(self, store: ApprovalStore) -> _Snapshot | None:
        """The runs' state, or None while the store is unreachable (a restart)."""
        try:
            completed = {
                r.run_id for r in _all_runs(store, RunStatus.COMPLETED) if r.run_id in self.runs
            }
            failed = [r.run_id for r in store.list_runs(status=RunStatus.FAILED).items]
            decided = [r.run_id for r in _all_requests(store, RequestStatus.DECIDED)]
            pending = _all_requests(store, RequestStatus.PENDING)
        except StoreError:
            return None
        snapshot = _Snapshot(completed, failed, decided)
        for request in pending:
            if request.kind == "recovery":
                snapshot.recovering[request.run_id] = request
            else:
                snapshot.other_pending.append(request)
        return snapshot

    def _failures(self, store: ApprovalStore, snapshot: _Snapshot) -> dict[str, str | None]:
        return {r: store.load_run(r).error for r in snapshot.failed}

    def _executions(self) -> dict[str, int]:
        return {r: len(Journal(self.journals / r).executions()) for r in self.runs}

    def _told(self, run_id: str) -> str | None:
        return Journal(self.journals / run_id).told().get("c1")

    # -- the workers ------------------------------------------------------------------

    def _start(self, slot: _Slot) -> None:
        slot.starts += 1
        self.figures.worker_starts += 1
        name = f"w{slot.index}.{slot.starts}"
        argv = [
            "worker",
            "--store",
            self.url,
            "--app",
            "tests.every_adapter_app:PER_RUN_REGISTRY",
            "--lease",
            str(self.plan.lease),
            "--poll",
            str(self.plan.poll),
            "--batch",
            str(self.plan.batch),
            "--id",
            name,
        ]
        slot.process = self.forks.start(hitl_worker, argv, name=name, env=self.env)

    def _supervise(self) -> None:
        """Replace dead workers; while killing, kill one about every `kill_every` s."""
        next_kill = time.monotonic() + self.plan.kill_every
        hunt_until: float | None = None
        while not self._stopping.is_set():
            for slot in self._slots:
                process = slot.process
                if process is None or process.is_alive():
                    continue
                if process.pid in self._killed:
                    pass
                elif self._refused_during_outage(process):
                    self.figures.refused_at_start += 1
                else:
                    self._unexpected.append(
                        f"{process.name} exited {process.exitcode}:\n{self.forks.log(process.name)}"
                    )
                if not self._outage.is_set() and not self._stopping.is_set():
                    self._start(slot)
            now = time.monotonic()
            if self._killing.is_set() and now >= next_kill:
                if hunt_until is None:  # most kills wait for a tool's side effect
                    hunting = self._random.random() < HUNT_SHARE
                    hunt_until = now + (self.plan.after_effect if hunting else 0.0)
                victim = self._in_tool()
                if victim is None and now >= hunt_until:
                    victim = self._busy()
                if victim is not None:
                    self._kill(victim)
                    hunt_until = None
                    next_kill = now + self._random.uniform(0.8, 1.2) * self.plan.kill_every
            time.sleep(TICK)

    def _refused_during_outage(self, process: BaseProcess) -> bool:
        """A worker that was starting as the server went down: ``hitl worker`` exits 1
        when it cannot open the store, as a command should (its supervisor restarts it)."""
        ended = self._outage_ended
        recent = self._outage.is_set() or (ended is not None and time.monotonic() - ended < 5)
        refused = "StoreUnavailable: Cannot connect to" in self.forks.log(process.name)
        return recent and process.exitcode == 1 and refused

    def _kill(self, process: BaseProcess) -> None:
        assert process.pid is not None
        after_effect = self._after_effect(process)
        run_id = self._running(process)
        if run_id is not None:
            self._hits[run_id] += 1
        self._killed.add(process.pid)
        with contextlib.suppress(Exception):
            process.kill()
        self.figures.kills += 1
        self.figures.kills_after_effect += after_effect

    def _running(self, process: BaseProcess) -> str | None:
        """The run a live worker is resuming, if any."""
        if process.pid is None or not process.is_alive():
            return None
        try:
            return (self.activity / str(process.pid)).read_text() or None
        except OSError:
            return None

    def _target(self, process: BaseProcess | None) -> str | None:
        """The run a live worker is resuming, if it is one still to be hit."""
        run_id = self._running(process) if process is not None else None
        return run_id if run_id is not None and self._hits[run_id] < KILLS_PER_RUN else None

    def _after_effect(self, process: BaseProcess) -> bool:
        """Whether the worker's tool made its side effect moments ago and has not returned."""
        run_id = self._target(process)
        if run_id is None:
            return False
        path = self.journals / run_id / "executions.jsonl"
        try:
            age = time.time() - path.stat().st_mtime
            last = Journal(path.parent).executions()[-1]
        except (OSError, IndexError, ValueError):
            return False
        return age < 0.8 * self.plan.after_effect and last.pid == process.pid

    def _in_tool(self) -> BaseProcess | None:
        """A worker between its tool's side effect and the tool's return, if any."""
        for slot in self._slots:
            if slot.process is not None and self._after_effect(slot.process):
                return slot.process
        return None

    def _busy(self) -> BaseProcess | None:
        """A worker holding a run's lease (resuming it), at random."""
        busy = [s.process for s in self._slots if s.process and self._target(s.process)]
        return self._random.choice(busy) if busy else None

    def _check_workers(self) -> None:
        assert not self._unexpected, "\n".join(self._unexpected)

    def _restart_server(self) -> None:
        assert self.server is not None, "only a PostgreSQL server can be restarted"
        self._outage.set()
        try:
            self.server.restart()
        finally:
            self._outage_ended = time.monotonic()
            self._outage.clear()
        self.figures.restarts += 1

    def _stop_workers(self) -> None:
        """SIGTERM every worker; each finishes its run in hand and exits 0."""
        self._stopping.set()
        self._supervisor.join(timeout=30)
        processes = [s.process for s in self._slots if s.process is not None]
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=30)
            if process.pid in self._killed:
                continue
            if process.exitcode != 0:
                self._unexpected.append(
                    f"{process.name} exited {process.exitcode} on SIGTERM:\n"
                    f"{self.forks.log(process.name)}"
                )


def _all_requests(store: ApprovalStore, status: RequestStatus | None) -> list[ApprovalRequest]:
    found: list[ApprovalRequest] = []
    cursor = None
    while True:
        page = store.list_requests(status=status, limit=500, cursor=cursor)
        found += page.items
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _all_runs(store: ApprovalStore, status: RunStatus) -> list[Any]:
    found: list[Any] = []
    cursor = None
    while True:
        page = store.list_runs(status=status, limit=500, cursor=cursor)
        found += page.items
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor
