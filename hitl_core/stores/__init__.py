"""Approval stores, one per module, opened by URL with `open_store`."""

from __future__ import annotations

import importlib
from typing import Any

from hitl_core.clock import Clock
from hitl_core.errors import MissingDependency, UnsupportedStoreURL
from hitl_core.stores.async_base import AsyncApprovalStore as AsyncApprovalStore
from hitl_core.stores.base import ApprovalStore as ApprovalStore
from hitl_core.stores.calls import CallRecord as CallRecord
from hitl_core.stores.calls import CallStatus as CallStatus
from hitl_core.stores.calls import idempotency_key as idempotency_key
from hitl_core.stores.deliveries import DeliveryRecord as DeliveryRecord
from hitl_core.stores.deliveries import DeliveryStatus as DeliveryStatus
from hitl_core.stores.deliveries import WebhookDeliveries as WebhookDeliveries
from hitl_core.stores.deliveries import supports_deliveries as supports_deliveries
from hitl_core.stores.leases import Claim as Claim
from hitl_core.stores.leases import Lease as Lease
from hitl_core.stores.leases import RunLeases as RunLeases
from hitl_core.stores.records import Page as Page
from hitl_core.stores.records import RunPage as RunPage
from hitl_core.stores.records import RunRecord as RunRecord
from hitl_core.stores.records import RunStatus as RunStatus

__all__ = [
    "KNOWN_STORES",
    "ApprovalStore",
    "AsyncApprovalStore",
    "CallRecord",
    "CallStatus",
    "Claim",
    "DeliveryRecord",
    "DeliveryStatus",
    "Lease",
    "Page",
    "RunLeases",
    "RunPage",
    "RunRecord",
    "RunStatus",
    "WebhookDeliveries",
    "idempotency_key",
    "open_store",
    "supports_deliveries",
]

KNOWN_STORES: dict[str, tuple[str, str | None]] = {
    "memory": ("hitl_core.stores.memory:MemoryStore", None),
    "sqlite": ("hitl_core.stores.sqlite:SqliteStore", None),
    "postgresql": ("hitl_core.stores.postgres:PostgresStore", "postgres"),
    "postgres": ("hitl_core.stores.postgres:PostgresStore", "postgres"),
}
"""URL scheme -> (``module:class``, the extra that installs its driver). Imported lazily."""


def open_store(url: str, *, clock: Clock | None = None, **options: Any) -> ApprovalStore:
    """Open the approval store a URL names, creating or upgrading its schema.

    ``memory://`` (tests), ``sqlite:///approvals.db`` (embedded, the default) or
    ``postgresql://user@host/db`` (many workers; needs ``hitl-kit[postgres]``).

    Raises:
        UnsupportedStoreURL: no store handles the scheme.
        MissingDependency: the store's driver is not installed (the message says how).
        SchemaVersionMismatch: the store was written by a newer hitl-kit.
    """
    scheme = url.partition(":")[0].split("+")[0].lower()
    if scheme not in KNOWN_STORES or "://" not in url:
        raise UnsupportedStoreURL(url, [f"{s}://" for s in KNOWN_STORES])
    target, extra = KNOWN_STORES[scheme]
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if extra is None or error.name == module_name:
            raise
        raise MissingDependency(error.name or module_name, extra) from error
    store: ApprovalStore = getattr(module, class_name)(url, clock=clock, **options)
    return store
