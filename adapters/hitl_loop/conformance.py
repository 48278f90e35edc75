"""The conformance driver for `hitl_loop`: ``hitl conformance hitl_loop`` runs it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

from hitl_conformance import (
    Capability,
    DriverConfig,
    Journal,
    RunOutcome,
    ScriptedCall,
    recording_tools,
)
from hitl_core import Lease, open_store
from hitl_loop.loop import ToolLoop
from hitl_loop.messages import Message, ToolCall, ToolSpec
from hitl_loop.scripted import ScriptedModel
from hitl_loop.state import Completed, LoopEvent, LoopOutcome, Paused, ToolSettled

__all__ = ["LoopDriver", "driver"]


class _JournaledModel(ScriptedModel):
    """The scenario's script, reporting each tool result it is shown to the journal."""

    def __init__(self, turns: Sequence[list[ScriptedCall] | str], journal: Journal) -> None:
        super().__init__(
            [
                turn
                if isinstance(turn, str)
                else [ToolCall(id=c.id, name=c.tool, args=c.args) for c in turn]
                for turn in turns
            ]
        )
        self.journal = journal

    def complete(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> Message:
        for m in messages:
            if m.role == "tool" and m.tool_call_id is not None:
                self.journal.saw(m.tool_call_id, m.content or "")
        return super().complete(messages, tools)


class LoopDriver:
    """Runs a conformance scenario on a `ToolLoop`."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)

    def __init__(self, config: DriverConfig) -> None:
        self.config = config
        self.store = open_store(config.store_url)
        journal = Journal(config.journal)
        policy = config.scenario.build_policy()
        agents = [
            ToolLoop(
                _JournaledModel(turns, journal),
                recording_tools(journal),
                policy=policy,
                store=self.store,
            ).as_tool(name, f"The {name} sub-agent.")
            for name, turns in config.scenario.agents.items()
        ]
        self.loop = ToolLoop(
            _JournaledModel(config.scenario.turns, journal),
            [*recording_tools(journal), *agents],
            policy=policy,
            store=self.store,
        )

    def start(self, run_id: str) -> RunOutcome:
        return _neutral(self.loop.start(self.config.scenario.prompt, run_id=run_id))

    def resume(self, run_id: str, *, lease: Lease | None = None) -> RunOutcome:
        return _neutral(self.loop.resume(run_id, lease=lease))

    def start_streamed(self, run_id: str) -> RunOutcome:
        return _drained(self.loop.stream(self.config.scenario.prompt, run_id=run_id))

    def resume_streamed(self, run_id: str) -> RunOutcome:
        return _drained(self.loop.stream_resume(run_id))

    def close(self) -> None:
        self.store.close()


def _drained(stream: Iterator[LoopEvent]) -> RunOutcome:
    """Consume a stream; the neutral outcome with the settled calls it surfaced."""
    events: list[str] = []
    for event in stream:
        if isinstance(event, ToolSettled):
            events.append(f"tool_result:{event.call_id}")
        elif isinstance(event, Paused | Completed):
            return _neutral(event).model_copy(update={"events": [*events, event.status]})
    raise AssertionError("the stream ended without an outcome")


def _neutral(outcome: LoopOutcome) -> RunOutcome:
    if isinstance(outcome, Paused):
        return RunOutcome(
            run_id=outcome.run_id, status="paused", pending=[r.id for r in outcome.requests]
        )
    return RunOutcome(run_id=outcome.run_id, status="completed", output=outcome.output)


def driver(config: DriverConfig) -> LoopDriver:
    """The factory the conformance suite calls (``hitl_loop.conformance:driver``)."""
    return LoopDriver(config)
