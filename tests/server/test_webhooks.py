"""Webhooks end to end: a live receiver verifies every delivery the dispatcher sends.

The receiver is a FastAPI app under uvicorn on loopback. It checks each request with
`verify_signature` and a `ReplayGuard` (401 on a bad or stale signature, 409 on a replay),
answers what the test scripted, and records what it accepted; the tests compare that and
the store's delivery log and cursors with the audit trail.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import cast

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from hitl_core import (
    ApprovalRequest,
    ApprovalStore,
    AuditKind,
    Decision,
    ManualClock,
    RequestStatus,
    StoreError,
    open_store,
)
from hitl_core.stores.deliveries import DeliveryRecord, DeliveryStatus, WebhookDeliveries
from hitl_server.dispatcher import Backoff, Dispatcher
from hitl_server.webhook_config import WebhookEndpoint
from hitl_server.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    ReplayedDelivery,
    ReplayGuard,
    WebhookPayload,
    WebhookRejected,
    delivery_id_for,
    sign,
    verify_signature,
)
from tests.factories import payment_request
from tests.server.live import free_port, serve

ROOT = Path(__file__).parents[2]
SECRET = "whsec_test_0123456789"
FAST = Backoff(base=0.01, cap=0.05)
"""Retries in milliseconds, so a test of six attempts takes a fraction of a second."""


@dataclass(frozen=True)
class Received:
    """One delivery the receiver accepted, exactly as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    payload: WebhookPayload


@dataclass
class Receiver:
    """What a receiving service holds: its secret, a replay guard, and what it got."""

    secret: str = SECRET
    plan: list[int] = field(default_factory=list)
    """Statuses to answer the next valid deliveries with, in order; 200 after that."""
    on_accept: Callable[[Received], None] | None = None
    guard: ReplayGuard = field(default_factory=ReplayGuard)
    accepted: list[Received] = field(default_factory=list)
    answered: list[tuple[str, int]] = field(default_factory=list)
    """(delivery id, status) for every validly signed request, accepted or not."""
    rejected: list[str] = field(default_factory=list)
    """The error names of requests refused by verification."""

    @property
    def payloads(self) -> list[WebhookPayload]:
        return [r.payload for r in self.accepted]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook/{name}")
        async def hook(name: str, request: Request) -> Response:
            body = await request.body()
            try:
                verify_signature(
                    self.secret,
                    request.headers.get(SIGNATURE_HEADER),
                    body,
                    replay_guard=self.guard,
                    delivery_id=request.headers.get(DELIVERY_HEADER),
                )
            except WebhookRejected as error:
                self.rejected.append(type(error).__name__)
                status = 409 if isinstance(error, ReplayedDelivery) else 401
                return JSONResponse({"error": type(error).__name__}, status_code=status)
            payload = WebhookPayload.model_validate_json(body)
            status = self.plan.pop(0) if self.plan else 200
            self.answered.append((payload.delivery_id, status))
            if status == 200:
                received = Received(f"/hook/{name}", dict(request.headers), body, payload)
                self.accepted.append(received)
                if self.on_accept is not None:
                    self.on_accept(received)
            return Response(status_code=status)

        return app


def endpoint(base: str, name: str = "ops", **settings: object) -> WebhookEndpoint:
    return WebhookEndpoint.model_validate(
        {"name": name, "url": f"{base}/hook/{name}", "secret": SECRET, **settings}
    )


def log_of(store: ApprovalStore, name: str = "ops") -> list[DeliveryRecord]:
    return cast(WebhookDeliveries, store).deliveries(endpoint=name, limit=1000)


def cursor_of(store: ApprovalStore, name: str = "ops") -> int:
    return cast(WebhookDeliveries, store).delivery_cursor(name)


def seq_of(store: ApprovalStore, kind: AuditKind, request_id: str) -> int:
    [event] = [e for e in store.audit(request_id=request_id) if e.kind is kind]
    assert event.seq is not None
    return event.seq


