"""`CallLedger`: the life of every call of one run, from verdict to recorded result, once.

For each call the framework proposes, `step` says what happens next, in this order:

1. The ledger line, if the call has one: an executed (or abandoned) call is answered from
   its record and never runs again; a claim a crash left unsettled becomes an unknown
   outcome with a request for a person (or is retried, for an idempotent tool); an unknown
   outcome follows its person's decision.
2. A call that cannot run at all (`GatedCall.problem`) is answered with the problem.
3. The stored request, if the call was reviewed: its decision applies, whatever the policy
   says now, and only if the call is exactly the one reviewed (otherwise `CallRefused`).
4. The verdict: the policy, the framework's or author's own flag, and `ask_human`. A gate
   is only ever added: a call the author flagged pauses whatever the policy says.

`run` then claims the call in the store (under the run's lease), runs the tool, and records
what came of it, with the texts the model reads (`hitl_core.outcomes`). The logic is
written once as generators (`hitl_core.calls.ops`); `step`/`run` drive them on a sync
store and `astep`/`arun` await them.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from hitl_core.actions import ProposedAction
from hitl_core.calls.binding import reviewed_mismatch, run_mismatch
from hitl_core.calls.model import Answer, CallInfo, Executed, GatedCall, Ran, Run, Step, Wait
from hitl_core.calls.ops import Claim, Expire, Find, Invoke, Op, Put, Settle, adrive, drive
from hitl_core.calls.verdicts import request_for, verdict_for
from hitl_core.clock import Clock
from hitl_core.decisions import Approve, DecisionKind, Edit, Respond
from hitl_core.errors import CallRefused, LeaseLost
from hitl_core.identity import args_digest, request_id
from hitl_core.outcomes import (
    RunTool,
    abandoned_text,
    cancelled_text,
    resolve,
    tool_failed_text,
    tool_result,
    unknown_outcome_reason,
)
from hitl_core.policy import Policy, Verdict
from hitl_core.requests import ApprovalRequest, RequestStatus
from hitl_core.stores.awaitable import AwaitableStore
from hitl_core.stores.base import ApprovalStore
from hitl_core.stores.calls import CallRecord, CallStatus, idempotency_key
from hitl_core.stores.leases import Lease

__all__ = ["RECOVERY_ALLOWED", "CallLedger"]

RECOVERY_ALLOWED: tuple[DecisionKind, ...] = ("approve", "respond", "reject")
"""An unknown outcome is retried (approve), marked done with a result (respond), or
abandoned (reject); there is nothing to edit."""

Logic = Generator[Op, Any, Any]


class CallLedger:
    """Every call of one run during one pass, under the run's lease.

    Args:
        run_id: the run (the root run, for sub-agents' calls too).
        adapter: the adapter's name, recorded on requests and ledger lines.
        policy: which calls need a human (None: only those the framework flags).
        lease: the run's lease; every claim and settle carries its fencing token.
        clock: the store's clock.
        records: the run's ledger lines when the pass began (`store.calls(run_id)`).
        context: the run's context, for predicates and reviewers.
        ask_human: calls to ``ask_human`` are questions for a person.
        eager: store new requests at once (graphs run without a runner); otherwise they
            are collected in `new_requests` for the adapter's next save.
        pauses: exception types by which a tool pauses on a person itself (LangGraph's
            interrupts): the attempt is suspended, not failed, and runs again on resume.
        reraise: after recording a tool's failure, raise its exception again (for
            frameworks that handle tool errors themselves); otherwise the model is told.
    """

    def __init__(
        self,
        *,
        run_id: str,
        adapter: str,
        policy: Policy | None,
        lease: Lease,
        clock: Clock,
        records: dict[str, CallRecord],
        context: dict[str, Any] | None = None,
        ask_human: bool = True,
        eager: bool = False,
        pauses: tuple[type[BaseException], ...] = (),
        reraise: bool = False,
    ) -> None:
        self.run_id = run_id
        self.adapter = adapter
        self.policy = policy or Policy()
        self.lease = lease
        self.clock = clock
        self.records = records
        self.context = dict(context or {})
        self.ask_human = ask_human
        self.eager = eager
        self.pauses = pauses
        self.reraise = reraise
        self.new_requests: list[ApprovalRequest] = []
        """Requests raised this pass, for the adapter's next save (unless `eager`)."""
        self.applied: list[str] = []
        """Answered requests whose decisions this pass applied: marked resumed at the save."""

    def scoped(self, *, policy: Policy | None, ask_human: bool) -> CallLedger:
        """This ledger as a sub-agent with its own policy sees it: the same lines, the
        same lease, the same requests raised and applied."""
        view = copy.copy(self)
        view.policy = policy or Policy()
        view.ask_human = ask_human
        return view

    # -- the faces --------------------------------------------------------------------

    def step(self, call: GatedCall, store: ApprovalStore) -> Step:
        """What happens next to `call` (see the module docstring).

        Raises:
            CallRefused: the call is not the one its request reviewed; nothing ran.
            LeaseLost: the run was taken over; nothing was written.
        """
        result: Step = drive(self._step(call), store)
        return result

    async def astep(self, call: GatedCall, store: AwaitableStore) -> Step:
        """Async twin of `step`."""
        result: Step = await adrive(self._step(call), store)
        return result

    def run(
        self, step: Run, invoke: Callable[[dict[str, Any]], Executed], store: ApprovalStore
    ) -> Ran:
        """Claim the call, run it with `invoke(step.args)`, record what came of it.

        Raises:
            CallRefused: what would run is not what was reviewed; nothing ran.
            LeaseLost: the run was taken over before the claim; nothing ran.
            Whatever the tool raised, with `reraise` (after its failure is recorded).
        """
        result: Ran = drive(
            self._run(step, Invoke(step.args, self._info(step), sync=invoke)), store
        )
        return result

    async def arun(
        self,
        step: Run,
        invoke: Callable[[dict[str, Any]], Awaitable[Executed]],
        store: AwaitableStore,
    ) -> Ran:
        """Async twin of `run`."""
        op = Invoke(step.args, self._info(step), asynchronous=invoke)
        result: Ran = await adrive(self._run(step, op), store)
        return result

    def verdict(self, call: GatedCall) -> Verdict:
        """Whether `call` needs a person, on what terms (`verdicts.verdict_for`)."""
        return verdict_for(self.policy, call, self.context, ask_human=self.ask_human)

    # -- step ---------------------------------------------------------------------------

    def _step(self, call: GatedCall) -> Logic:
        record = self.records.get(call.call_id)
        attempt = 1
        if record is not None:
            if record.is_settled:
                yield from self._note_applied(record.request_id)
                return Answer(record.output or "", record.is_error)
            if record.status is CallStatus.STARTED:
                return (yield from self._stale(call, record))
            if record.status is CallStatus.UNKNOWN:
                return (yield from self._recover(call, record))
            attempt = record.attempt + 1  # suspended: its next attempt
        if call.problem is not None:
            return Answer(call.problem, is_error=True)
        request = yield Find(request_id(self.run_id, call.call_id))
        if request is not None and request.is_due(self.clock.now()):
            yield Expire(self.run_id)  # past its deadline: its expiry outcome applies
            request = yield Find(request.id)
        if request is not None:
            return self._reviewed(call, request, attempt)
        verdict = self.verdict(call)
        if not verdict.required:
            return Run(call, dict(call.args), attempt=attempt)
        fresh = self._new_request(call, verdict)
        if self.eager:
            fresh = yield Put(fresh)
        else:
            self.new_requests.append(fresh)
        return Wait(fresh, new=True)

    def check_reviewed(self, call: GatedCall, request: ApprovalRequest) -> None:
        """Refuse `call` unless it is exactly the call `request` showed its reviewer.

        Raises:
            CallRefused: another tool or other arguments (nothing is written).
        """
        problem = reviewed_mismatch(call.tool, call.args, call.call_id, request)
        if problem is not None:
            raise CallRefused(self.run_id, call.call_id, request.id, problem, call.tool)

    def _reviewed(self, call: GatedCall, request: ApprovalRequest, attempt: int) -> Step:
        """The stored decision applies: the policy is not asked again."""
        self.check_reviewed(call, request)
        if request.is_pending:
            return Wait(request)
        if request.status is RequestStatus.CANCELLED:
            return Answer(cancelled_text(call.tool), is_error=True)
        if request.is_answered:
            self.applied.append(request.id)
        resolution = resolve(request)
        if isinstance(resolution, Answer):
            return resolution
        return Run(call, dict(resolution.args), request=request, review=resolution, attempt=attempt)

    def _stale(self, call: GatedCall, record: CallRecord) -> Logic:
        """A claim nobody settled: its holder is gone (this pass holds the lease now)."""
        original = yield from self._original(call, record)
        if call.idempotent:
            review = _review_of(original)
            return Run(call, dict(record.args), original, review, record.attempt + 1)
        recovery = self._recovery_request(call, record)
        unknown = record.model_copy(
            update={
                "status": CallStatus.UNKNOWN,
                "recovery_request_id": recovery.id,
                "at": self.clock.now(),
            }
        )
        stored = yield Settle(unknown, self.lease, (recovery,))
        self.records[call.call_id] = stored
        if stored != unknown:
            raise LeaseLost(self.run_id, self.lease.holder, self.lease.fence)
        return Wait(recovery)

    def _recover(self, call: GatedCall, record: CallRecord) -> Logic:
        """An unknown outcome: what its person decided."""
        original = yield from self._original(call, record)
        recovery = (yield Find(record.recovery_request_id)) if record.recovery_request_id else None
        if recovery is None:
            raise CallRefused(
                self.run_id,
                call.call_id,
                None,
                "the request resolving its unknown outcome is gone",
                call.tool,
            )
        if recovery.is_pending:
            return Wait(recovery)
        if recovery.is_answered:
            self.applied.append(recovery.id)
        decision = recovery.decision
        if isinstance(decision, Approve):
            return Run(call, dict(record.args), original, _review_of(original), record.attempt + 1)
        now = self.clock.now()
        if isinstance(decision, Respond):
            done = record.model_copy(
                update={"status": CallStatus.EXECUTED, "output": decision.answer, "at": now}
            )
        else:  # rejected, expired or cancelled: abandoned
            feedback = decision.feedback if decision is not None else None
            text = abandoned_text(call.tool, feedback)
            done = record.model_copy(
                update={"status": CallStatus.ABANDONED, "output": text, "is_error": True, "at": now}
            )
        stored = yield Settle(done, self.lease)
        self.records[call.call_id] = stored
        return Answer(stored.output or "", stored.is_error)

    def _original(self, call: GatedCall, record: CallRecord) -> Logic:
        """The request that released `record`'s call, after checking the call is that one."""
        original = (yield Find(record.request_id)) if record.request_id else None
        if original is not None:
            problem = reviewed_mismatch(call.tool, call.args, call.call_id, original)
            if original.is_answered:
                self.applied.append(original.id)
        elif call.tool != record.tool or args_digest(call.args) != record.args_digest:
            problem = f"the stored run's call is not the {record.tool!r} call it claimed"
        else:
            problem = None
        if problem is not None:
            raise CallRefused(self.run_id, call.call_id, record.request_id, problem, call.tool)
        return original

    def _note_applied(self, rid: str | None) -> Logic:
        """A replayed call's request, if a crash kept it from being marked resumed."""
        if rid is None or rid in self.applied:
            return
        request = yield Find(rid)
        if request is not None and request.is_answered:
            self.applied.append(rid)

    # -- run ----------------------------------------------------------------------------

    def _run(self, step: Run, invoke: Invoke) -> Logic:
        call = step.call
        problem = run_mismatch(call.tool, step.args, step.request)
        if problem is not None:
            rid = step.request.id if step.request else None
            raise CallRefused(self.run_id, call.call_id, rid, problem, call.tool)
        if call.composite:
            return (yield from self._run_composite(step, invoke))
        claim = self._line(step, CallStatus.STARTED)
        stored = yield Claim(claim, self.lease)
        if not (stored.same_attempt(claim) and stored.status is CallStatus.STARTED):
            if stored.is_settled:
                self.records[call.call_id] = stored
                return Ran(stored.output or "", stored.is_error)
            raise LeaseLost(self.run_id, self.lease.holder, self.lease.fence)
        self.records[call.call_id] = stored
        failure: Exception | None = None
        try:
            executed: Executed = yield invoke
        except self.pauses:
            yield from self._suspend(stored)
            raise
        except Exception as error:  # a tool failure is recorded once, then handled
            executed, failure = Executed(tool_failed_text(call.tool, error), True), error
        if executed.suspended:
            yield from self._suspend(stored)
            return Ran("", False, executed.reply, suspended=True)
        text = tool_result(step.review, executed.output) if step.review else executed.output
        done = stored.model_copy(
            update={
                "status": CallStatus.EXECUTED,
                "output": text,
                "is_error": executed.is_error,
                "at": self.clock.now(),
            }
        )
        settled = yield Settle(done, self.lease)
        self.records[call.call_id] = settled
        if settled != done:
            raise LeaseLost(self.run_id, self.lease.holder, self.lease.fence)
        if failure is not None and self.reraise:
            raise failure
        return Ran(settled.output or "", settled.is_error, executed.reply)

    def _run_composite(self, step: Run, invoke: Invoke) -> Logic:
        """An agent used as a tool: run it; record it once it finished (not before)."""
        executed: Executed = yield invoke
        if executed.suspended:
            return Ran("", False, executed.reply, suspended=True)
        return (yield from self._record_composite(step, executed.output, executed.reply))

    def finish_composite(self, step: Run, output: str, store: ApprovalStore) -> Ran:
        """Record an agent-as-tool call whose sub-run the adapter drove itself, now finished."""
        result: Ran = drive(self._record_composite(step, output, None), store)
        return result

    def _record_composite(self, step: Run, output: str, reply: Any) -> Logic:
        text = tool_result(step.review, output) if step.review else output
        line = self._line(step, CallStatus.EXECUTED).model_copy(update={"output": text})
        stored = yield Claim(line, self.lease)
        self.records[step.call.call_id] = stored
        return Ran(stored.output or "", stored.is_error, reply)

    def _suspend(self, stored: CallRecord) -> Logic:
        paused = stored.model_copy(update={"status": CallStatus.SUSPENDED, "at": self.clock.now()})
        self.records[stored.call_id] = yield Settle(paused, self.lease)

    # -- building blocks ----------------------------------------------------------------

    def _line(self, step: Run, status: CallStatus) -> CallRecord:
        now = self.clock.now()
        call = step.call
        return CallRecord(
            run_id=self.run_id,
            call_id=call.call_id,
            tool=call.tool,
            args=dict(step.args),
            args_digest=args_digest(step.args),
            status=status,
            attempt=step.attempt,
            fence=self.lease.fence,
            holder=self.lease.holder,
            idempotency_key=idempotency_key(self.run_id, call.call_id),
            request_id=step.request.id if step.request else None,
            at=now,
            started_at=now,
            adapter=self.adapter,
        )

    def _info(self, step: Run) -> CallInfo:
        return CallInfo(
            run_id=self.run_id,
            call_id=step.call.call_id,
            tool=step.call.tool,
            idempotency_key=idempotency_key(self.run_id, step.call.call_id),
            attempt=step.attempt,
        )

    def _new_request(self, call: GatedCall, verdict: Verdict) -> ApprovalRequest:
        return request_for(
            call,
            verdict,
            run_id=self.run_id,
            adapter=self.adapter,
            context=self.context,
            now=self.clock.now(),
            ask_human=self.ask_human,
        )

    def _recovery_request(self, call: GatedCall, record: CallRecord) -> ApprovalRequest:
        verdict = self.verdict(call)
        return ApprovalRequest.create(
            run_id=self.run_id,
            adapter=self.adapter,
            action=ProposedAction(tool=record.tool, args=dict(record.args), call_id=call.call_id),
            reason=unknown_outcome_reason(record.tool, record.attempt),
            allowed=RECOVERY_ALLOWED,
            context=self.context,
            now=self.clock.now(),
            kind="recovery",
            reviewers=verdict.reviewers,
            roles=verdict.roles,
            attempt=record.attempt,
        )


def _review_of(request: ApprovalRequest | None) -> RunTool | None:
    """What the model is told about the decision that released a call, when it runs again."""
    if request is None or request.decision is None:
        return None
    if not isinstance(request.decision, Approve | Edit):
        return None
    resolution = resolve(request)
    return resolution if isinstance(resolution, RunTool) else None
