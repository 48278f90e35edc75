"""Where a run stands after the runner drove it, and the small snapshot the store keeps.

The graph's state lives in its checkpointer; the store's `RunRecord` only says which
thread to resume and with what context, so pending work is listable without loading a
graph, and any process with the same graph and URLs can resume it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hitl_core.errors import InvalidRunState
from hitl_core.requests import ApprovalRequest

__all__ = ["Chunk", "Completed", "Outcome", "Paused", "RunInfo", "StreamItem"]


class RunInfo(BaseModel):
    """The run's entry in the core store (`RunRecord.state`): where its graph state is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    """1: first release."""
    thread_id: str
    """The LangGraph thread id; also the run id of every request the run raised."""
    graph: str
    """The graph's name, for people listing runs."""
    checkpointer: str
    """The checkpointer's class, e.g. ``SqliteSaver``: where the graph state lives."""
    context: dict[str, Any] = Field(default_factory=dict)
    """Facts for predicates and reviewers, given at start and reused on every resume."""

    @classmethod
    def load(cls, run_id: str, text: str) -> RunInfo:
        """Read a stored snapshot. Raises `InvalidRunState`."""
        try:
            info = cls.model_validate_json(text)
        except ValidationError as error:
            raise InvalidRunState(
                run_id, f"not a hitl_langgraph run ({error.error_count()} errors)"
            ) from None
        if info.thread_id != run_id:
            raise InvalidRunState(run_id, f"the snapshot belongs to thread {info.thread_id}")
        return info


@dataclass(frozen=True)
class Paused:
    """The run waits on people; the process may exit. Resume with `ApprovalRunner.resume`."""

    run_id: str
    requests: list[ApprovalRequest]
    """The pending requests, in the order the graph raised them (call order)."""
    interrupt_ids: list[str]
    """The LangGraph interrupt id of each request, in the same order."""
    status: Literal["paused"] = "paused"


@dataclass(frozen=True)
class Completed:
    """The graph ran to its end."""

    run_id: str
    values: Any
    """The graph's final state."""
    output: str | None = None
    """The text of the last AI message, for agents (None for graphs without messages)."""
    status: Literal["completed"] = "completed"


Outcome = Paused | Completed


@dataclass(frozen=True)
class Chunk:
    """One item of LangGraph's own stream, passed through as it happens."""

    mode: str
    """The stream mode that produced it (``updates``, ``values``, ``messages``...)."""
    data: Any
    namespace: tuple[str, ...] = field(default=())


StreamItem = Chunk | Paused | Completed
"""What the runner's streams yield: LangGraph's chunks, then the outcome, last."""