def three_lives(store: ApprovalStore, clock: ManualClock) -> list[ApprovalRequest]:
    """One request left pending, one approved by ana, one expired: five audit events."""
    pending = store.put(payment_request(call_id="pending", now=clock.now()))
    decided = store.put(payment_request(call_id="decided", now=clock.now()))
    store.decide(decided.id, Decision.approve(by="ana", feedback="ok"))
    expiring = store.put(
        payment_request(call_id="expiring", now=clock.now(), expires_in=timedelta(hours=1))
    )
    clock.advance(timedelta(hours=2))
    assert [r.id for r in store.expire_due()] == [expiring.id]
    return [pending, decided, expiring]


def test_created_decided_and_expired_reach_the_receiver_signed_in_order(
    store: ApprovalStore, clock: ManualClock
) -> None:
    pending, decided, expiring = three_lives(store, clock)
    receiver = Receiver()
    with serve(receiver.app()) as base:
        ops = endpoint(base)
        decisions = endpoint(base, "decisions", events=["decided"])
        with Dispatcher(store, [ops, decisions], poll_interval=0.05) as dispatcher:
            totals = dispatcher.run(until_idle=True)

    assert (totals.delivered, totals.failed, totals.gave_up) == (6, 0, 0)
    assert totals.skipped == 4  # the created and expired events "decisions" does not take
    assert receiver.rejected == []
    ops_got = [r for r in receiver.accepted if r.path == "/hook/ops"]
    assert [(r.payload.event.kind, r.payload.event.request_id) for r in ops_got] == [
        (AuditKind.CREATED, pending.id),
        (AuditKind.CREATED, decided.id),
        (AuditKind.DECIDED, decided.id),
        (AuditKind.CREATED, expiring.id),
        (AuditKind.EXPIRED, expiring.id),
    ]
    trail = store.audit()
    assert [r.payload.event for r in ops_got] == trail
    for got in ops_got:
        event = got.payload.event
        assert event.request_id is not None
        assert got.payload.request == store.get(event.request_id)
        assert got.payload.delivery_id == delivery_id_for("ops", event)
        assert got.headers[DELIVERY_HEADER.lower()] == got.payload.delivery_id
        assert got.headers[EVENT_HEADER.lower()] == event.kind.value
        assert got.headers["content-type"] == "application/json"
        verify_signature(SECRET, got.headers[SIGNATURE_HEADER.lower()], got.body)
    assert len({r.payload.delivery_id for r in ops_got}) == 5
    decided_event, expired_event = ops_got[2].payload.event, ops_got[4].payload.event
    assert (decided_event.actor, decided_event.decision, decided_event.feedback) == (
        "ana",
        "approve",
        "ok",
    )
    assert (expired_event.actor, expired_event.decision) == ("hitl:expiry", "reject")
    assert [r.payload.request.status for r in ops_got if r.payload.request] == [
        RequestStatus.PENDING,
        RequestStatus.DECIDED,
        RequestStatus.DECIDED,
        RequestStatus.EXPIRED,
        RequestStatus.EXPIRED,
    ]

    decisions_got = [r.payload.event for r in receiver.accepted if r.path == "/hook/decisions"]
    assert decisions_got == [trail[2]]

    log = log_of(store)
    assert [(r.event_seq, r.event, r.request_id) for r in log] == [
        (e.seq, e.kind.value, e.request_id) for e in trail
    ]
    assert {(r.status, r.attempt, r.http_status, r.error) for r in log} == {
        (DeliveryStatus.DELIVERED, 1, 200, None)
    }
    assert [r.delivery_id for r in log] == [r.payload.delivery_id for r in ops_got]
    assert all(r.url == ops.url and r.duration_ms is not None for r in log)
    assert [(r.event, r.status) for r in log_of(store, "decisions")] == [
        ("decided", DeliveryStatus.DELIVERED)
    ]
    last = trail[-1].seq
    assert cursor_of(store) == cursor_of(store, "decisions") == last
    assert cast(WebhookDeliveries, store).deliveries(event_seq=trail[2].seq) == [
        log[2],
        log_of(store, "decisions")[0],
    ]


