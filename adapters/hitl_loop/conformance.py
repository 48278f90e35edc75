"""The conformance driver for `hitl_loop`: ``hitl conformance hitl_loop`` runs it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from hitl_conformance import Capability, DriverConfig, Journal, RunOutcome, recording_tools
from hitl_core import open_store
from hitl_loop.loop import ToolLoop
from hitl_loop.messages import Message, ToolCall, ToolSpec
from hitl_loop.scripted import ScriptedModel
from hitl_loop.state import LoopOutcome, Paused

__all__ = ["LoopDriver", "driver"]


class _JournaledModel(ScriptedModel):
    """The scenario's script, reporting each tool result it is shown to the journal."""

    def __init__(self, config: DriverConfig, journal: Journal) -> None:
        super().__init__(
            [
                turn
                if isinstance(turn, str)
                else [ToolCall(id=c.id, name=c.tool, args=c.args) for c in turn]
                for turn in config.scenario.turns
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

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.APPROVE,
            Capability.REJECT,
            Capability.THRESHOLD,
            Capability.PERSIST,
            Capability.EXACTLY_ONCE,
            Capability.BOUND_DECISION,
            Capability.EDIT,
            Capability.RESPOND,
            Capability.PARALLEL,
            Capability.EXPIRY,
        }
    )

    def __init__(self, config: DriverConfig) -> None:
        self.config = config
        self.store = open_store(config.store_url)
        journal = Journal(config.journal)
        self.loop = ToolLoop(
            _JournaledModel(config, journal),
            recording_tools(journal),
            policy=config.scenario.build_policy(),
            store=self.store,
        )

    def start(self, run_id: str) -> RunOutcome:
        return _neutral(self.loop.start(self.config.scenario.prompt, run_id=run_id))

    def resume(self, run_id: str) -> RunOutcome:
        return _neutral(self.loop.resume(run_id))

    def close(self) -> None:
        self.store.close()


def _neutral(outcome: LoopOutcome) -> RunOutcome:
    if isinstance(outcome, Paused):
        return RunOutcome(
            run_id=outcome.run_id, status="paused", pending=[r.id for r in outcome.requests]
        )
    return RunOutcome(run_id=outcome.run_id, status="completed", output=outcome.output)


def driver(config: DriverConfig) -> LoopDriver:
    """The factory the conformance suite calls (``hitl_loop.conformance:driver``)."""
    return LoopDriver(config)
