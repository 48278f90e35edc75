"""`ApprovalRunner`: drive a compiled graph through pauses, with the core store as the ledger.

The graph's state lives in its checkpointer; the runner keeps the store in step with it.
Every start and resume is a core `RunPass`: it holds the run's lease (a second resume of
the same thread gets `RunBusy`), gives the graph's gates the pass's `CallLedger`, and
after the graph stops saves the run record, the requests the graph just raised and the
requests it just applied (marked resumed) in one `save_run`. `resume` reads recorded
decisions from the store and passes each to its interrupt with
``Command(resume={interrupt_id: value})``; interrupts nobody has decided stay pending.
The ``a`` twins are in `runner_aio`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from hitl_core.calls import CallLedger, RunPass
from hitl_core.errors import UnknownRequest
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores import ApprovalStore, Lease, RunStatus
from hitl_langgraph._runner_base import Modes, last
from hitl_langgraph.active import runner_active, sync_of
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
        policy: the terms of codec interrupts' requests (who may decide, which kinds,
            how long); the graph's own interrupts always wait for a person.
        sequential: run a step's tasks one at a time, in order (``max_concurrency=1``),
            so the tool calls of a turn run and are recorded in the order the model made
            them, as in every other adapter. False lets LangGraph run them in parallel.
        config: a base config for every run (``recursion_limit``, callbacks...).
        lease: how long a pass holds the thread between renewals.

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
            RunBusy: another pass holds the thread.
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
        with self._pass(info.thread_id) as run:
            run.create(info.model_dump_json(), info.context, again=True)
            ledger = run.calls(info.context)
            yield from self._drive(input, info, run, ledger, stream_mode)

    def resume(
        self,
        thread_id: str,
        decisions: Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
        roles: Sequence[str] = (),
        lease: Lease | None = None,
        wait: float | None = None,
    ) -> Outcome:
        """Apply the recorded decisions and run on; undecided interrupts stay pending.

        Due requests take their expiry outcome first.

        Args:
            thread_id: the run to resume.
            decisions: optional decisions to record first, keyed by interrupt id or
                request id: `Decision`s, their JSON, or LangChain decision payloads. All
                are checked (who may decide included) before any is recorded.
            by: the authenticated reviewer, for payloads that carry no identity.
            roles: that reviewer's roles, as authenticated, for rules that name roles.
            lease: a lease on the thread already taken (a worker's claim).
            wait: seconds to wait for another pass's lease to end (default: none).

        Raises:
            UnknownRun / RunNotPaused / InvalidRunState: nothing to resume.
            RunBusy: another pass holds the thread; nothing was done.
            UnknownInterrupt, InvalidInput, StateConflict, NotAuthorized: a decision was
                refused; nothing was recorded or run, and every interrupt is still pending.
        """
        return last(
            self.stream_resume(thread_id, decisions, by=by, roles=roles, lease=lease, wait=wait)
        )

    def stream_resume(
        self,
        thread_id: str,
        decisions: Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
        roles: Sequence[str] = (),
        stream_mode: Modes = "updates",
        lease: Lease | None = None,
        wait: float | None = None,
    ) -> Iterator[StreamItem]:
        """`resume`, yielding as `stream` does."""
        with self._pass(thread_id, lease=lease, wait=wait) as run:
            store = run.store
            info = RunInfo.load(thread_id, run.load().state)
            waiting = self._read(info, self.graph.get_state(self._config(info)))
            if decisions:
                known = {w.request.id: _stored(store, w.request) or w.request for w in waiting}
                for request_id, decision in bind_all(
                    thread_id, waiting, known, decisions, by=by, roles=roles, now=store.clock.now()
                ):
                    store.decide(request_id, decision, roles=roles)
            ledger = run.calls(info.context)
            stored = {w.request.id: _stored(store, w.request) for w in waiting}
            plan = self._plan(info, waiting, stored, ledger)
            self._orphans(ledger, _answered(store, thread_id), waiting)
            if plan.idle:
                if ledger.new_requests or ledger.applied:  # repair what a crashed pass left
                    run.save(RunStatus.PAUSED, info.model_dump_json())
                requests = [stored[w.request.id] or w.request for w in waiting]
                yield self._paused(info, waiting, requests)
                return
            yield from self._drive(plan.command, info, run, ledger, stream_mode)

    def retry(self, thread_id: str, *, by: str) -> Outcome:
        """Reopen a failed run and resume it (calls that ran are answered from the ledger).

        Raises:
            RunNotFailed: the run did not fail; UnknownRun: there is no such run.
        """
        self._sync().retry_run(thread_id, by=by)
        return self.resume(thread_id)

    def _drive(
        self, input: Any, info: RunInfo, run: RunPass, ledger: CallLedger, modes: Modes
    ) -> Iterator[StreamItem]:
        """Run until the graph ends or waits on people, then save the run where it stopped."""
        config, store = self._config(info), run.store
        chunks = self.graph.stream(input, config, stream_mode=self._modes(modes))
        while True:
            with runner_active(ledger, self.io):  # only while the graph runs, not between
                item = next(chunks, None)
            if item is None:
                break
            mode, data = item
            yield Chunk(mode, data)
        snapshot = self.graph.get_state(config)
        waiting = self._read(info, snapshot)
        stored = {w.request.id: _stored(store, w.request) for w in waiting}
        status = self._stopped(info, snapshot, waiting, stored, ledger)
        run.save(status, info.model_dump_json())
        if waiting:
            yield self._paused(info, waiting, [store.get(w.request.id) for w in waiting])
        else:
            yield self._completed(info, snapshot)

    def _sync(self) -> ApprovalStore:
        return sync_of(self.io)


def _stored(store: ApprovalStore, request: ApprovalRequest) -> ApprovalRequest | None:
    try:
        return store.get(request.id)
    except UnknownRequest:
        return None


def _answered(store: ApprovalStore, run_id: str) -> list[str]:
    """The ids of the run's requests that are decided or expired but not yet applied."""
    ids: list[str] = []
    for status in (RequestStatus.DECIDED, RequestStatus.EXPIRED):
        cursor: str | None = None
        while True:
            page = store.list_requests(run_id=run_id, status=status, limit=500, cursor=cursor)
            ids += [r.id for r in page.items]
            if (cursor := page.next_cursor) is None:
                break
    return ids
