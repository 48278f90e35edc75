"""The structured-output shape: the model returns an action plan instead of tool calls.

The plan is a Pydantic model, so a validator can force approval on the rules you do not
trust the model with (a transfer above 100, say); `ToolLoop.start_plan` executes it
through the same gate as tool calls, so the policy applies too.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["ActionPlan", "PlannedAction"]


class PlannedAction(BaseModel):
    """One step of a plan. Subclass it and add a validator that sets `requires_approval`."""

    tool: str
    """The tool to call, e.g. ``"transfer"``."""
    args: dict[str, Any] = Field(default_factory=dict)
    requires_approval: bool = False
    """Set by a validator (never trusted from the model alone) to force a human review."""
    approval_note: str | None = None
    """Why the validator asked for review; shown to the reviewer."""

    def approval_reason(self) -> str:
        return self.approval_note or f"the plan requires approval for {self.tool}"


class ActionPlan(BaseModel):
    """The model's whole plan, executed in order as one batch."""

    actions: list[PlannedAction]

    def summary(self) -> str:
        steps = "; ".join(f"{a.tool}({a.args})" for a in self.actions)
        return f"Execute the plan: {steps}"
