"""The live event stream: audit events as Server-Sent Events, resumable by `Last-Event-ID`.

All streams of one app share one reader: once per poll interval, one of them reads the
audit trail's new events (in a worker thread; the stores are synchronous) into a buffer
of recent events that every stream sends from, so a few hundred open inboxes cost one
query per interval, not hundreds. A stream that starts (or falls) behind the buffer
catches up from the store on its own, then joins. An event's SSE id is its audit
sequence number, so a client that reconnects with ``Last-Event-ID`` gets exactly the
events it has not seen. Reading ``after`` a sequence number, every store returns only
events nothing can still appear before (even on PostgreSQL, where numbers are drawn
before commit), so moving past them skips none.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import AsyncGenerator
from functools import partial

import anyio
import anyio.to_thread
from fastapi.sse import ServerSentEvent

from hitl_core.audit import AuditEvent, AuditKind
from hitl_core.stores.base import ApprovalStore
from hitl_server.models import EventData

__all__ = ["BATCH", "BUFFER", "STREAMED", "EventFeed"]

STREAMED: frozenset[AuditKind] = frozenset(
    {AuditKind.CREATED, AuditKind.DECIDED, AuditKind.EXPIRED, AuditKind.RESUMED}
)
"""The kinds sent: what changes a request's row in an inbox."""
BATCH = 500
"""Audit events read per poll; a backlog is sent in batches without waiting between them."""
BUFFER = 10_000
"""Recent events kept for the streams to send from; a stream further behind reads the store."""


class EventFeed:
    """Streams of one store's audit events, fed by one shared reader; `close` ends them all."""

    def __init__(self, store: ApprovalStore, *, poll: float = 0.25, buffer: int = BUFFER) -> None:
        self.store = store
        self.poll = poll
        self.buffer = buffer
        self._closed = threading.Event()
        self._recent: deque[AuditEvent] = deque()
        self._covered_after: int | None = None
        """The buffer holds every event after this seq, up to `_head`."""
        self._head: int | None = None
        self._last_read = 0.0
        self._reading: anyio.Event | None = None

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """End every open stream at its next poll (the server is shutting down)."""
        self._closed.set()

    def now(self) -> int:
        """The newest sequence number, where a stream without a resume point starts."""
        return self.store.last_audit_seq()

    async def stream(
        self, after: int, run_id: str | None = None
    ) -> AsyncGenerator[ServerSentEvent, None]:
        """Events after sequence number `after` (of run `run_id` only, if given), forever.

        The position moves past the events it does not send as well: the buffer and the
        store are read whole, and the kinds (and the run) picked here.
        """
        position = after
        if self._head is None:
            stable = await anyio.to_thread.run_sync(self.store.last_audit_seq)
            if self._head is None:  # another stream may have started the buffer meanwhile
                self._head = self._covered_after = stable
        while not self.closed:
            assert self._covered_after is not None
            if position < self._covered_after:
                events = await self._catch_up(position)
                if not events:  # nothing stored between here and the buffer's start
                    position = self._covered_after
            else:
                events = self._buffered_after(position)
                if not events:
                    await self._read_next()
                    continue
            for event in events:
                position = max(position, event.seq or position)
                if event.kind in STREAMED and run_id in (None, event.run_id):
                    yield _message(event)

    async def _catch_up(self, position: int) -> list[AuditEvent]:
        """This stream's own read of events it is missing from before the buffer."""
        events: list[AuditEvent] = await anyio.to_thread.run_sync(
            partial(self.store.audit, after=position, limit=BATCH)
        )
        return events

    def _buffered_after(self, position: int) -> list[AuditEvent]:
        """The buffered events after `position`, oldest first."""
        newer: list[AuditEvent] = []
        for event in reversed(self._recent):
            if (event.seq or 0) <= position:
                break
            newer.append(event)
        newer.reverse()
        return newer

    async def _read_next(self) -> None:
        """Wait for the next poll, then read new events into the buffer, once for everyone.

        The first stream to get here after the interval reads; the others wait for its
        read to finish. A failed read ends the reader's stream (its client reconnects);
        the others try again at the next interval.
        """
        wait = self._last_read + self.poll - time.monotonic()
        if wait > 0:
            await self._pause(wait)
        if self.closed:
            return
        if self._reading is not None:
            await self._reading.wait()
            return
        self._reading = reading = anyio.Event()
        try:
            assert self._head is not None
            events = await anyio.to_thread.run_sync(
                partial(self.store.audit, after=self._head, limit=BATCH)
            )
            self._remember(events)
            # A full batch means a backlog: read again at once rather than after a poll.
            self._last_read = 0.0 if len(events) == BATCH else time.monotonic()
        finally:
            self._reading = None
            reading.set()

    def _remember(self, events: list[AuditEvent]) -> None:
        """Append a read to the buffer, dropping the oldest beyond its size."""
        if not events:
            return
        self._recent.extend(events)
        self._head = events[-1].seq
        while len(self._recent) > self.buffer:
            self._covered_after = self._recent.popleft().seq

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, waking early enough to notice `close`."""
        deadline = time.monotonic() + seconds
        while not self.closed and (remaining := deadline - time.monotonic()) > 0:
            await anyio.sleep(min(remaining, 0.1))


def _message(event: AuditEvent) -> ServerSentEvent:
    return ServerSentEvent(id=str(event.seq), event=event.kind.value, data=EventData.of(event))
