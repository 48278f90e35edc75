"""What the runner's sync and async halves share: everything but the I/O.

Deciding what to resume, with which values, and what the next save holds are pure
functions of the paused graph's interrupts and the stored requests, so the two halves
differ only in whether they await.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import Command, StateSnapshot, StreamMode

from hitl_core.errors import AdapterError, InvalidRunState, RunExists, RunNotPaused
from hitl_core.policy import Policy
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import RunRecord, RunStatus
from hitl_langgraph._store_io import AnyStore, StoreIO
from hitl_langgraph.codec import InterruptCodec
from hitl_langgraph.errors import NoCheckpointer, NoThreadId
from hitl_langgraph.outcomes import Completed, Outcome, Paused, RunInfo, StreamItem
from hitl_langgraph.pending import Reader, Waiting, is_settled
from hitl_langgraph.scope import ADAPTER, CONTEXT_KEY, RUNNER_KEY

__all__ = ["Modes", "ResumePlan", "RunnerBase", "alast", "last", "paused_info"]

Modes = StreamMode | Sequence[StreamMode]


@dataclass(frozen=True)
class ResumePlan:
    """What one resume pass does."""

    values: dict[str, Any]
    """Interrupt id -> resume value, for every interrupt whose request is answered."""
    waiting: list[str]
    """The requests the run waits on, in call order."""
    orphans: list[str]
    """Answered requests no interrupt waits on any more: a pass that applied them crashed
    before its save, so they are marked resumed now."""
    unsaved: list[ApprovalRequest]
    """Requests the graph raised that a crash kept out of the store."""

    @property
    def before(self) -> list[str]:
        """The requests to mark resumed once no interrupt waits on them."""
        return self.orphans + self.waiting

    @property
    def idle(self) -> bool:
        """Nothing to resume: the run waits and no waiting request is answered."""
        return bool(self.waiting) and not self.values

    @property
    def command(self) -> Command[Any] | None:
        """What to run the graph with: the resume values, or None to just continue."""
        return Command(resume=self.values) if self.values else None


class RunnerBase:
    """The runner's configuration and its I/O-free steps."""

    def __init__(
        self,
        graph: Pregel[Any, Any, Any, Any],
        *,
        store: AnyStore,
        codec: InterruptCodec | None = None,
        policy: Policy | None = None,
        sequential: bool = True,
        config: RunnableConfig | None = None,
    ) -> None:
        if graph.checkpointer in (None, False, True):
            raise NoCheckpointer(graph.name)
        self.graph = graph
        self.io = StoreIO(store)
        self.reader = Reader(codec, policy)
        self.sequential = sequential
        self.base_config: RunnableConfig = config or {}

    def _info(self, thread_id: str, context: Mapping[str, Any] | None) -> RunInfo:
        if not thread_id:
            raise NoThreadId()
        return RunInfo(
            thread_id=thread_id,
            graph=self.graph.name,
            checkpointer=type(self.graph.checkpointer).__name__,
            context=dict(context or {}),
        )

    def _config(self, info: RunInfo) -> RunnableConfig:
        """The config of every run of the thread: the runner's flag, context, order."""
        base = self.base_config
        configurable = {**(base.get("configurable") or {}), "thread_id": info.thread_id}
        configurable[RUNNER_KEY] = True
        if info.context:
            configurable[CONTEXT_KEY] = dict(info.context)
        config: RunnableConfig = {**base, "configurable": configurable}
        if self.sequential:
            config["max_concurrency"] = 1
        return config

    def _read(self, info: RunInfo, snapshot: StateSnapshot) -> tuple[list[Waiting], dict[str, Any]]:
        return self.reader.read(
            info.thread_id, snapshot.interrupts, info.context, self.io.clock.now()
        )

    def _plan(
        self,
        waiting: list[Waiting],
        stored: Mapping[str, ApprovalRequest | None],
        through: Mapping[str, Any],
        answered: Sequence[str],
    ) -> ResumePlan:
        values = dict(through)
        for w in waiting:
            request = stored[w.request.id]
            if request is not None and is_settled(request):
                values[w.interrupt_id] = self.reader.resume_value(w, request)
        ids = [w.request.id for w in waiting]
        return ResumePlan(
            values=values,
            waiting=ids,
            orphans=[r for r in answered if r not in ids],
            unsaved=[w.request for w in waiting if stored[w.request.id] is None],
        )

    def _opening(self, info: RunInfo, existing: RunRecord | None) -> tuple[RunRecord, int]:
        """The first save of a run (or of a completed thread's next turn), and the stored
        version it must find."""
        if existing is None:
            return self._record(info, RunStatus.RUNNING), 0
        if existing.status is not RunStatus.COMPLETED or existing.adapter != ADAPTER:
            raise RunExists(info.thread_id, existing.status.value)
        return self._record(info, RunStatus.RUNNING), existing.version

    def _record(self, info: RunInfo, status: RunStatus) -> RunRecord:
        now = self.io.clock.now()
        return RunRecord(
            run_id=info.thread_id,
            adapter=ADAPTER,
            status=status,
            state=info.model_dump_json(),
            created_at=now,
            updated_at=now,
        )

    def _status(
        self, info: RunInfo, snapshot: StateSnapshot, waiting: list[Waiting], before: list[str]
    ) -> tuple[RunStatus, list[str]]:
        """The run's status and the requests this pass applied (to be marked resumed)."""
        if not waiting and snapshot.next:
            raise AdapterError(
                f"Thread {info.thread_id} stopped before {', '.join(snapshot.next)} without an "
                "interrupt (a static breakpoint?). The runner pauses on interrupts only; "
                "compile the graph without interrupt_before/interrupt_after."
            )
        still = {w.request.id for w in waiting}
        applied = [r for r in before if r not in still]
        return (RunStatus.PAUSED if waiting else RunStatus.COMPLETED), applied

    @staticmethod
    def _through(values: Mapping[str, Any]) -> Command[Any]:
        """Resume the interrupts the policy lets through without a human."""
        return Command(resume=dict(values))

    @staticmethod
    def _paused(info: RunInfo, waiting: list[Waiting], requests: list[ApprovalRequest]) -> Paused:
        return Paused(info.thread_id, requests, [w.interrupt_id for w in waiting])

    @staticmethod
    def _completed(info: RunInfo, snapshot: StateSnapshot) -> Completed:
        values = snapshot.values
        messages = values.get("messages") if isinstance(values, Mapping) else None
        output = None
        if isinstance(messages, list):
            final = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
            output = str(final.text) if final is not None else None
        return Completed(info.thread_id, values, output)

    @staticmethod
    def _modes(modes: Modes) -> list[StreamMode]:
        return [modes] if isinstance(modes, str) else list(modes)


def paused_info(record: RunRecord) -> RunInfo:
    """The stored run, if this adapter can resume it now.

    Raises:
        InvalidRunState: another adapter's run, or an unreadable snapshot.
        RunNotPaused: the run completed, failed, was cancelled or is running.
    """
    if record.adapter != ADAPTER:
        raise InvalidRunState(record.run_id, f"it was paused by {record.adapter}, not {ADAPTER}")
    if record.status is not RunStatus.PAUSED:
        raise RunNotPaused(record.run_id, record.status.value)
    return RunInfo.load(record.run_id, record.state)


def last(items: Iterator[StreamItem]) -> Outcome:
    """Drain a run's stream; its outcome."""
    item: StreamItem | None = None
    for item in items:  # noqa: B007 - drained for its last item
        pass
    assert isinstance(item, Paused | Completed), "a run always ends with its outcome"
    return item


async def alast(items: AsyncIterator[StreamItem]) -> Outcome:
    """Async twin of `last`."""
    item: StreamItem | None = None
    async for item in items:  # noqa: B007
        pass
    assert isinstance(item, Paused | Completed), "a run always ends with its outcome"
    return item
