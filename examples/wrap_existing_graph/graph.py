"""The sessions-cleanup agent, as the platform team wrote it, before any approval library.

An ``agent`` node asks the model what to do and a ``ToolNode`` runs ``delete_rows``. The
tool already asks a person before deleting, the way LangGraph's docs show: it calls
``interrupt()`` with the team's own payload and reads back
``{"approved": bool, "comment": str | None}``. Every purge is written to ``purge_log``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, SystemMessage
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import interrupt

__all__ = ["SYSTEM", "TABLES", "State", "build_graph", "database_tools"]

SYSTEM = (
    "You maintain the application database. To purge stale rows, call delete_rows once "
    "with the table and the cutoff date (YYYY-MM-DD), then report what the tool said."
)
TABLES = ("sessions",)
"""The tables the agent may purge; the table name goes into SQL, so nothing else."""


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


@contextmanager
def _connect(database: Path) -> Iterator[sqlite3.Connection]:
    """One transaction on the database, closed afterwards."""
    with closing(sqlite3.connect(database)) as db, db:
        yield db


def database_tools(database: Path) -> list[BaseTool]:
    """The agent's tools, working on the SQLite file `database`."""

    @tool
    def delete_rows(table: str, last_seen_before: str) -> str:
        """Delete the rows of `table` last seen before a date (YYYY-MM-DD)."""
        if table not in TABLES:
            return f"Unknown table {table!r}; purgeable tables: {', '.join(TABLES)}."
        with _connect(database) as db:
            query = f"SELECT COUNT(*) FROM {table} WHERE last_seen < ?"
            (rows,) = db.execute(query, (last_seen_before,)).fetchone()
        answer = interrupt(
            {
                "question": f"Delete {rows} rows from {table} last seen before {last_seen_before}?",
                "table": table,
                "last_seen_before": last_seen_before,
                "rows": rows,
            }
        )
        if not answer.get("approved"):
            return f"Nothing deleted. Reason: {answer.get('comment') or 'the operator said no'}"
        with _connect(database) as db:
            deleted = db.execute(
                f"DELETE FROM {table} WHERE last_seen < ?", (last_seen_before,)
            ).rowcount
            db.execute(
                "INSERT INTO purge_log (table_name, last_seen_before, deleted) VALUES (?, ?, ?)",
                (table, last_seen_before, deleted),
            )
        return f"Deleted {deleted} rows from {table}."

    return [delete_rows]


def build_graph(
    model: BaseChatModel,
    database: Path,
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> CompiledStateGraph[State, None, State, State]:
    """The agent: model -> tools -> model, until the model stops calling tools."""
    tools = database_tools(database)
    bound = model.bind_tools(tools)

    def agent(state: State) -> dict[str, Any]:
        return {"messages": [bound.invoke([SystemMessage(SYSTEM), *state["messages"]])]}

    builder = StateGraph(State)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer)
