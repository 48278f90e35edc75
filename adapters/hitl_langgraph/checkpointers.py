"""LangGraph checkpointers opened from a URL, the way `hitl_core.open_store` opens stores.

``memory://`` (tests: nothing survives the process), ``sqlite:///path.db`` (`SqliteSaver`,
or `AsyncSqliteSaver` from `aopen_checkpointer`) and ``postgresql://user@host/db``
(`PostgresSaver` / `AsyncPostgresSaver`, with ``setup()`` run so the tables exist). Each
is a context manager that closes its connection on exit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from hitl_core.errors import InvalidInput, MissingDependency
from hitl_langgraph.errors import UnsupportedCheckpointerURL

__all__ = ["aopen_checkpointer", "open_checkpointer"]

_SQLITE = "sqlite:///"


def _scheme(url: str) -> str:
    scheme = url.partition(":")[0].split("+")[0].lower()
    if "://" not in url or scheme not in ("memory", "sqlite", "postgresql", "postgres"):
        raise UnsupportedCheckpointerURL(url)
    return "postgresql" if scheme == "postgres" else scheme


def _sqlite_path(url: str) -> str:
    """``sqlite:///checkpoints.db`` -> ``checkpoints.db``; the parent folder is created."""
    if not url.startswith(_SQLITE) or url == _SQLITE:
        raise InvalidInput(
            f"Invalid SQLite URL {url!r}: use sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db."
        )
    path = url[len(_SQLITE) :]
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return path


def _postgres_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def open_checkpointer(url: str) -> Iterator[BaseCheckpointSaver[str]]:
    """The checkpointer a URL names, ready to use (tables created), closed on exit.

    Raises:
        UnsupportedCheckpointerURL: no saver handles the scheme.
        MissingDependency: the saver's package is not installed (the message says how).
    """
    scheme = _scheme(url)
    if scheme == "memory":
        yield InMemorySaver()
    elif scheme == "sqlite":
        try:
            from langgraph.checkpoint.sqlite import SqliteSaver
        except ModuleNotFoundError as error:
            raise MissingDependency("langgraph-checkpoint-sqlite", "langgraph") from error
        with SqliteSaver.from_conn_string(_sqlite_path(url)) as saver:
            saver.setup()
            yield saver
    else:
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
        except ModuleNotFoundError as error:
            raise MissingDependency("langgraph-checkpoint-postgres", "langgraph") from error
        with PostgresSaver.from_conn_string(_postgres_conninfo(url)) as saver:
            saver.setup()
            yield saver


@asynccontextmanager
async def aopen_checkpointer(url: str) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """Async twin of `open_checkpointer`: `AsyncSqliteSaver` / `AsyncPostgresSaver`."""
    scheme = _scheme(url)
    if scheme == "memory":
        yield InMemorySaver()
    elif scheme == "sqlite":
        try:
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
        except ModuleNotFoundError as error:
            raise MissingDependency("langgraph-checkpoint-sqlite", "langgraph") from error
        async with AsyncSqliteSaver.from_conn_string(_sqlite_path(url)) as saver:
            await saver.setup()
            yield saver
    else:
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ModuleNotFoundError as error:
            raise MissingDependency("langgraph-checkpoint-postgres", "langgraph") from error
        async with AsyncPostgresSaver.from_conn_string(_postgres_conninfo(url)) as saver:
            await saver.setup()
            yield saver
