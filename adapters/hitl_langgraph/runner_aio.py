"""The runner's async half: `astart`, `aresume`, `astream`, `astream_resume`, `aretry`.

Twin of the sync methods in `hitl_langgraph.runner`, for graphs run with ``ainvoke`` /
``astream``: the graph's ``a`` methods are awaited, and so is the store when it is
`AsyncPostgresStore` (memory and SQLite stores are called directly).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from hitl_core.calls import AsyncRunPass, CallLedger
from hitl_core.errors import UnknownRequest
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import Lease, RunStatus
from hitl_core.stores.awaitable import AwaitableStore
from hitl_langgraph._runner_base import Modes, RunnerBase, alast
from hitl_langgraph.active import runner_active
from hitl_langgraph.outcomes import Chunk, Outcome, RunInfo, StreamItem
from hitl_langgraph.pending import bind_all

__all__ = ["AsyncRuns"]


class AsyncRuns(RunnerBase):
    """The ``a`` methods of `ApprovalRunner`."""

    async def astart(
        self, input: Any, *, thread_id: str, context: Mapping[str, Any] | None = None
    ) -> Outcome:
        """Async twin of `ApprovalRunner.start`."""
        return await alast(self.astream(input, thread_id=thread_id, context=context))

    async def astream(
        self,
        input: Any,
        *,
        thread_id: str,
        context: Mapping[str, Any] | None = None,
        stream_mode: Modes = "updates",
    ) -> AsyncIterator[StreamItem]:
        """Async twin of `ApprovalRunner.stream`."""
        info = self._info(thread_id, context)
        async with self._apass(info.thread_id) as run:
            await run.acreate(info.model_dump_json(), info.context, again=True)
            ledger = await run.acalls(info.context)
            async for item in self._adrive(input, info, run, ledger, stream_mode):
                yield item

    async def aresume(
        self,
        thread_id: str,
        decisions: Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
        roles: Sequence[str] = (),
        lease: Lease | None = None,
        wait: float | None = None,
    ) -> Outcome:
        """Async twin of `ApprovalRunner.resume`."""
        return await alast(self.astream_resume(thread_id, decisions, by=by, lease=lease, wait=wait))

    async def astream_resume(
        self,
        thread_id: str,
        decisions: Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
        roles: Sequence[str] = (),
        stream_mode: Modes = "updates",
        lease: Lease | None = None,
        wait: float | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Async twin of `ApprovalRunner.stream_resume`."""
        async with self._apass(thread_id, lease=lease, wait=wait) as run:
            io = run.store
            info = RunInfo.load(thread_id, (await run.aload()).state)
            waiting = self._read(info, await self.graph.aget_state(self._config(info)))
            if decisions:
                known = {w.request.id: await _astored(io, w.request) or w.request for w in waiting}
                for request_id, decision in bind_all(
                    thread_id, waiting, known, decisions, by=by, roles=roles, now=io.clock.now()
                ):
                    await io.adecide(request_id, decision, roles=roles)
            ledger = await run.acalls(info.context)
            stored = {w.request.id: await _astored(io, w.request) for w in waiting}
            plan = self._plan(info, waiting, stored, ledger)
            answered = [r.id for r in await io.aanswered(thread_id)]
            self._orphans(ledger, answered, waiting)
            if plan.idle:
                if ledger.new_requests or ledger.applied:  # repair what a crashed pass left
                    await run.asave(RunStatus.PAUSED, info.model_dump_json())
                requests = [stored[w.request.id] or w.request for w in waiting]
                yield self._paused(info, waiting, requests)
                return
            async for item in self._adrive(plan.command, info, run, ledger, stream_mode):
                yield item

    async def aretry(self, thread_id: str, *, by: str) -> Outcome:
        """Async twin of `ApprovalRunner.retry`."""
        await self.io.aretry_run(thread_id, by=by)
        return await self.aresume(thread_id)

    async def _adrive(
        self, input: Any, info: RunInfo, run: AsyncRunPass, ledger: CallLedger, modes: Modes
    ) -> AsyncIterator[StreamItem]:
        """Async twin of `ApprovalRunner._drive`."""
        config, io = self._config(info), run.store
        chunks = self.graph.astream(input, config, stream_mode=self._modes(modes)).__aiter__()
        while True:
            with runner_active(ledger, self.io):
                try:
                    mode, data = await chunks.__anext__()
                except StopAsyncIteration:
                    break
            yield Chunk(mode, data)
        snapshot = await self.graph.aget_state(config)
        waiting = self._read(info, snapshot)
        stored = {w.request.id: await _astored(io, w.request) for w in waiting}
        status = self._stopped(info, snapshot, waiting, stored, ledger)
        await run.asave(status, info.model_dump_json())
        if waiting:
            yield self._paused(info, waiting, [await io.aget(w.request.id) for w in waiting])
        else:
            yield self._completed(info, snapshot)


async def _astored(io: AwaitableStore, request: ApprovalRequest) -> ApprovalRequest | None:
    try:
        return await io.aget(request.id)
    except UnknownRequest:
        return None
