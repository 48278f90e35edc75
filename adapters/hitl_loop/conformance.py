"""The conformance driver for `hitl_loop`: ``hitl conformance hitl_loop`` runs it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from hitl_conformance import (
    AUTHOR_GATED,
    Capability,
    DriverConfig,
    Journal,
    RunOutcome,
    ScriptedCall,
    playable,
    recording_tools,
)
from hitl_core import Lease, open_store
from hitl_loop.loop import ToolLoop
from hitl_loop.messages import Message, ToolCall, ToolSpec
from hitl_loop.scripted import ScriptedModel
from hitl_loop.state import Completed, LoopEvent, LoopOutcome, LoopState, Paused, ToolSettled
from hitl_loop.tools import Tool

__all__ = ["LoopDriver", "driver"]


class _JournaledModel(ScriptedModel):
    """The scenario's script, reporting each tool result it is shown to the journal."""

    def __init__(self, turns: Sequence[list[ScriptedCall] | str], journal: Journal) -> None:
        super().__init__(
            [
                _step
                if not isinstance(_step := playable(turn), list)
                else [ToolCall(id=c.id, name=c.tool, args=c.args) for c in _step]
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
        lease = timedelta(seconds=config.lease_seconds)
        agents = [
            ToolLoop(
                _JournaledModel(turns, journal),
                _tools(journal),
                policy=policy,
                store=self.store,
                lease=lease,
            ).as_tool(name, f"The {name} sub-agent.")
            for name, turns in config.scenario.agents.items()
        ]
        self.loop = ToolLoop(
            _JournaledModel(config.scenario.turns, journal),
            [*_tools(journal), *agents],
            policy=policy,
            store=self.store,
            lease=lease,
        )

    def start(self, run_id: str) -> RunOutcome:
        return _neutral(self.loop.start(self.config.scenario.prompt, run_id=run_id))

    def resume(self, run_id: str, *, lease: Lease | None = None) -> RunOutcome:
        return _neutral(self.loop.resume(run_id, lease=lease))

    def start_streamed(self, run_id: str) -> RunOutcome:
        return _drained(self.loop.stream(self.config.scenario.prompt, run_id=run_id))

    def resume_streamed(self, run_id: str) -> RunOutcome:
        return _drained(self.loop.stream_resume(run_id))

    def rewrite_call(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str | None = None,
        args: dict[str, Any] | None = None,
    ) -> None:
        """Change a call in the stored `LoopState` (the suite's tampering check)."""
        record = self.store.load_run(run_id)
        state = LoopState.model_validate_json(record.state)
        _rewrite(state, call_id, tool, args)
        self.store.save_run(
            record.model_copy(update={"state": state.model_dump_json()}),
            expected_version=record.version,
        )

    def close(self) -> None:
        self.store.close()


def _rewrite(state: LoopState, call_id: str, tool: str | None, args: dict[str, Any] | None) -> None:
    """Rewrite call `call_id` wherever `state` (or a sub-agent's state) holds it."""

    def changed(call: ToolCall) -> ToolCall:
        if call.id != call_id:
            return call
        return call.model_copy(
            update={"name": tool or call.name, "args": call.args if args is None else args}
        )

    state.turn = [changed(c) for c in state.turn]
    state.messages = [
        m.model_copy(update={"tool_calls": tuple(map(changed, m.tool_calls))})
        for m in state.messages
    ]
    for child in state.children.values():
        _rewrite(child, call_id, tool, args)


def _tools(journal: Journal) -> list[Tool]:
    """The recording tools; the author-gated one with the loop's own approval flag."""
    return [
        Tool.from_function(fn, requires_approval=fn.__name__ == AUTHOR_GATED)
        for fn in recording_tools(journal)
    ]


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
