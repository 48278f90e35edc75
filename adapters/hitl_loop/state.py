"""The loop's durable snapshot: everything needed to continue in another process."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hitl_core.errors import InvalidRunState
from hitl_core.requests import ApprovalRequest
from hitl_loop.messages import Message, ToolCall

__all__ = [
    "Completed",
    "LoopEvent",
    "LoopOutcome",
    "LoopState",
    "ModelTurn",
    "Paused",
    "ToolResult",
    "ToolSettled",
]


class ToolResult(BaseModel):
    """What the model will be told for one call."""

    model_config = ConfigDict(frozen=True)

    content: str
    is_error: bool = False


class LoopState(BaseModel):
    """A run between two moves. Saved whole at every pause; the process keeps nothing."""

    schema_version: Literal[1] = 1
    """1: first release."""
    run_id: str
    mode: Literal["chat", "plan"] = "chat"
    """``plan`` runs one batch of planned actions with no model turn after it."""
    messages: list[Message]
    turn: list[ToolCall] = Field(default_factory=list)
    """The calls of the assistant turn being worked through, in the model's order."""
    results: dict[str, ToolResult] = Field(default_factory=dict)
    """Results of this turn's calls so far, by call id (ran, answered or refused)."""
    waiting: dict[str, str] = Field(default_factory=dict)
    """Gated calls of this turn still waiting on a human: call id -> request id."""
    children: dict[str, LoopState] = Field(default_factory=dict)
    """Sub-agents (agents used as tools) in progress: call id -> the sub-agent's state."""
    forced: dict[str, str] = Field(default_factory=dict)
    """Calls that need approval whatever the policy says (a plan's validator): id -> reason."""
    context: dict[str, Any] = Field(default_factory=dict)
    """Facts for predicates (`ctx(...)`) and reviewers, given at start."""
    steps: int = 0
    """Model turns taken so far."""
    output: str | None = None

    @property
    def is_waiting(self) -> bool:
        """Some call of this turn, here or in a sub-agent, waits on a human."""
        return bool(self.waiting or self.children)

    def pending_request_ids(self) -> list[str]:
        """The request ids this run waits on, sub-agents' included, in call order."""
        ids: list[str] = []
        for call in self.turn:
            if call.id in self.waiting:
                ids.append(self.waiting[call.id])
            elif call.id in self.children:
                ids += self.children[call.id].pending_request_ids()
        return ids

    @classmethod
    def load(cls, run_id: str, text: str) -> LoopState:
        """Read a stored snapshot. Raises `InvalidRunState`."""
        try:
            state = cls.model_validate_json(text)
        except ValidationError as error:
            raise InvalidRunState(
                run_id, f"not a hitl_loop snapshot ({error.error_count()} errors)"
            ) from None
        if state.run_id != run_id:
            raise InvalidRunState(run_id, f"the snapshot belongs to run {state.run_id}")
        return state


class ModelTurn(BaseModel):
    """Streamed: the model answered (text, tool calls, or both)."""

    kind: Literal["model_turn"] = "model_turn"
    message: Message


class ToolSettled(BaseModel):
    """Streamed: a call has its result (it ran, or a decision answered it)."""

    kind: Literal["tool_result"] = "tool_result"
    call_id: str
    tool: str
    content: str
    is_error: bool = False


class Paused(BaseModel):
    """The run waits on people; the process may exit. Resume with `ToolLoop.resume`."""

    status: Literal["paused"] = "paused"
    run_id: str
    requests: list[ApprovalRequest]
    """The run's pending `ApprovalRequest`s, in call order."""


class Completed(BaseModel):
    """The run finished: the model gave its final answer (or the plan ran)."""

    status: Literal["completed"] = "completed"
    run_id: str
    output: str
    messages: list[Message]


LoopOutcome = Paused | Completed
LoopEvent = ModelTurn | ToolSettled | Paused | Completed
"""What `ToolLoop.stream` yields; the last event is always `Paused` or `Completed`."""
