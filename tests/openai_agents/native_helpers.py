"""What the shell and apply_patch tests share: script steps, outcome checks, the trail."""

from __future__ import annotations

from typing import Any

from hitl_core import ApprovalStore, AuditKind
from hitl_openai_agents import Completed, Paused
from tests.openai_agents.tools_app import told

REVIEWER = "ana@example.com"
ALL_KINDS = ("approve", "edit", "reject", "respond")
UPDATE = {"type": "update_file", "path": "notes.txt", "diff": "@@\n-old\n+new\n"}
DELETE = {"type": "delete_file", "path": "secrets.txt"}


def shell(commands: list[str], call_id: str = "s1") -> dict[str, Any]:
    return {"kind": "shell", "id": call_id, "commands": commands}


def patch(operation: dict[str, Any], call_id: str = "p1") -> dict[str, Any]:
    return {"kind": "patch", "id": call_id, "operation": operation}


def paused(outcome: Any) -> Paused:
    assert isinstance(outcome, Paused), outcome
    return outcome


def completed(outcome: Any) -> Completed:
    assert isinstance(outcome, Completed), outcome
    return outcome


def shown(outcome: Completed) -> dict[str, str]:
    return told(outcome.result.to_input_list())


def kinds(store: ApprovalStore, run_id: str) -> list[AuditKind]:
    return [event.kind for event in store.audit(run_id=run_id)]
