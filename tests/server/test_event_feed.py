"""The event feed's shared reader: one store read per interval for every open stream."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx

from hitl_core.audit import AuditEvent
from hitl_core.stores.sqlite import SqliteStore
from hitl_server.app import create_app
from hitl_server.events import EventFeed
from tests.factories import payment_request
from tests.server.conftest import ALICE, REVIEWERS
from tests.server.live import serve
from tests.server.test_api_events import events

STREAMS = 20
POLL = 0.05


class CountingStore(SqliteStore):
    """A real SQLite store that counts tail reads (`audit(after=...)`)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.tail_reads = 0
        self._count_lock = threading.Lock()

    def audit(self, **filters: Any) -> list[AuditEvent]:
        if filters.get("after") is not None:
            with self._count_lock:
                self.tail_reads += 1
        return super().audit(**filters)


def test_many_open_streams_share_one_read_per_interval(tmp_path: Path) -> None:
    store = CountingStore(f"sqlite:///{tmp_path / 'approvals.db'}")
    app = create_app(store, reviewers=REVIEWERS, event_poll=POLL)
    received: list[list[str]] = [[] for _ in range(STREAMS)]
    opened = threading.Barrier(STREAMS + 1)

    with serve(app) as url:

        def listen(slot: int) -> None:
            headers = {"Authorization": f"Bearer {ALICE}"}
            with (
                httpx.Client(base_url=url, headers=headers, timeout=10) as http,
                http.stream("GET", "/v1/events") as stream,
            ):
                opened.wait()
                lines: Iterator[str] = stream.iter_lines()
                for event in events(lines):
                    received[slot].append(event.data["request_id"])
                    if len(received[slot]) == 3:
                        return

        threads = [threading.Thread(target=listen, args=(i,)) for i in range(STREAMS)]
        for thread in threads:
            thread.start()
        opened.wait()
        before = store.tail_reads
        ids = []
        for _ in range(3):
            ids.append(store.put(payment_request()).id)
            threading.Event().wait(4 * POLL)
        for thread in threads:
            thread.join(timeout=10)
        reads = store.tail_reads - before

    assert received == [ids] * STREAMS
    # About one read per interval for everyone (~12 in 0.6 s); one reader per stream
    # would have made about STREAMS times as many.
    assert reads < 4 * 12, reads
    store.close()


def test_a_stream_behind_the_buffer_catches_up_from_the_store(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path / 'approvals.db'}")
    feed = EventFeed(store, poll=0.01, buffer=5)
    first = [store.put(payment_request()).id for _ in range(3)]

    async def scenario() -> tuple[list[str], list[str]]:
        live = feed.stream(store.last_audit_seq())
        late = [store.put(payment_request()).id for _ in range(12)]
        seen_live = [(await anext(live)).data.request_id for _ in range(12)]
        # The buffer now holds only the last 5 events; this stream starts before all 15.
        behind = feed.stream(0)
        seen_behind = [(await anext(behind)).data.request_id for _ in range(15)]
        await live.aclose()
        await behind.aclose()
        assert seen_live == late
        return first + late, seen_behind

    expected, seen = anyio.run(scenario)
    assert seen == expected
    store.close()
