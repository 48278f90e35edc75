"""Move 2, suspend + persist: the run's record and its new requests, written in one transaction.

A paused run is the SDK's own state (`snapshot.write_state`) plus one `ApprovalRequest`
per ``ToolApprovalItem``, saved by a single ``store.save_run``, which also marks the
requests this pass applied as resumed. A crash leaves either all of it or none of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agents import ToolApprovalItem

from hitl_core.actions import ProposedAction
from hitl_core.errors import InvalidRunState, RunNotPaused
from hitl_core.identity import request_id
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import RunRecord, RunStatus
from hitl_openai_agents.gate import ApprovalGate, arguments_of, schema_of
from hitl_openai_agents.outcomes import Paused
from hitl_openai_agents.scope import ADAPTER
from hitl_openai_agents.snapshot import call_id_of
from hitl_openai_agents.stores import StoreView

__all__ = ["ADAPTER", "load", "new_request", "save", "suspend"]


async def load(store: StoreView, run_id: str, *, paused: bool) -> RunRecord:
    """The run's stored record, checked to be this adapter's (and paused, if asked).

    Raises:
        UnknownRun: nothing is stored under `run_id`.
        InvalidRunState: another adapter paused it.
        RunNotPaused: `paused` and the run is not.
    """
    record = await store.aload_run(run_id)
    if record.adapter != ADAPTER:
        raise InvalidRunState(run_id, f"it was paused by {record.adapter}, not {ADAPTER}")
    if paused and record.status is not RunStatus.PAUSED:
        raise RunNotPaused(run_id, record.status.value)
    return record


async def save(
    store: StoreView,
    run_id: str,
    status: RunStatus,
    state: str,
    expected_version: int,
    requests: Sequence[ApprovalRequest] = (),
    applied: Sequence[str] = (),
) -> RunRecord:
    """Write the run's record, put `requests` and mark `applied` resumed, in one transaction.

    Raises:
        RunChanged: another process saved the run since `expected_version`; nothing written.
    """
    now = store.clock.now()
    record = RunRecord(
        run_id=run_id, adapter=ADAPTER, status=status, state=state, created_at=now, updated_at=now
    )
    return await store.asave_run(
        record, requests, resumed=applied, expected_version=expected_version
    )


def new_request(
    gate: ApprovalGate,
    store: StoreView,
    run_id: str,
    item: ToolApprovalItem,
    context: Mapping[str, Any],
) -> ApprovalRequest:
    """The pending request a human will decide for `item`, on the gate's terms."""
    tool, args = item.tool_name or "", arguments_of(item.arguments)
    verdict = gate.verdict(tool, args, context)
    return ApprovalRequest.create(
        run_id=run_id,
        adapter=ADAPTER,
        action=ProposedAction(
            tool=tool, args=args, call_id=call_id_of(item), args_schema=schema_of(item.agent, tool)
        ),
        reason=verdict.reason,
        allowed=verdict.allowed,
        context=context,
        now=store.clock.now(),
        expires_in=verdict.expires_in,
        on_expiry=verdict.on_expiry,
    )


async def suspend(
    gate: ApprovalGate,
    store: StoreView,
    record: RunRecord,
    state: str,
    items: Sequence[ToolApprovalItem],
    context: Mapping[str, Any],
    applied: Sequence[str],
    known: set[str],
) -> Paused:
    """Save the paused run with a request for each call it waits on that has none yet.

    `known` are the ids of requests already stored (still pending from an earlier pause).
    """
    run_id = record.run_id
    ids = [request_id(run_id, call_id_of(i)) for i in items]
    new = {
        rid: new_request(gate, store, run_id, item, context)
        for rid, item in zip(ids, items, strict=True)
        if rid not in known
    }
    await save(store, run_id, RunStatus.PAUSED, state, record.version, [*new.values()], applied)
    # New requests are stored exactly as created; older ones are read for their status.
    pending = [new[rid] if rid in new else await store.aget(rid) for rid in ids]
    return Paused(run_id=run_id, requests=pending)