def test_a_replayed_stale_tampered_or_foreign_delivery_is_refused(clock: ManualClock) -> None:
    store = open_store("memory://", clock=clock)
    request = store.put(payment_request(now=clock.now()))
    receiver = Receiver()
    with serve(receiver.app()) as base:
        with Dispatcher(store, [endpoint(base)]) as dispatcher:
            assert dispatcher.run_once().delivered == 1
        [captured] = receiver.accepted
        url = f"{base}{captured.path}"
        headers = {
            name: captured.headers[name.lower()]
            for name in (SIGNATURE_HEADER, DELIVERY_HEADER, EVENT_HEADER, "Content-Type")
        }

        def post(body: bytes, **changed: str) -> httpx.Response:
            return httpx.post(url, content=body, headers={**headers, **changed})

        replay = post(captured.body)
        assert (replay.status_code, replay.json()) == (409, {"error": "ReplayedDelivery"})

        ten_minutes_ago = int(time.time()) - 600
        stale = post(
            captured.body, **{SIGNATURE_HEADER: sign(SECRET, captured.body, ten_minutes_ago)}
        )
        assert (stale.status_code, stale.json()) == (401, {"error": "StaleSignature"})

        tampered_body = captured.body.replace(b"Acme Corp", b"Evil Corp")
        assert tampered_body != captured.body
        tampered = post(tampered_body)
        assert (tampered.status_code, tampered.json()) == (401, {"error": "InvalidSignature"})

        now = int(time.time())
        foreign = post(
            captured.body, **{SIGNATURE_HEADER: sign("not-the-secret", captured.body, now)}
        )
        assert (foreign.status_code, foreign.json()) == (401, {"error": "InvalidSignature"})

        relabelled = post(captured.body, **{DELIVERY_HEADER: "dlv_someone_else"})
        assert (relabelled.status_code, relabelled.json()) == (401, {"error": "InvalidSignature"})

        resigned = post(captured.body, **{SIGNATURE_HEADER: sign(SECRET, captured.body, now + 1)})
        assert resigned.status_code == 200  # a genuine retry is signed afresh and passes

    assert receiver.rejected == [
        "ReplayedDelivery",
        "StaleSignature",
        "InvalidSignature",
        "InvalidSignature",
        "InvalidSignature",
    ]
    assert [r.payload.delivery_id for r in receiver.accepted] == [captured.payload.delivery_id] * 2
    assert captured.payload.event.request_id == request.id
    store.close()


def test_a_failing_receiver_gets_retries_with_growing_backoff_and_one_delivery_id(
    store: ApprovalStore, clock: ManualClock
) -> None:
    request = store.put(payment_request(now=clock.now()))
    receiver = Receiver(plan=[503, 503])
    with serve(receiver.app()) as base:
        dispatcher = Dispatcher(
            store, [endpoint(base)], poll_interval=5.0, backoff=Backoff(base=0.2, jitter=0.1)
        )
        totals = dispatcher.run(until_idle=True)
        dispatcher.close()

    assert (totals.delivered, totals.failed, totals.gave_up) == (1, 2, 0)
    log = log_of(store)
    assert [(r.attempt, r.status, r.http_status) for r in log] == [
        (1, DeliveryStatus.FAILED, 503),
        (2, DeliveryStatus.FAILED, 503),
        (3, DeliveryStatus.DELIVERED, 200),
    ]
    [delivery_id] = {r.delivery_id for r in log}
    assert receiver.answered == [(delivery_id, 503), (delivery_id, 503), (delivery_id, 200)]
    assert [p.delivery_id for p in receiver.payloads] == [delivery_id]
    assert receiver.payloads[0].event.request_id == request.id
    # The pause between one attempt's end and the next one's start: 0.2 s, then 0.4 s (+-10%).
    first_wait, second_wait = (
        (later.at - earlier.at).total_seconds() - (earlier.duration_ms or 0) / 1000
        for earlier, later in pairwise(log)
    )
    assert first_wait >= 0.18
    assert second_wait >= 0.36
    assert second_wait > first_wait
    assert cursor_of(store) == seq_of(store, AuditKind.CREATED, request.id)


