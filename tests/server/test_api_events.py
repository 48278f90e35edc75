"""``/v1/events`` against a live uvicorn: what a stream sends, resuming it, and ending it."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import psycopg
import pytest
import uvicorn

from hitl_core import ApprovalStore
from hitl_core.stores import lifecycle
from hitl_core.stores import postgres_sql as pg
from hitl_core.stores.postgres import PostgresStore
from hitl_server.app import create_app
from hitl_server.serving import ReviewServer
from tests.factories import payment_request
from tests.server.conftest import ALICE, REVIEWERS, PaymentsAgent, ServeApi
from tests.server.live import free_port, serve


@dataclass
class Event:
    id: str
    event: str
    data: dict[str, Any]


def events(lines: Iterator[str]) -> Iterator[Event]:
    """Parse a ``text/event-stream`` into events (comments, such as pings, are skipped)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if fields:
                yield Event(fields["id"], fields["event"], json.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def read_until(lines: Iterator[str], last_kind: str, request_id: str) -> list[Event]:
    """Events up to and including `last_kind` for `request_id` (the read times out otherwise)."""
    received = []
    for event in events(lines):
        received.append(event)
        if event.event == last_kind and event.data["request_id"] == request_id:
            return received
    raise AssertionError(f"the stream ended before {last_kind}: {received}")


def test_a_stream_sends_created_decided_resumed_and_resumes_after_last_event_id(
    serve_api: ServeApi, store: ApprovalStore, tmp_path: Path
) -> None:
    agent = PaymentsAgent(store, tmp_path)
    api = serve_api(registry=agent.registry)
    http = api.client()
    with http.stream("GET", "/v1/events") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        paused = agent.pause()
        request = paused.requests[0]
        decided = api.client().post(f"/v1/requests/{request.id}/decision", json={"type": "approve"})
        assert decided.json()["resume"] == "scheduled"
        received = read_until(stream.iter_lines(), "resumed", request.id)

    assert [e.event for e in received] == ["created", "decided", "resumed"]
    seqs = [int(e.id) for e in received]
    assert seqs == sorted(seqs)
    audit = {e.seq: e for e in store.audit(run_id=paused.run_id)}
    for event in received:
        stored = audit[int(event.id)]
        assert event.data["seq"] == stored.seq
        assert (event.data["kind"], event.data["request_id"]) == (stored.kind.value, request.id)
        assert (event.data["run_id"], event.data["tool"]) == (paused.run_id, "send_payment")
        assert event.data["actor"] == stored.actor
    assert (received[1].data["actor"], received[1].data["decision"]) == ("alice", "approve")
    assert received[2].data["actor"] == "hitl_loop"

    created_id = received[0].id
    with http.stream("GET", "/v1/events", headers={"Last-Event-ID": created_id}) as again:
        later = read_until(again.iter_lines(), "resumed", request.id)
    assert [(e.id, e.event) for e in later] == [(e.id, e.event) for e in received[1:]]
    with http.stream("GET", "/v1/events", params={"after": created_id}) as again:
        assert read_until(again.iter_lines(), "resumed", request.id)[0].event == "decided"


def test_a_stream_starts_now_and_filters_by_run(api: Any) -> None:
    old = api.store.put(payment_request(run_id="run_old"))
    http = api.client()
    with http.stream("GET", "/v1/events", params={"run_id": "run_new"}) as stream:
        other = api.store.put(payment_request(run_id="run_other"))
        new = api.store.put(payment_request(run_id="run_new"))
        http.post(f"/v1/requests/{other.id}/decision", json={"type": "reject"})
        http.post(f"/v1/requests/{new.id}/decision", json={"type": "reject"})
        received = read_until(stream.iter_lines(), "decided", new.id)
    assert [(e.event, e.data["request_id"]) for e in received] == [
        ("created", new.id),
        ("decided", new.id),
    ]
    assert old.id not in {e.data["request_id"] for e in received}


def test_an_idle_stream_sends_keep_alive_comments(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.2)  # 15 s in production
    with api.client().stream("GET", "/v1/events") as stream:
        lines = stream.iter_lines()
        assert [next(lines), next(lines)] == [": ping", ""]


@pytest.mark.parametrize("value", [b"yesterday", b"-1", b"9" * 20, b"\xb2"])
def test_a_bad_last_event_id_is_422(api: Any, value: bytes) -> None:
    response = api.client().get("/v1/events", headers={"Last-Event-ID": value})
    assert response.status_code == 422
    assert response.json()["error"] == "InvalidInput"


def test_a_closed_client_ends_its_stream(store: ApprovalStore) -> None:
    app = create_app(store, reviewers=REVIEWERS, event_poll=0.05)
    with serve(app) as url:
        headers = {"Authorization": f"Bearer {ALICE}"}
        with httpx.Client(base_url=url, headers=headers) as http:
            with http.stream("GET", "/v1/events") as stream:
                assert stream.status_code == 200
            time.sleep(0.3)
        started = time.monotonic()
    # uvicorn waits for open responses before it stops: a stream left running would hold it.
    assert time.monotonic() - started < 3


def test_shutting_down_the_server_ends_open_streams(store: ApprovalStore) -> None:
    app = create_app(store, reviewers=REVIEWERS, event_poll=0.05)
    port = free_port()
    server = ReviewServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    headers = {"Authorization": f"Bearer {ALICE}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as http:
        with http.stream("GET", "/v1/events") as stream:
            assert stream.status_code == 200
            server.should_exit = True
            started = time.monotonic()
            assert list(events(stream.iter_lines())) == []
        assert time.monotonic() - started < 3
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_an_event_committed_late_is_streamed_in_order_after_it_commits(postgres_url: str) -> None:
    """On PostgreSQL, an event drawn before a committed one but committed after it is sent.

    The stream sends nothing while the first transaction is open, then both events in
    seq order: it neither skips the late one nor sends the later one first.
    """
    store = PostgresStore(postgres_url)
    app = create_app(store, reviewers=REVIEWERS, event_poll=0.05)
    late, early = payment_request(run_id="run_late"), payment_request(run_id="run_early")
    received: queue.Queue[Event] = queue.Queue()
    headers = {"Authorization": f"Bearer {ALICE}"}
    start = {"after": store.last_audit_seq()}
    with (
        serve(app) as url,
        httpx.Client(base_url=url, headers=headers, timeout=10) as http,
        http.stream("GET", "/v1/events", params=start) as stream,
    ):

        def read() -> None:
            """The first two events, then stop reading (so the stream closes at once)."""
            for _, event in zip(range(2), events(stream.iter_lines()), strict=False):
                received.put(event)

        threading.Thread(target=read, daemon=True).start()
        with psycopg.connect(postgres_url) as held, held.cursor() as cur:
            cur.execute(pg.LOCK_RUN, (late.run_id,))  # what `put` runs, left open
            PostgresStore._apply(cur, lifecycle.create(None, late), {})
            store.put(early)
            time.sleep(0.5)
            assert received.empty()
        # leaving the block commits the held transaction
        got = [received.get(timeout=10), received.get(timeout=10)]
    store.close()
    assert [(e.event, e.data["request_id"]) for e in got] == [
        ("created", late.id),
        ("created", early.id),
    ]
    assert int(got[0].id) < int(got[1].id)
