"""The conformance driver for `hitl_langgraph`: ``hitl conformance hitl_langgraph`` runs it.

The scenario runs on a real ``create_agent`` agent gated by `HumanApprovalMiddleware`,
with a checkpointer on the same kind of backend as the store (a SQLite file next to a
SQLite store, the same database for PostgreSQL), so a fresh process resumes from both.
Sub-agents are nested ``create_agent`` graphs offered as tools.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar

from langchain.agents import create_agent
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatResult
from langchain_core.tools import BaseTool, StructuredTool

from hitl_conformance import (
    Capability,
    DriverConfig,
    Journal,
    RunOutcome,
    ScriptedCall,
    recording_tools,
)
from hitl_core import Lease, open_store
from hitl_core.policy import Policy
from hitl_core.stores import ApprovalStore
from hitl_langgraph.checkpointers import open_checkpointer
from hitl_langgraph.middleware import HumanApprovalMiddleware
from hitl_langgraph.outcomes import Chunk, Completed, Outcome, Paused, StreamItem
from hitl_langgraph.runner import ApprovalRunner
from hitl_langgraph.scripted import ScriptedChatModel, call
from hitl_langgraph.subagents import agent_tool

__all__ = ["LangGraphDriver", "checkpointer_url", "driver"]


class _JournaledModel(ScriptedChatModel):
    """The scenario's script, reporting each tool result it is shown to the journal."""

    journal: Any

    def __init__(self, turns: Sequence[list[ScriptedCall] | str], journal: Journal) -> None:
        super().__init__(
            [
                turn if isinstance(turn, str) else [call(c.tool, c.args, id=c.id) for c in turn]
                for turn in turns
            ],
            journal=journal,
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        for m in messages:
            if isinstance(m, ToolMessage):
                self.journal.saw(m.tool_call_id, str(m.content))
        return super()._generate(messages, stop, run_manager, **kwargs)


def checkpointer_url(store_url: str) -> str:
    """Where the driver keeps checkpoints for a store URL: the same kind of backend."""
    if store_url.startswith("sqlite:///"):
        path = Path(store_url.removeprefix("sqlite:///"))
        return f"sqlite:///{path.with_name(path.stem + '-checkpoints' + path.suffix)}"
    if store_url.startswith("memory://"):
        return "memory://"
    return store_url


class LangGraphDriver:
    """Runs a conformance scenario on a ``create_agent`` agent through `ApprovalRunner`."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability)

    def __init__(self, config: DriverConfig) -> None:
        self.config = config
        self._stack = ExitStack()
        self.store: ApprovalStore = open_store(config.store_url)
        self._stack.callback(self.store.close)
        saver = self._stack.enter_context(open_checkpointer(checkpointer_url(config.store_url)))
        journal = Journal(config.journal)
        policy = config.scenario.build_policy()
        tools: list[BaseTool] = [StructuredTool.from_function(f) for f in recording_tools(journal)]
        agents = [
            agent_tool(
                create_agent(
                    _JournaledModel(turns, journal),
                    tools,
                    middleware=[self._middleware(policy)],
                    name=name,
                ),
                name,
                f"The {name} sub-agent.",
            )
            for name, turns in config.scenario.agents.items()
        ]
        agent = create_agent(
            _JournaledModel(config.scenario.turns, journal),
            [*tools, *agents],
            middleware=[self._middleware(policy)],
            checkpointer=saver,
        )
        self.runner = ApprovalRunner(agent, store=self.store)

    def _middleware(self, policy: Policy) -> HumanApprovalMiddleware:
        return HumanApprovalMiddleware(policy, self.store)

    def _input(self) -> dict[str, Any]:
        return {"messages": [HumanMessage(self.config.scenario.prompt)]}

    def start(self, run_id: str) -> RunOutcome:
        return _neutral(self.runner.start(self._input(), thread_id=run_id))

    def resume(self, run_id: str, *, lease: Lease | None = None) -> RunOutcome:
        return _neutral(self.runner.resume(run_id, lease=lease))

    def start_streamed(self, run_id: str) -> RunOutcome:
        return _drained(self.runner.stream(self._input(), thread_id=run_id))

    def resume_streamed(self, run_id: str) -> RunOutcome:
        return _drained(self.runner.stream_resume(run_id))

    def close(self) -> None:
        self._stack.close()


def _drained(stream: Iterator[StreamItem]) -> RunOutcome:
    """Consume a stream; the neutral outcome with the settled calls it surfaced."""
    events: list[str] = []
    for item in stream:
        if isinstance(item, Chunk):
            events += [f"tool_result:{call_id}" for call_id in _settled_calls(item)]
        else:
            return _neutral(item).model_copy(update={"events": [*events, item.status]})
    raise AssertionError("the stream ended without an outcome")


def _settled_calls(chunk: Chunk) -> list[str]:
    """The call ids of the tool results an ``updates`` chunk reports as they happen.

    A resumed stream first replays the writes of tasks that finished before the pause,
    marked ``{"__metadata__": {"cached": True}}``; those settled earlier, not now.
    """
    if chunk.mode != "updates" or not isinstance(chunk.data, dict):
        return []
    if (chunk.data.get("__metadata__") or {}).get("cached"):
        return []
    ids: list[str] = []
    for node, update in chunk.data.items():
        updates = update if isinstance(update, list) else [update]
        for part in updates:
            if node in ("__interrupt__", "__metadata__") or not isinstance(part, dict):
                continue
            ids += [m.tool_call_id for m in part.get("messages", []) if isinstance(m, ToolMessage)]
    return ids


def _neutral(outcome: Outcome) -> RunOutcome:
    if isinstance(outcome, Paused):
        return RunOutcome(
            run_id=outcome.run_id, status="paused", pending=[r.id for r in outcome.requests]
        )
    assert isinstance(outcome, Completed)
    return RunOutcome(run_id=outcome.run_id, status="completed", output=outcome.output)


def driver(config: DriverConfig) -> LangGraphDriver:
    """The factory the conformance suite calls (``hitl_langgraph.conformance:driver``)."""
    return LangGraphDriver(config)