def test_timeouts_and_throttling_are_retried(clock: ManualClock) -> None:
    store = open_store("memory://", clock=clock)
    store.put(payment_request(now=clock.now()))
    receiver = Receiver(plan=[408, 429])
    with serve(receiver.app()) as base, Dispatcher(store, [endpoint(base)], backoff=FAST) as d:
        d.run(until_idle=True)
    assert [(r.status, r.http_status) for r in log_of(store)] == [
        (DeliveryStatus.FAILED, 408),
        (DeliveryStatus.FAILED, 429),
        (DeliveryStatus.DELIVERED, 200),
    ]
    assert len(receiver.accepted) == 1
    store.close()


def test_an_unreachable_receiver_is_given_up_after_max_attempts_and_the_next_event_flows(
    store: ApprovalStore, clock: ManualClock
) -> None:
    port = free_port()  # nothing listens here until the receiver starts below
    base = f"http://127.0.0.1:{port}"
    ops = endpoint(base, max_attempts=4)
    lost = store.put(payment_request(call_id="lost", now=clock.now()))
    with Dispatcher(store, [ops], backoff=FAST) as dispatcher:
        totals = dispatcher.run(until_idle=True)
    assert (totals.failed, totals.gave_up, totals.delivered) == (3, 1, 0)
    log = log_of(store)
    assert [(r.attempt, r.status) for r in log] == [
        (1, DeliveryStatus.FAILED),
        (2, DeliveryStatus.FAILED),
        (3, DeliveryStatus.FAILED),
        (4, DeliveryStatus.GAVE_UP),
    ]
    assert all(r.http_status is None and "ConnectError" in (r.error or "") for r in log)
    assert len({r.delivery_id for r in log}) == 1
    assert cursor_of(store) == seq_of(store, AuditKind.CREATED, lost.id)

    receiver = Receiver()
    later = store.put(payment_request(call_id="later", now=clock.now()))
    with serve(receiver.app(), port=port), Dispatcher(store, [ops], backoff=FAST) as dispatcher:
        assert dispatcher.run(until_idle=True).delivered == 1
    assert [p.event.request_id for p in receiver.payloads] == [later.id]
    assert [r.status for r in log_of(store)][4:] == [DeliveryStatus.DELIVERED]
    assert cursor_of(store) == seq_of(store, AuditKind.CREATED, later.id)


def test_a_client_error_is_given_up_at_once(clock: ManualClock) -> None:
    store = open_store("memory://", clock=clock)
    refused = store.put(payment_request(call_id="refused", now=clock.now()))
    taken = store.put(payment_request(call_id="taken", now=clock.now()))
    receiver = Receiver(plan=[400])
    with serve(receiver.app()) as base, Dispatcher(store, [endpoint(base)], backoff=FAST) as d:
        totals = d.run(until_idle=True)
    assert (totals.gave_up, totals.delivered, totals.failed) == (1, 1, 0)
    assert [(r.request_id, r.attempt, r.status, r.http_status) for r in log_of(store)] == [
        (refused.id, 1, DeliveryStatus.GAVE_UP, 400),
        (taken.id, 1, DeliveryStatus.DELIVERED, 200),
    ]
    assert [p.event.request_id for p in receiver.payloads] == [taken.id]
    assert cursor_of(store) == seq_of(store, AuditKind.CREATED, taken.id)
    store.close()


