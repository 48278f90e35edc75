"""A small client for the chat API: POST, then read the SSE events as they arrive.

A browser would use ``fetch`` and read the body stream (``EventSource`` only does GET);
this is the same thing in Python, for the demo and the tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Event", "post_events", "read_events"]


@dataclass(frozen=True, slots=True)
class Event:
    """One server-sent event with its JSON data decoded."""

    name: str
    data: Any
    id: str | None = None


def read_events(lines: Iterator[str]) -> Iterator[Event]:
    """Parse ``text/event-stream`` lines into events (comments, i.e. pings, are skipped)."""
    name, data, event_id = "message", list[str](), None
    for line in lines:
        if not line:
            if data:
                yield Event(name, json.loads("\n".join(data)), event_id)
            name, data, event_id = "message", [], None
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                event_id = value


def post_events(client: httpx.Client, path: str, body: dict[str, Any]) -> Iterator[Event]:
    """POST `body` and yield the response's events until the server closes the stream.

    Raises:
        httpx.HTTPStatusError: the server refused (404, 409...) before streaming.
    """
    with client.stream("POST", path, json=body) as response:
        if response.is_error:
            response.read()
            response.raise_for_status()
        yield from read_events(response.iter_lines())
