"""The live event stream: audit events as Server-Sent Events, resumable by `Last-Event-ID`.

Each stream polls the store's audit trail after the last sequence number it sent, in a
worker thread (the stores are synchronous), and sends the kinds an inbox cares about.
An event's SSE id is its audit sequence number, so a client that reconnects with
``Last-Event-ID`` gets exactly the events it has not seen. Reading ``after`` a sequence
number, every store returns only events nothing can still appear before (even on
PostgreSQL, where numbers are drawn before commit), so moving past them skips none.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from functools import partial

import anyio
import anyio.to_thread
from fastapi.sse import ServerSentEvent

from hitl_core.audit import AuditEvent, AuditKind
from hitl_core.stores.base import ApprovalStore
from hitl_server.models import EventData

__all__ = ["BATCH", "STREAMED", "EventFeed"]

STREAMED: frozenset[AuditKind] = frozenset(
    {AuditKind.CREATED, AuditKind.DECIDED, AuditKind.EXPIRED, AuditKind.RESUMED}
)
"""The kinds sent: what changes a request's row in an inbox."""
BATCH = 500
"""Audit events read per poll; a backlog is sent in batches without waiting between them."""


class EventFeed:
    """Streams of one store's audit events; `close` ends every open stream."""

    def __init__(self, store: ApprovalStore, *, poll: float = 0.25) -> None:
        self.store = store
        self.poll = poll
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """End every open stream at its next poll (the server is shutting down)."""
        self._closed.set()

    def now(self) -> int:
        """The newest sequence number, where a stream without a resume point starts."""
        return self.store.last_audit_seq()

    async def stream(self, after: int, run_id: str | None = None) -> AsyncIterator[ServerSentEvent]:
        """Events after sequence number `after` (of run `run_id` only, if given), forever.

        It reads the whole trail's tail and picks the kinds (and the run) here; the
        position moves past the events it does not send as well.
        """
        position = after
        while not self.closed:
            events = await anyio.to_thread.run_sync(
                partial(self.store.audit, after=position, limit=BATCH)
            )
            for event in events:
                position = event.seq or position
                if event.kind in STREAMED and run_id in (None, event.run_id):
                    yield _message(event)
            if len(events) < BATCH:
                await self._pause()

    async def _pause(self) -> None:
        """Wait one poll interval, waking early enough to notice `close`."""
        deadline = time.monotonic() + self.poll
        while not self.closed and (remaining := deadline - time.monotonic()) > 0:
            await anyio.sleep(min(remaining, 0.1))


def _message(event: AuditEvent) -> ServerSentEvent:
    return ServerSentEvent(id=str(event.seq), event=event.kind.value, data=EventData.of(event))