def test_a_backlog_is_shared_out_a_batch_per_endpoint_per_pass(clock: ManualClock) -> None:
    store = open_store("memory://", clock=clock)
    made = [store.put(payment_request(call_id=f"c{i}", now=clock.now())) for i in range(5)]
    receiver = Receiver()
    with serve(receiver.app()) as base:
        endpoints = [endpoint(base, "a"), endpoint(base, "b")]
        with Dispatcher(store, endpoints, batch=2) as dispatcher:
            first = dispatcher.run_once()
            assert first.delivered == 4
            assert [r.path for r in receiver.accepted] == ["/hook/a"] * 2 + ["/hook/b"] * 2
            assert cursor_of(store, "a") == cursor_of(store, "b") == 2
            assert dispatcher.run(until_idle=True).delivered == 6
    for name in ("a", "b"):
        got = [r.payload.event.request_id for r in receiver.accepted if r.path == f"/hook/{name}"]
        assert got == [r.id for r in made]
        assert cursor_of(store, name) == 5
    store.close()


def test_a_restarted_dispatcher_continues_from_the_cursor_without_resending(
    tmp_path: Path, clock: ManualClock
) -> None:
    url = f"sqlite:///{tmp_path / 'hooks.db'}"
    first_store = open_store(url, clock=clock)
    requests = [
        first_store.put(payment_request(call_id=f"call_{i}", now=clock.now())) for i in range(5)
    ]
    receiver = Receiver()
    with serve(receiver.app()) as base:
        first = Dispatcher(first_store, [endpoint(base)], poll_interval=0.05)
        receiver.on_accept = lambda _: first.stop() if len(receiver.accepted) == 2 else None
        thread = first.start_thread()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert len(receiver.accepted) == 2
        stopped_at = cursor_of(first_store)
        first_store.close()

        second_store = open_store(url, clock=clock)
        assert (
            cursor_of(second_store)
            == stopped_at
            == seq_of(second_store, AuditKind.CREATED, requests[1].id)
        )
        with Dispatcher(second_store, [endpoint(base)]) as second:
            assert second.run(until_idle=True).delivered == 3

    assert [p.event.request_id for p in receiver.payloads] == [r.id for r in requests]
    assert len({p.delivery_id for p in receiver.payloads}) == 5
    log = log_of(second_store)
    assert [(r.request_id, r.status) for r in log] == [
        (r.id, DeliveryStatus.DELIVERED) for r in requests
    ]
    assert cursor_of(second_store) == second_store.audit()[-1].seq
    second_store.close()


def test_attempts_made_before_a_restart_count_toward_max_attempts(clock: ManualClock) -> None:
    store = open_store("memory://", clock=clock)
    store.put(payment_request(now=clock.now()))
    ops = endpoint(f"http://127.0.0.1:{free_port()}", max_attempts=3)
    with Dispatcher(store, [ops], backoff=FAST) as before:
        assert before.run_once().failed == 1
    with Dispatcher(store, [ops], backoff=FAST) as after:
        after.run(until_idle=True)
    assert [(r.attempt, r.status) for r in log_of(store)] == [
        (1, DeliveryStatus.FAILED),
        (2, DeliveryStatus.FAILED),
        (3, DeliveryStatus.GAVE_UP),
    ]
    store.close()


def test_an_event_recorded_as_delivered_before_a_crash_is_not_sent_again(
    clock: ManualClock,
) -> None:
    store = open_store("memory://", clock=clock)
    request = store.put(payment_request(now=clock.now()))
    [event] = store.audit()
    assert event.seq is not None
    receiver = Receiver()
    with serve(receiver.app()) as base:
        ops = endpoint(base)
        # The crashed process posted the event and logged it, but never moved the cursor.
        cast(WebhookDeliveries, store).record_delivery(
            DeliveryRecord(
                delivery_id=delivery_id_for("ops", event),
                endpoint="ops",
                url=ops.url,
                event_seq=event.seq,
                event="created",
                request_id=request.id,
                attempt=1,
                status=DeliveryStatus.DELIVERED,
                http_status=200,
                at=datetime.now(UTC),
            )
        )
        with Dispatcher(store, [ops]) as dispatcher:
            dispatcher.run(until_idle=True)
    assert receiver.accepted == []
    assert cursor_of(store) == event.seq
    assert len(log_of(store)) == 1
    store.close()


