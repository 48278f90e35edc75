"""`ApprovalRunner`: drive a compiled graph through pauses, with the core store as the ledger.

The graph's state lives in its checkpointer; the runner keeps the store in step with it.
After every run it saves the run record, the requests the graph just raised and the
requests it just applied (marked resumed) in one `save_run`, so pending work is listable
without loading a graph. `resume` reads recorded decisions from the store, passes each
to its interrupt with ``Command(resume={interrupt_id: value})`` and runs the graph on;
interrupts nobody has decided stay pending. The ``a`` twins are in `runner_aio`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from hitl_core.errors import UnknownRequest, UnknownRun
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import RunRecord, RunStatus
from hitl_langgraph._runner_base import Modes, last, paused_info
from hitl_langgraph.outcomes import Chunk, Outcome, RunInfo, StreamItem
from hitl_langgraph.pending import bind_all
from hitl_langgraph.runner_aio import AsyncRuns

__all__ = ["ApprovalRunner"]


class ApprovalRunner(AsyncRuns):
    """Starts and resumes runs of one compiled graph; any process can resume any run.

    Args:
        graph: a compiled graph with a checkpointer, gated by `HumanApprovalMiddleware`,
            `ApprovalToolNode` or `approval_gate`, or calling `interrupt()` itself.
        store: the approval store; `AsyncPostgresStore` works with the ``a`` methods only.
        codec: reads interrupts the graph raises with its own payload (`Codec`).
        policy: gates codec interrupts; one it does not gate is approved without a human.
        sequential: run a step's tasks one at a time, in order (``max_concurrency=1``),
            so the tool calls of a turn run and are recorded in the order the model made
            them, as in every other adapter. False lets LangGraph run them in parallel.
        config: a base config for every run (``recursion_limit``, callbacks...).

    Raises:
        NoCheckpointer: the graph was compiled without a checkpointer.
    """

    def start(
        self, input: Any, *, thread_id: str, context: Mapping[str, Any] | None = None
    ) -> Outcome:
        """Run the graph on `input` under `thread_id` until it ends or pauses on people.

        A completed thread may be started again (the next turn of a conversation).

        Args:
            input: the graph's input, e.g. ``{"messages": [...]}``.
            thread_id: the LangGraph thread; also the run id of its requests.
            context: facts for predicates (``ctx(...)``) and reviewers, kept for resumes.

        Raises:
            NoThreadId: `thread_id` is empty.
            RunExists: the thread is paused (resume it), running, failed or cancelled.
        """
        return last(self.stream(input, thread_id=thread_id, context=context))

    def stream(
        self,
        input: Any,
        *,
        thread_id: str,
        context: Mapping[str, Any] | None = None,
        stream_mode: Modes = "updates",
    ) -> Iterator[StreamItem]:
        """`start`, yielding LangGraph's chunks as they come and the outcome last.

        The pending requests are saved only once the stream is drained. A resumed stream
        first replays the writes of tasks that finished before the pause, marked
        ``{"__metadata__": {"cached": True}}`` in ``updates`` chunks.
        """
        info = self._info(thread_id, context)
        store = self.io.sync
        try:
            existing: RunRecord | None = store.load_run(info.thread_id)
        except UnknownRun:
            existing = None
        record, expected = self._opening(info, existing)
        version = store.save_run(record, expected_version=expected).version
        yield from self._drive(input, info, version, [], stream_mode)

    def resume(
        self, thread_id: str, decisions: Mapping[str, Any] | None = None, *, by: str | None = None
    ) -> Outcome:
        """Apply the recorded decisions and run on; undecided interrupts stay pending.

        Due requests take their expiry outcome first.

        Args:
            thread_id: the run to resume.
            decisions: optional decisions to record first, keyed by interrupt id or
                request id: `Decision`s, their JSON, or LangChain decision payloads. All
                are checked before any is recorded.
            by: the authenticated reviewer, for payloads that carry no identity.

        Raises:
            UnknownRun / RunNotPaused / InvalidRunState: nothing to resume.
            UnknownInterrupt, InvalidInput, StateConflict: a decision was refused; nothing
                was recorded or run, and every interrupt is still pending.
        """
        return last(self.stream_resume(thread_id, decisions, by=by))

    def stream_resume(
        self,
        thread_id: str,
        decisions: Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
        stream_mode: Modes = "updates",
    ) -> Iterator[StreamItem]:
        """`resume`, yielding as `stream` does."""
        store = self.io.sync
        record = store.load_run(thread_id)
        info = paused_info(record)
        waiting, through = self._read(info, self.graph.get_state(self._config(info)))
        if decisions:
            known = {w.request.id: self._stored(w.request) or w.request for w in waiting}
            for request_id, decision in bind_all(
                thread_id, waiting, known, decisions, by=by, now=store.clock.now()
            ):
                store.decide(request_id, decision)
        store.expire_due(run_id=thread_id)
        stored = {w.request.id: self._stored(w.request) for w in waiting}
        plan = self._plan(waiting, stored, through, self.io.answered(thread_id))
        if plan.idle:
            if plan.unsaved or plan.orphans:  # repair what a crashed pass left behind
                again = self._record(info, RunStatus.PAUSED)
                store.save_run(
                    again, plan.unsaved, resumed=plan.orphans, expected_version=record.version
                )
            yield self._paused(info, waiting, [stored[w.request.id] or w.request for w in waiting])
            return
        yield from self._drive(plan.command, info, record.version, plan.before, stream_mode)

    def _drive(
        self, input: Any, info: RunInfo, version: int, before: list[str], modes: Modes
    ) -> Iterator[StreamItem]:
        """Run until the graph ends or waits on people, then save the run where it stopped."""
        config, store = self._config(info), self.io.sync
        while True:
            for mode, data in self.graph.stream(input, config, stream_mode=self._modes(modes)):
                yield Chunk(mode, data)
            snapshot = self.graph.get_state(config)
            waiting, through = self._read(info, snapshot)
            if not through:
                break
            input = self._through(through)
        new = [w.request for w in waiting if self._stored(w.request) is None]
        status, applied = self._status(info, snapshot, waiting, before)
        store.save_run(self._record(info, status), new, resumed=applied, expected_version=version)
        if waiting:
            yield self._paused(info, waiting, [store.get(w.request.id) for w in waiting])
        else:
            yield self._completed(info, snapshot)

    def _stored(self, request: ApprovalRequest) -> ApprovalRequest | None:
        try:
            return self.io.sync.get(request.id)
        except UnknownRequest:
            return None
