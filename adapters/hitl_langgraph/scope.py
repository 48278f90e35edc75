"""Which run a node is working for, read from the LangGraph config it runs under.

The run id is the root thread id, which subgraphs inherit, so a sub-agent's gated calls
raise requests under the root run. `ApprovalRunner` marks its runs (``hitl_runner``) so
that gates leave writing requests and marking them resumed to the runner's single
`save_run`; graphs invoked directly write those themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.constants import CONFIG_KEY_CHECKPOINTER

from hitl_langgraph.errors import NoCheckpointer, NoThreadId

__all__ = ["ADAPTER", "CONTEXT_KEY", "RUNNER_KEY", "Scope"]

ADAPTER = "hitl_langgraph"
"""The adapter name on requests and run records."""

RUNNER_KEY = "hitl_runner"
"""Configurable flag set by `ApprovalRunner`: it saves requests and marks them resumed."""

CONTEXT_KEY = "hitl_context"
"""Configurable mapping of facts for predicates (``ctx(...)``) and reviewers."""


@dataclass(frozen=True)
class Scope:
    """The run a gate works for, and who writes its requests."""

    run_id: str
    """The root thread id: every request of the run, sub-agents' included, is filed here."""
    deferred: bool = False
    """True under `ApprovalRunner`, which saves new requests with the run in one write."""
    context: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, config: RunnableConfig) -> Scope:
        """The scope of a node running under `config`.

        Raises:
            NoThreadId: the run has no ``thread_id``.
            NoCheckpointer: the graph has no checkpointer, so a pause could not resume.
        """
        conf = config.get("configurable") or {}
        thread_id = conf.get("thread_id")
        if thread_id is None or thread_id == "":
            raise NoThreadId()
        if conf.get(CONFIG_KEY_CHECKPOINTER) is None:
            raise NoCheckpointer("this graph")
        context = conf.get(CONTEXT_KEY)
        return cls(
            run_id=str(thread_id),
            deferred=bool(conf.get(RUNNER_KEY)),
            context=dict(context) if isinstance(context, Mapping) else {},
        )