def test_stop_is_noticed_promptly_while_idle(clock: ManualClock) -> None:
    store = open_store("memory://", clock=clock)
    receiver = Receiver()
    with serve(receiver.app()) as base:
        dispatcher = Dispatcher(store, [endpoint(base)], poll_interval=60.0)
        thread = dispatcher.start_thread()
        store.put(payment_request(now=clock.now()))  # may land before or after the first pass
        time.sleep(0.2)
        started = time.monotonic()
        dispatcher.stop()
        thread.join(timeout=5)
        assert not thread.is_alive()
        assert time.monotonic() - started < 1.0
    assert len(log_of(store)) == len(receiver.accepted) <= 1
    store.close()


def test_a_store_without_delivery_records_is_refused() -> None:
    class ThirdPartyStore:
        url = "custom://approvals"

    with pytest.raises(StoreError, match=r"custom://approvals .*WebhookDeliveries capability"):
        Dispatcher(cast(ApprovalStore, ThirdPartyStore()), [])


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def webhooks_command(url: str, config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hitl_cli",
            "webhooks",
            "--store",
            url,
            "--config",
            str(config),
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, "OPS_WEBHOOK_SECRET": SECRET},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def config_file(tmp_path: Path, base: str) -> Path:
    path = tmp_path / "webhooks.toml"
    path.write_text(
        f"""
[[webhook]]
name = "ops"
url = "{base}/hook/ops"
secret_env = "OPS_WEBHOOK_SECRET"
events = ["created", "decided", "expired"]
max_attempts = 3
timeout = "2s"
"""
    )
    return path


def test_the_cli_delivers_pending_events_and_exits_when_idle(
    tmp_path: Path, clock: ManualClock
) -> None:
    url = f"sqlite:///{tmp_path / 'hitl.db'}"
    store = open_store(url, clock=clock)
    lives = three_lives(store, clock)
    receiver = Receiver()
    with serve(receiver.app()) as base:
        command = webhooks_command(
            url, config_file(tmp_path, base), "--until-idle", "--poll", "0.1"
        )
        _, err = command.communicate(timeout=60)
    assert command.returncode == 0, err
    assert "delivered 5" in err
    assert [p.event for p in receiver.payloads] == store.audit()
    assert [p.request.id for p in receiver.payloads if p.request] == [
        lives[0].id,
        lives[1].id,
        lives[1].id,
        lives[2].id,
        lives[2].id,
    ]
    assert cursor_of(store) == store.audit()[-1].seq
    store.close()


def test_the_cli_runs_until_sigterm(tmp_path: Path, clock: ManualClock) -> None:
    url = f"sqlite:///{tmp_path / 'hitl.db'}"
    store = open_store(url, clock=clock)
    receiver = Receiver()
    with serve(receiver.app()) as base:
        command = webhooks_command(url, config_file(tmp_path, base), "--poll", "0.1")
        try:
            store.put(payment_request(now=clock.now()))
            wait_until(lambda: len(receiver.accepted) == 1)
            assert command.poll() is None  # still running, waiting for more
            command.send_signal(signal.SIGTERM)
            _, err = command.communicate(timeout=10)
        finally:
            if command.poll() is None:
                command.kill()
    assert command.returncode == 0, err
    assert "delivered 1" in err
    store.close()


def test_the_cli_reports_a_bad_config_without_sending(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hitl.db'}"
    config = tmp_path / "webhooks.toml"
    config.write_text('[[webhook]]\nname = "ops"\nurl = "ftp://x"\nsecret_env = "MISSING_X"\n')
    done = subprocess.run(
        [sys.executable, "-m", "hitl_cli", "webhooks", "--store", url, "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "InvalidWebhookConfig" in done.stderr
    assert "MISSING_X" in done.stderr
