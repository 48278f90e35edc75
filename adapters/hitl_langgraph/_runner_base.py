"""What the runner's sync and async halves share: everything but the I/O.

Deciding what to resume, with which values, and what the next save holds are pure
functions of the paused graph's interrupts and the stored requests, so the two halves
differ only in whether they await.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import Command, StateSnapshot, StreamMode

from hitl_core.calls import DEFAULT_LEASE, AsyncRunPass, CallLedger, RunPass
from hitl_core.calls.binding import reviewed_mismatch
from hitl_core.errors import AdapterError, CallRefused
from hitl_core.policy import Policy
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import RunStatus
from hitl_core.stores.awaitable import AnyStore, AwaitableStore
from hitl_langgraph.active import PAUSES, sync_of
from hitl_langgraph.codec import InterruptCodec
from hitl_langgraph.errors import NoCheckpointer, NoThreadId
from hitl_langgraph.outcomes import Completed, Outcome, Paused, RunInfo, StreamItem
from hitl_langgraph.pending import Reader, Waiting, is_settled
from hitl_langgraph.scope import ADAPTER, CONTEXT_KEY, RUNNER_KEY

__all__ = ["Modes", "ResumePlan", "RunnerBase", "alast", "last"]

Modes = StreamMode | Sequence[StreamMode]


@dataclass
class ResumePlan:
    """What one resume pass does."""

    values: dict[str, Any] = field(default_factory=dict)
    """Interrupt id -> resume value, for every interrupt whose request is settled."""
    waiting: list[Waiting] = field(default_factory=list)
    """The interrupts still waiting on a person, in call order."""

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
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        if graph.checkpointer in (None, False, True):
            raise NoCheckpointer(graph.name)
        self.graph = graph
        self.store = store
        self.io = AwaitableStore(store)
        self.policy = policy
        self.reader = Reader(codec, policy)
        self.sequential = sequential
        self.base_config: RunnableConfig = config or {}
        self.lease = lease

    def _pass(self, thread_id: str, **options: Any) -> RunPass:
        return RunPass(sync_of(self.io), thread_id, **self._options(options))

    def _apass(self, thread_id: str, **options: Any) -> AsyncRunPass:
        return AsyncRunPass(self.io, thread_id, **self._options(options))

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {
            "adapter": ADAPTER,
            "policy": self.policy,
            "ttl": self.lease,
            "ask_human": False,
            "pauses": PAUSES,
            "reraise": True,
            **options,
        }

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

    def _read(self, info: RunInfo, snapshot: StateSnapshot) -> list[Waiting]:
        return self.reader.read(
            info.thread_id, snapshot.interrupts, info.context, self.io.clock.now()
        )

    def _plan(
        self,
        info: RunInfo,
        waiting: list[Waiting],
        stored: Mapping[str, ApprovalRequest | None],
        ledger: CallLedger,
    ) -> ResumePlan:
        """Resume values for the settled interrupts; unsaved requests join the next save.

        Raises:
            CallRefused: a codec interrupt no longer asks about the call its request reviewed.
        """
        plan = ResumePlan()
        for w in waiting:
            request = stored[w.request.id]
            if request is None:  # raised by a pass that crashed before its save
                _add_new(ledger, w.request)
                plan.waiting.append(w)
                continue
            if w.call is not None:
                problem = reviewed_mismatch(w.call.tool, w.call.args, w.call.call_id, request)
                if problem is not None:
                    raise CallRefused(
                        info.thread_id, w.call.call_id, request.id, problem, w.call.tool
                    )
            if is_settled(request):
                plan.values[w.interrupt_id] = self.reader.resume_value(w, request)
                if w.call is not None and request.is_answered:
                    ledger.applied.append(request.id)  # the graph's own node applies it now
            else:
                plan.waiting.append(w)
        return plan

    @staticmethod
    def _orphans(ledger: CallLedger, answered: Sequence[str], waiting: list[Waiting]) -> None:
        """Answered requests no interrupt waits on any more are applied: a pass that applied
        them crashed before its save, so they are marked resumed with this one."""
        waited = {w.request.id for w in waiting}
        for request_id in answered:
            if request_id not in waited and request_id not in ledger.applied:
                ledger.applied.append(request_id)

    @staticmethod
    def _stopped(
        info: RunInfo,
        snapshot: StateSnapshot,
        waiting: list[Waiting],
        stored: Mapping[str, ApprovalRequest | None],
        ledger: CallLedger,
    ) -> RunStatus:
        """Where the run stopped; codec requests it raised now join the save."""
        if not waiting and snapshot.next:
            raise AdapterError(
                f"Thread {info.thread_id} stopped before {', '.join(snapshot.next)} without an "
                "interrupt (a static breakpoint?). The runner pauses on interrupts only; "
                "compile the graph without interrupt_before/interrupt_after."
            )
        for w in waiting:
            if stored.get(w.request.id) is None:
                _add_new(ledger, w.request)
        return RunStatus.PAUSED if waiting else RunStatus.COMPLETED

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


def _add_new(ledger: CallLedger, request: ApprovalRequest) -> None:
    if all(r.id != request.id for r in ledger.new_requests):
        ledger.new_requests.append(request)


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
