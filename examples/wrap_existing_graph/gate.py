"""Gating the team's cleanup graph without editing it: a codec for the question it already asks.

Three ways to gate a LangGraph graph, and why this one:

- `HumanApprovalMiddleware` plugs into ``create_agent``; this graph is built by hand.
- `ApprovalToolNode` with `route_tool_calls` would take the place of the graph's
  ``ToolNode`` and ``tools_condition``: an edit to graph.py, and a second question on
  top of the one ``delete_rows`` already asks.
- The graph already pauses: ``delete_rows`` calls ``interrupt()`` with the team's own
  payload and reads back ``{"approved": ..., "comment": ...}``. A `Codec` translates that
  payload into a core `ProposedAction` and each recorded decision into the answer the tool
  reads. No node, edge or tool changes; graph.py's own builder compiles the graph, given
  a durable checkpointer.

With the codec, the graph's question becomes an ordinary request: in the store, listed,
decided (CLI, HTTP or code), expired and audited like any other. The graph asks before
every purge, and hitl-kit never answers a graph's own question in a person's place (a
policy adds gates, it never removes one), so every purge waits for a person. The policy
sets the terms: only the ops lead may decide a purge, and one of more than 10 rows shows
the reviewer why it matters. LangGraph re-runs ``delete_rows`` from its top when it
resumes; above its ``interrupt()`` the tool only counts rows, so that is safe.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

from langchain.chat_models import init_chat_model
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from examples.wrap_existing_graph.graph import build_graph
from hitl_core import (
    AnyDecision,
    ApprovalRequest,
    ApprovalStore,
    Approve,
    Policy,
    ProposedAction,
    Rule,
    arg,
)
from hitl_langgraph import ApprovalRunner, Codec, Outcome, ScriptedChatModel, open_checkpointer

__all__ = ["CODEC", "POLICY", "build_runner", "model", "resume", "start"]

POLICY = Policy(
    {
        "delete_rows": Rule(
            when=arg("rows") > 10,
            allowed=("approve", "reject"),
            reviewers=("ops-lead@example.com",),
            description="Purges of more than 10 rows are big: check the cutoff date.",
        )
    }
)
"""Who decides purges (the ops lead) and what they may answer (approve or reject); a purge
of more than 10 rows is shown with the policy's reason, a smaller one with the graph's."""


def _action(value: dict[str, Any], interrupt_id: str) -> ProposedAction:
    """The graph's interrupt payload, as the call a reviewer approves."""
    return ProposedAction(
        tool="delete_rows",
        args={k: value[k] for k in ("table", "last_seen_before", "rows")},
        call_id=interrupt_id,  # stable when LangGraph re-runs the paused tool
    )


def _answer(decision: AnyDecision, request: ApprovalRequest) -> dict[str, Any]:
    """A recorded decision, as the answer ``delete_rows`` reads from ``interrupt()``."""
    return {"approved": isinstance(decision, Approve), "comment": decision.feedback}


CODEC = Codec(action=_action, resume=_answer, allowed=("approve", "reject"))
"""``delete_rows``' own question and answer, translated to and from the core contract."""


def model() -> BaseChatModel:
    """OpenAI's gpt-4o-mini when OPENAI_API_KEY is set; else a script that does the same.

    ``init_chat_model`` needs ``pip install langchain-openai`` for OpenAI models.
    """
    if os.environ.get("OPENAI_API_KEY"):
        return init_chat_model("gpt-4o-mini", model_provider="openai", temperature=0)
    return ScriptedChatModel([_purge_as_asked, _report])


def _purge_as_asked(messages: Sequence[BaseMessage]) -> AIMessage:
    """The script's first turn: call delete_rows with the date in the user's request."""
    request = next(str(m.content) for m in reversed(messages) if isinstance(m, HumanMessage))
    cutoff = re.search(r"\d{4}-\d{2}-\d{2}", request)
    args = {"table": "sessions", "last_seen_before": cutoff.group() if cutoff else ""}
    return AIMessage("", tool_calls=[{"name": "delete_rows", "args": args, "id": "call_purge"}])


def _report(messages: Sequence[BaseMessage]) -> str:
    """The script's last turn: repeat what the tool said."""
    return f"Done. The tool said: {messages[-1].content}"


def build_runner(
    saver: BaseCheckpointSaver[Any], *, store: ApprovalStore, database: Path
) -> ApprovalRunner:
    """The team's graph, compiled by its own builder, driven through the codec and policy."""
    graph = build_graph(model(), database, checkpointer=saver)
    return ApprovalRunner(graph, store=store, codec=CODEC, policy=POLICY)


def start(request: str, *, store: ApprovalStore, database: Path, checkpoints: str) -> Outcome:
    """Give the agent `request` in a new thread; it finishes, or pauses with the pause saved."""
    with open_checkpointer(checkpoints) as saver:
        runner = build_runner(saver, store=store, database=database)
        thread_id = f"cleanup_{uuid4().hex}"
        return runner.start({"messages": [HumanMessage(request)]}, thread_id=thread_id)


def resume(thread_id: str, *, store: ApprovalStore, database: Path, checkpoints: str) -> Outcome:
    """Continue a paused thread in a new runner, with the decisions recorded in the store."""
    with open_checkpointer(checkpoints) as saver:
        return build_runner(saver, store=store, database=database).resume(thread_id)
