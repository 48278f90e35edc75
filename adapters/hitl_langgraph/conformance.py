"""The conformance driver for `hitl_langgraph`: ``hitl conformance hitl_langgraph`` runs it.

The scenario runs on a real ``create_agent`` agent gated by `HumanApprovalMiddleware`,
with a checkpointer on the same kind of backend as the store (a SQLite file next to a
SQLite store, the same database for PostgreSQL), so a fresh process resumes from both.
Sub-agents are nested ``create_agent`` graphs offered as tools.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool

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
from hitl_core.policy import Policy
from hitl_core.stores import ApprovalStore
from hitl_langgraph.checkpointers import open_checkpointer
from hitl_langgraph.gate import REQUIRES_APPROVAL_KEY
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
                step
                if not isinstance(step, list)
                else [call(c.tool, c.args, id=c.id) for c in step]
                for step in map(playable, turns)
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


def _step(turn: list[ScriptedCall] | str) -> Any:
    """A scenario turn as `ScriptedChatModel` plays it."""
    step = playable(turn)
    return [call(c.tool, c.args, id=c.id) for c in step] if isinstance(step, list) else step


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
        tools: list[BaseTool] = [
            StructuredTool.from_function(
                f, metadata={REQUIRES_APPROVAL_KEY: True} if f.__name__ == AUTHOR_GATED else None
            )
            for f in recording_tools(journal)
        ]
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
        self.runner = ApprovalRunner(
            agent, store=self.store, lease=timedelta(seconds=config.lease_seconds)
        )

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

    def rewrite_call(
        self,
        run_id: str,
        call_id: str,
        *,
        tool: str | None = None,
        args: dict[str, Any] | None = None,
    ) -> None:
        """Change a pending call through ``graph.update_state``, as the model's own turn.

        The updated model message keeps its id (so it replaces the old one) and the call
        keeps its id; LangGraph schedules the tool task again with the rewritten call.
        """
        config: RunnableConfig = {"configurable": {"thread_id": run_id}}
        graph = self.runner.graph
        messages = graph.get_state(config).values["messages"]
        turn = next(m for m in reversed(messages) if isinstance(m, AIMessage) and m.tool_calls)
        calls = [
            {**c, "name": tool or c["name"], "args": c["args"] if args is None else args}
            if c["id"] == call_id
            else c
            for c in turn.tool_calls
        ]
        graph.update_state(
            config, {"messages": [turn.model_copy(update={"tool_calls": calls})]}, as_node="model"
        )

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
