"""The call ledger's rows: one `CallRecord` per (run, call), claimed before its side effect.

A call is claimed (``started``) in the store before the tool runs, and settled
(``executed``) when it returns. A claim that is still ``started`` when someone else looks
has an unknown outcome: its holder may have crashed before or after the side effect. The
ledger never runs it again on its own (unless the tool is idempotent); it becomes
``unknown`` and a person decides (retry, mark done with a result, or abandon it).

    started ──► executed          the tool returned (or raised: is_error)
       ├──► suspended ──► started (attempt + 1)   the tool paused on a person itself
       └──► unknown ──► started (attempt + 1: a person said retry, or the tool is idempotent)
                  ├──► executed   a person marked it done, with the result the model reads
                  └──► abandoned  a person gave up on it; the model is told so

An agent used as a tool has no side effect of its own (its calls have their own lines),
so it is written straight as executed when it finishes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hitl_core.identity import args_digest

__all__ = ["CallRecord", "CallStatus", "idempotency_key"]


def idempotency_key(run_id: str, call_id: str) -> str:
    """The stable idempotency key of one call of one run, the same for every attempt.

    Hand it to a downstream API (an ``Idempotency-Key`` header, say) so that a retry
    after an unknown outcome is recognised there as the same request.
    """
    digest = hashlib.sha256(f"hitl-call\x00{run_id}\x00{call_id}".encode()).hexdigest()
    return f"hitl_{digest[:32]}"


class CallStatus(StrEnum):
    """Where one call is in the ledger."""

    STARTED = "started"
    """Claimed: the side effect may be under way (or may have happened, after a crash)."""
    EXECUTED = "executed"
    """The tool returned or raised; `output` is what the model is told."""
    UNKNOWN = "unknown"
    """A claim whose holder vanished: a person must say whether to retry it."""
    ABANDONED = "abandoned"
    """A person gave up on a call with an unknown outcome; it will not run."""
    SUSPENDED = "suspended"
    """The tool paused on a person itself (an interrupt inside it, a sub-agent's approval);
    it runs again, as the next attempt, when the run resumes."""


class CallRecord(BaseModel):
    """One call's line in the ledger: what ran (or may have), for whom, and what came of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1, 2] = 2
    """1: an execution record (written only once the call ran); 2: the call ledger."""
    run_id: str
    call_id: str
    tool: str
    args: dict[str, Any]
    """The arguments that run (after any edit)."""
    args_digest: str = ""
    """`args_digest(args)`: what was claimed, so a retry runs exactly that."""
    status: CallStatus = CallStatus.EXECUTED
    attempt: int = Field(default=1, ge=1)
    """1 for the first claim; each retry of an unknown outcome claims the next one."""
    fence: int | None = None
    """The fencing token of the lease the attempt was claimed under."""
    holder: str | None = None
    """Who claimed the attempt (a worker id, a host and process)."""
    idempotency_key: str = ""
    """`idempotency_key(run_id, call_id)`: the same for every attempt."""
    request_id: str | None = None
    """The approval request that released the call, or None when it was not gated."""
    recovery_request_id: str | None = None
    """While unknown (and after): the request a person resolves the outcome with."""
    output: str | None = None
    """What the model is told, once executed or abandoned."""
    is_error: bool = False
    """The tool raised (it ran, so it is not run again), or the call was abandoned."""
    at: datetime
    """When the record last changed."""
    started_at: datetime | None = None
    """When the attempt was claimed."""
    adapter: str | None = None
    """The adapter that ran the call, e.g. ``"hitl_loop"``: the audit event's actor."""

    @model_validator(mode="before")
    @classmethod
    def _from_execution_record(cls, data: Any) -> Any:
        """Read schema 1 (an execution record, written after the call ran) as executed."""
        if isinstance(data, dict) and data.get("schema_version", 1) == 1 and "status" not in data:
            data = dict(data)
            args = data.get("args") or {}
            data.setdefault("args_digest", args_digest(args))
            data.setdefault(
                "idempotency_key", idempotency_key(data.get("run_id", ""), data.get("call_id", ""))
            )
            data.setdefault("started_at", data.get("at"))
        return data

    @property
    def is_settled(self) -> bool:
        """Executed or abandoned: nothing more will happen to it."""
        return self.status in (CallStatus.EXECUTED, CallStatus.ABANDONED)

    def same_attempt(self, other: CallRecord) -> bool:
        """Whether `other` is this very claim (same attempt, fence and holder)."""
        return (
            self.run_id == other.run_id
            and self.call_id == other.call_id
            and self.attempt == other.attempt
            and self.fence == other.fence
            and self.holder == other.holder
        )
