"""The LangGraph adapter's own failures, as leaves of the `hitl_core` error tree.

    HITLError
    ├── InvalidInput
    │   ├── UnsupportedCheckpointerURL   a checkpointer URL no saver handles
    │   └── UnknownInterrupt             a resume names an interrupt that is not pending
    └── AdapterError
        ├── NoCheckpointer               the graph was compiled without a checkpointer
        ├── NoThreadId                   the run has no ``thread_id`` to resume by
        ├── ForeignInterrupt             an interrupt that is neither ours nor the codec's
        └── SyncCallOnAsyncStore         a sync run given the async-only PostgreSQL store

LangGraph on its own returns an interrupt that can never be resumed when the checkpointer
or thread id is missing; these errors are raised before anything runs instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from hitl_core.errors import AdapterError, InvalidInput

__all__ = [
    "ForeignInterrupt",
    "NoCheckpointer",
    "NoThreadId",
    "UnknownInterrupt",
    "UnsupportedCheckpointerURL",
    "SyncCallOnAsyncStore",
]


class UnsupportedCheckpointerURL(InvalidInput):
    """A checkpointer URL whose scheme no LangGraph saver handles."""

    url: str

    def __init__(self, url: str) -> None:
        super().__init__(
            f"No LangGraph checkpointer handles {url!r}. Use memory://, "
            "sqlite:///path/to/checkpoints.db or postgresql://user@host/db.",
            url=url,
        )


class UnknownInterrupt(InvalidInput):
    """A resume value addressed to an interrupt (or request) the run is not waiting on."""

    thread_id: str
    key: str
    pending: list[str]

    def __init__(self, thread_id: str, key: str, pending: Iterable[str]) -> None:
        pending = list(pending)
        names = ", ".join(pending) or "(none)"
        super().__init__(
            f"Thread {thread_id} has no pending interrupt or request {key!r}; pending: "
            f"{names}. Nothing was recorded and every interrupt is still pending.",
            thread_id=thread_id,
            key=key,
            pending=pending,
        )


class NoCheckpointer(AdapterError):
    """The graph cannot pause durably: it was compiled without a checkpointer."""

    graph: str

    def __init__(self, graph: str) -> None:
        super().__init__(
            f"Graph {graph!r} has no checkpointer, so a pause could never be resumed. "
            "Compile it with one: graph = builder.compile(checkpointer=saver), with a saver "
            "from hitl_langgraph.open_checkpointer('sqlite:///checkpoints.db').",
            graph=graph,
        )


class NoThreadId(AdapterError):
    """The run has no thread id, so nothing could find the paused checkpoint again."""

    def __init__(self) -> None:
        super().__init__(
            "A gated LangGraph run needs a thread id: pass thread_id=... to the runner, or "
            'config={"configurable": {"thread_id": "..."}} to invoke. Nothing was run.'
        )


class ForeignInterrupt(AdapterError):
    """The graph paused on an interrupt whose value the adapter cannot read."""

    thread_id: str
    interrupt_id: str

    def __init__(self, thread_id: str, interrupt_id: str, value: object) -> None:
        super().__init__(
            f"Thread {thread_id} paused on interrupt {interrupt_id} whose value "
            f"{value!r:.200} is not a hitl-kit request. Give the runner a codec that turns "
            "this graph's interrupt values into ProposedActions (hitl_langgraph.Codec).",
            thread_id=thread_id,
            interrupt_id=interrupt_id,
        )


class SyncCallOnAsyncStore(AdapterError):
    """A sync run (invoke, stream, start, resume) given `AsyncPostgresStore`."""

    def __init__(self) -> None:
        super().__init__(
            "AsyncPostgresStore can only be awaited: run the graph with ainvoke/astream (or "
            "the runner's astart/aresume), or open the sync store with "
            "hitl_core.open_store('postgresql://...') for invoke/stream."
        )
