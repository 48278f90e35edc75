"""JSON Schemas of everything that crosses a process boundary, for `hitl schema`."""

from __future__ import annotations

from typing import Any

from hitl_core.actions import ProposedAction
from hitl_core.audit import AuditEvent
from hitl_core.decisions import decision_adapter
from hitl_core.requests import ApprovalRequest
from hitl_core.stores.calls import CallRecord
from hitl_core.stores.leases import Lease
from hitl_core.stores.records import RunRecord

__all__ = ["SCHEMAS", "schema_of"]

SCHEMAS: dict[str, Any] = {
    "ProposedAction": ProposedAction.model_json_schema,
    "ApprovalRequest": ApprovalRequest.model_json_schema,
    "Decision": decision_adapter.json_schema,
    "AuditEvent": AuditEvent.model_json_schema,
    "RunRecord": RunRecord.model_json_schema,
    "CallRecord": CallRecord.model_json_schema,
    "Lease": Lease.model_json_schema,
}
"""Name -> a function returning that model's JSON Schema."""


def schema_of(name: str) -> dict[str, Any]:
    """The JSON Schema of one model. Raises KeyError for an unknown name."""
    schema: dict[str, Any] = SCHEMAS[name]()
    return schema
