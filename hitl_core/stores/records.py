"""What stores keep besides requests: run snapshots, pages, and the cursors that page them."""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from hitl_core.requests import ApprovalRequest

__all__ = [
    "Page",
    "RunPage",
    "RunRecord",
    "RunStatus",
    "check_limit",
    "decode_cursor",
    "encode_cursor",
    "encode_run_cursor",
]


class RunStatus(StrEnum):
    """Where a run is: running in some process, paused on humans, or finished."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RunRecord(BaseModel):
    """A run's durable snapshot, owned by its adapter (the store never reads `state`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1, 2] = 2
    """1: the first release; 2: `error`."""
    run_id: str
    adapter: str
    """The adapter that can resume it, e.g. ``"hitl_loop"``."""
    status: RunStatus
    state: str
    """The adapter's serialized snapshot (JSON text). Trust only the stored copy."""
    version: int = 0
    """Incremented by every save; a save may require the version it loaded."""
    created_at: datetime
    updated_at: datetime
    error: str | None = None
    """Why the run failed (status `failed`): the error the pass raised."""


class Page(BaseModel):
    """One page of requests; pass `next_cursor` back to get the next one."""

    items: list[ApprovalRequest]
    next_cursor: str | None = None


class RunPage(BaseModel):
    """One page of runs, oldest first; pass `next_cursor` back to get the next one."""

    items: list[RunRecord]
    next_cursor: str | None = None


def _encode(created: datetime, key: str) -> str:
    raw = f"{created.isoformat()}|{key}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def encode_cursor(request: ApprovalRequest) -> str:
    """An opaque cursor positioned just after `request` in (created_at, id) order."""
    return _encode(request.created_at, request.id)


def encode_run_cursor(run: RunRecord) -> str:
    """An opaque cursor positioned just after `run` in (created_at, run_id) order."""
    return _encode(run.created_at, run.run_id)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) position a cursor stands for."""
    from hitl_core.errors import InvalidInput

    try:
        created, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), key
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(f"Invalid page cursor {cursor!r}; pass back a next_cursor.") from None


def check_limit(limit: int | None) -> None:
    """Refuse a page size below 1 (None means no limit)."""
    from hitl_core.errors import InvalidInput

    if limit is not None and limit < 1:
        raise InvalidInput(f"limit must be at least 1, not {limit}.")
