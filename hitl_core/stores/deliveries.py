"""Webhook deliveries: the optional store capability that makes webhooks durable.

A dispatcher reads the audit trail after its endpoint's cursor, posts each event, records
every attempt, and moves the cursor once an event is delivered (or given up). A restart
therefore neither loses an event nor sends one twice except for the last in flight,
which the receiver recognises by its delivery id. `supports_deliveries(store)` tells.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

__all__ = ["DeliveryRecord", "DeliveryStatus", "WebhookDeliveries", "supports_deliveries"]


class DeliveryStatus(StrEnum):
    """How one attempt ended."""

    DELIVERED = "delivered"
    """The receiver answered 2xx."""
    FAILED = "failed"
    """Non-2xx or no answer; another attempt follows."""
    GAVE_UP = "gave_up"
    """The last allowed attempt failed; the cursor moves on past this event."""


class DeliveryRecord(BaseModel):
    """One attempt to deliver one audit event to one endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    delivery_id: str
    """Stable for (endpoint, event): every retry of one event sends the same id."""
    endpoint: str
    """The endpoint's configured name."""
    url: str
    event_seq: int
    """The audit event's `seq`."""
    event: str
    """The audit event's kind (created, decided, expired, ...)."""
    request_id: str | None = None
    attempt: int
    """1 for the first try."""
    status: DeliveryStatus
    http_status: int | None = None
    error: str | None = None
    at: datetime
    duration_ms: float | None = None


@runtime_checkable
class WebhookDeliveries(Protocol):
    """Per-endpoint cursors over the audit trail and the log of delivery attempts."""

    def delivery_cursor(self, endpoint: str) -> int:
        """The `seq` of the last audit event handled for `endpoint` (0 before any)."""
        ...

    def advance_delivery_cursor(self, endpoint: str, seq: int) -> None:
        """Move `endpoint`'s cursor to `seq`; a cursor never moves backwards."""
        ...

    def record_delivery(self, record: DeliveryRecord) -> None:
        """Append one attempt to the delivery log."""
        ...

    def deliveries(
        self, *, endpoint: str | None = None, event_seq: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        """Recorded attempts, oldest first, optionally filtered."""
        ...


def supports_deliveries(store: object) -> bool:
    """Whether the store can keep webhook cursors and delivery records."""
    return isinstance(store, WebhookDeliveries)
