"""Webhook deliveries: per-endpoint cursors that only move forward, and the attempt log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hitl_core import ApprovalStore, InvalidInput, open_store
from hitl_core.stores.deliveries import (
    DeliveryRecord,
    DeliveryStatus,
    WebhookDeliveries,
    supports_deliveries,
)

AT = datetime(2025, 1, 1, 12, tzinfo=UTC)


def _deliveries(store: ApprovalStore) -> WebhookDeliveries:
    assert supports_deliveries(store)
    assert isinstance(store, WebhookDeliveries)
    return store


def attempt(
    endpoint: str, seq: int, number: int, status: DeliveryStatus, **extra: object
) -> DeliveryRecord:
    return DeliveryRecord.model_validate(
        {
            "delivery_id": f"dlv_{endpoint}_{seq}",
            "endpoint": endpoint,
            "url": f"https://{endpoint}.example/hook",
            "event_seq": seq,
            "event": "decided",
            "request_id": f"req_{seq}",
            "attempt": number,
            "status": status,
            "at": AT + timedelta(seconds=seq * 10 + number),
            **extra,
        }
    )


def test_a_cursor_starts_at_zero_and_never_moves_back(store: ApprovalStore) -> None:
    hooks = _deliveries(store)
    assert hooks.delivery_cursor("ops") == 0
    hooks.advance_delivery_cursor("ops", 5)
    assert hooks.delivery_cursor("ops") == 5
    hooks.advance_delivery_cursor("ops", 3)  # a slow dispatcher finishing an older event
    assert hooks.delivery_cursor("ops") == 5
    hooks.advance_delivery_cursor("ops", 9)
    assert hooks.delivery_cursor("ops") == 9
    assert hooks.delivery_cursor("audit-sink") == 0  # each endpoint has its own


def test_attempts_are_listed_oldest_first_and_filtered(store: ApprovalStore) -> None:
    hooks = _deliveries(store)
    assert hooks.deliveries() == []
    records = [
        attempt("ops", 1, 1, DeliveryStatus.FAILED, http_status=503, error="unavailable"),
        attempt("sink", 1, 1, DeliveryStatus.DELIVERED, http_status=200, duration_ms=12.5),
        attempt("ops", 1, 2, DeliveryStatus.DELIVERED, http_status=204),
        attempt("ops", 2, 1, DeliveryStatus.GAVE_UP, error="connection refused"),
    ]
    for record in records:
        hooks.record_delivery(record)
    assert hooks.deliveries() == records
    assert hooks.deliveries(endpoint="ops") == [records[0], records[2], records[3]]
    assert hooks.deliveries(event_seq=1) == records[:3]
    assert hooks.deliveries(endpoint="ops", event_seq=1) == [records[0], records[2]]
    assert hooks.deliveries(limit=2) == records[:2]
    assert hooks.deliveries(endpoint="nobody") == []
    with pytest.raises(InvalidInput, match="limit"):
        hooks.deliveries(limit=0)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_cursors_and_attempts_survive_reopening(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'hooks.db'}"
        if kind == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    first = open_store(url)
    hooks = _deliveries(first)
    hooks.advance_delivery_cursor("ops", 42)
    record = attempt("ops", 42, 1, DeliveryStatus.DELIVERED, http_status=200)
    hooks.record_delivery(record)
    first.close()
    again = _deliveries(open_store(url))
    assert again.delivery_cursor("ops") == 42
    assert again.deliveries(endpoint="ops") == [record]
    again.advance_delivery_cursor("ops", 41)
    assert again.delivery_cursor("ops") == 42
    assert isinstance(again, ApprovalStore)
    again.close()
