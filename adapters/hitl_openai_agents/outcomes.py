"""Where a run stands after a pass: paused on people, or completed with the agent's output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from agents import StreamEvent
from agents.result import RunResultBase

from hitl_core.requests import ApprovalRequest

__all__ = ["AgentsEvent", "Completed", "Outcome", "Paused"]


@dataclass(frozen=True)
class Paused:
    """The run waits on people; the process may exit. Resume with `ApprovalRunner.resume`."""

    run_id: str
    requests: list[ApprovalRequest]
    """The run's pending `ApprovalRequest`s, in call order (sub-agents' included)."""
    status: Literal["paused"] = "paused"


@dataclass(frozen=True)
class Completed:
    """The agent gave its final output."""

    run_id: str
    output: Any
    """The SDK's ``final_output``: text, or an instance of the agent's ``output_type``."""
    result: RunResultBase
    """The SDK's result of the last pass (its items, usage, last agent...)."""
    status: Literal["completed"] = "completed"


Outcome = Paused | Completed

AgentsEvent = StreamEvent | Paused | Completed
"""What a streamed run yields: the SDK's stream events as they happen, then the outcome."""
