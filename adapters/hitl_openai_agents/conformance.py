"""The conformance driver: ``hitl conformance hitl_openai_agents`` runs it.

The suite's recording tools become ``function_tool``s, each scenario script is played by
a `ScriptedModel` that reports to the journal every tool result it is shown, and every
sub-agent of the scenario is offered to the root agent through ``Agent.as_tool`` with the
suite's one argument, ``task``. All of it runs on the real ``Runner``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from agents import (
    Agent,
    RunConfig,
    RunItemStreamEvent,
    Tool,
    TResponseInputItem,
    function_tool,
)
from agents.agent_tool_input import StructuredToolInputBuilderOptions
from pydantic import BaseModel

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
from hitl_openai_agents.outcomes import AgentsEvent, Completed, Outcome, Paused
from hitl_openai_agents.runner import ApprovalRunner
from hitl_openai_agents.scripted import ScriptedModel, Turn, call, tool_outputs

__all__ = ["AgentsDriver", "driver"]


class Task(BaseModel):
    """A sub-agent's one argument, as the suite's scenarios call it."""

    task: str


class AgentsDriver:
    """Runs a conformance scenario on an `ApprovalRunner` around SDK agents."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)

    def __init__(self, config: DriverConfig) -> None:
        self.config = config
        self.store = open_store(config.store_url)
        journal = Journal(config.journal)
        sub_agents = [
            Agent(
                name=name,
                model=_journaled(turns, journal),
                tools=_tools(journal),
            ).as_tool(
                name,
                f"The {name} sub-agent.",
                parameters=Task,
                input_builder=_task_text,
            )
            for name, turns in config.scenario.agents.items()
        ]
        root = Agent(
            name="conformance_root",
            model=_journaled(config.scenario.turns, journal),
            tools=[*_tools(journal), *sub_agents],
        )
        self.runner = ApprovalRunner(
            root,
            policy=config.scenario.build_policy(),
            store=self.store,
            run_config=RunConfig(tracing_disabled=True),
            lease=timedelta(seconds=config.lease_seconds),
        )

    def start(self, run_id: str) -> RunOutcome:
        return _neutral(self.runner.start(self.config.scenario.prompt, run_id=run_id))

    def resume(self, run_id: str, *, lease: Lease | None = None) -> RunOutcome:
        return _neutral(self.runner.resume(run_id, lease=lease))

    def start_streamed(self, run_id: str) -> RunOutcome:
        prompt = self.config.scenario.prompt
        return asyncio.run(_drained(self.runner.astream(prompt, run_id=run_id)))

    def resume_streamed(self, run_id: str) -> RunOutcome:
        return asyncio.run(_drained(self.runner.astream_resume(run_id)))

    def rewrite_call(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str | None = None,
        args: dict[str, Any] | None = None,
    ) -> None:
        """Change a pending call in the stored ``RunState`` JSON, everywhere it appears."""
        record = self.store.load_run(run_id)
        state = json.loads(record.state)
        _rewrite(state, call_id, tool, args)
        self.store.save_run(
            record.model_copy(update={"state": json.dumps(state)}),
            expected_version=record.version,
        )

    def close(self) -> None:
        self.store.close()


def _rewrite(value: Any, call_id: str, tool: str | None, args: dict[str, Any] | None) -> None:
    """Rewrite every function call item with `call_id` inside a serialized state."""
    if isinstance(value, list):
        for item in value:
            _rewrite(item, call_id, tool, args)
        return
    if not isinstance(value, dict):
        return
    raw = value.get("raw_item")
    if isinstance(raw, dict) and raw.get("call_id") == call_id and tool and "tool_name" in value:
        value["tool_name"] = tool
    if value.get("type") == "function_call" and value.get("call_id") == call_id:
        if tool:
            value["name"] = tool
        if args is not None:
            value["arguments"] = json.dumps(args)
    for item in value.values():
        _rewrite(item, call_id, tool, args)


def _tools(journal: Journal) -> list[Tool]:
    """The recording tools; the author-gated one with the SDK's own ``needs_approval``."""
    return [
        function_tool(fn, needs_approval=fn.__name__ == AUTHOR_GATED)
        for fn in recording_tools(journal)
    ]


def _journaled(turns: Sequence[list[ScriptedCall] | str], journal: Journal) -> ScriptedModel:
    """The script as a model that tells the journal every tool result it is shown."""

    def observe(items: list[TResponseInputItem]) -> None:
        for call_id, content in tool_outputs(items).items():
            journal.saw(call_id, content)

    script: list[Turn] = [
        step if not isinstance(step, list) else [call(c.tool, c.args, id=c.id) for c in step]
        for step in map(playable, turns)
    ]
    return ScriptedModel(script, observe=observe)


def _task_text(options: StructuredToolInputBuilderOptions) -> str:
    params: Any = options.get("params")
    return str(params["task"]) if isinstance(params, dict) else str(params)


async def _drained(stream: AsyncIterator[AgentsEvent]) -> RunOutcome:
    """Consume a stream; the neutral outcome with the settled calls it surfaced."""
    events: list[str] = []
    async for event in stream:
        if isinstance(event, RunItemStreamEvent) and event.name == "tool_output":
            raw: Any = event.item.raw_item
            call_id = raw.get("call_id") if isinstance(raw, dict) else raw.call_id
            events.append(f"tool_result:{call_id}")
        elif isinstance(event, Paused | Completed):
            return _neutral(event).model_copy(update={"events": [*events, event.status]})
    raise AssertionError("the stream ended without an outcome")


def _neutral(outcome: Outcome) -> RunOutcome:
    if isinstance(outcome, Paused):
        return RunOutcome(
            run_id=outcome.run_id, status="paused", pending=[r.id for r in outcome.requests]
        )
    return RunOutcome(run_id=outcome.run_id, status="completed", output=str(outcome.output))


def driver(config: DriverConfig) -> AgentsDriver:
    """The factory the conformance suite calls (``hitl_openai_agents.conformance:driver``)."""
    return AgentsDriver(config)
