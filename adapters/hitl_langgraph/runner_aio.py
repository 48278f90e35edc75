"""The runner's async half: `astart`, `aresume`, `astream`, `astream_resume`.

Twin of the sync methods in `hitl_langgraph.runner`, for graphs run with ``ainvoke`` /
``astream``: the graph's ``a`` methods are awaited, and so is the store when it is
`AsyncPostgresStore` (memory and SQLite stores are called directly).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from hitl_core.errors import UnknownRequest, UnknownRun
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import RunRecord, RunStatus
from hitl_langgraph._runner_base import Modes, RunnerBase, alast, paused_info
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
        try:
            existing: RunRecord | None = await self.io.aload_run(info.thread_id)
        except UnknownRun:
            existing = None
        record, expected = self._opening(info, existing)
        version = (await self.io.asave_run(record, expected_version=expected)).version
        async for item in self._adrive(input, info, version, [], stream_mode):
            yield item

    async def aresume(
        self, thread_id: str, decisions: Mapping[str, Any] | None = None, *, by: str | None = None
    ) -> Outcome:
        """Async twin of `ApprovalRunner.resume`."""
        return await alast(self.astream_resume(thread_id, decisions, by=by))

    async def astream_resume(
        self,
        thread_id: str,
        decisions: Mapping[str, Any] | None = None,
        *,
        by: str | None = None,
        stream_mode: Modes = "updates",
    ) -> AsyncIterator[StreamItem]:
        """Async twin of `ApprovalRunner.stream_resume`."""
        io = self.io
        record = await io.aload_run(thread_id)
        info = paused_info(record)
        waiting, through = self._read(info, await self.graph.aget_state(self._config(info)))
        if decisions:
            known = {w.request.id: await self._aknown(w.request) for w in waiting}
            for request_id, decision in bind_all(
                thread_id, waiting, known, decisions, by=by, now=io.clock.now()
            ):
                await io.adecide(request_id, decision)
        await io.aexpire_due(run_id=thread_id)
        stored = {w.request.id: await self._astored(w.request) for w in waiting}
        plan = self._plan(waiting, stored, through, await io.aanswered_ids(thread_id))
        if plan.idle:
            if plan.unsaved or plan.orphans:  # repair what a crashed pass left behind
                again = self._record(info, RunStatus.PAUSED)
                await io.asave_run(
                    again, plan.unsaved, resumed=plan.orphans, expected_version=record.version
                )
            yield self._paused(info, waiting, [stored[w.request.id] or w.request for w in waiting])
            return
        async for item in self._adrive(
            plan.command, info, record.version, plan.before, stream_mode
        ):
            yield item

    async def _adrive(
        self, input: Any, info: RunInfo, version: int, before: list[str], modes: Modes
    ) -> AsyncIterator[StreamItem]:
        """Async twin of `ApprovalRunner._drive`."""
        config, io = self._config(info), self.io
        while True:
            async for mode, data in self.graph.astream(
                input, config, stream_mode=self._modes(modes)
            ):
                yield Chunk(mode, data)
            snapshot = await self.graph.aget_state(config)
            waiting, through = self._read(info, snapshot)
            if not through:
                break
            input = self._through(through)
        new = [w.request for w in waiting if await self._astored(w.request) is None]
        status, applied = self._status(info, snapshot, waiting, before)
        record = self._record(info, status)
        await io.asave_run(record, new, resumed=applied, expected_version=version)
        if waiting:
            yield self._paused(info, waiting, [await io.aget(w.request.id) for w in waiting])
        else:
            yield self._completed(info, snapshot)

    async def _astored(self, request: ApprovalRequest) -> ApprovalRequest | None:
        try:
            return await self.io.aget(request.id)
        except UnknownRequest:
            return None

    async def _aknown(self, request: ApprovalRequest) -> ApprovalRequest:
        """The stored request, or the raised one if a crash kept it from being saved."""
        return await self._astored(request) or request
