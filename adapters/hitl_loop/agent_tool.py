"""An agent used as a tool by another agent: its gated calls pause the whole run.

The sub-agent's state lives inside its parent's snapshot and its requests are raised
under the root run's id, so listing, deciding and resuming the root run covers both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hitl_loop.messages import ToolSpec

if TYPE_CHECKING:
    from hitl_loop.loop import ToolLoop

__all__ = ["AgentTool"]

TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"task": {"type": "string", "description": "What the agent should do."}},
    "required": ["task"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class AgentTool:
    """`loop` offered to another loop as the tool `name`, taking one argument, ``task``."""

    loop: ToolLoop
    name: str
    description: str

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=TASK_SCHEMA)

    def task_of(self, args: dict[str, Any]) -> str | None:
        """The task text, or None if the arguments do not fit the schema."""
        task = args.get("task")
        return task if isinstance(task, str) and set(args) == {"task"} else None
