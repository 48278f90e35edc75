"""The audit trail's hash chain: each run's events link to the one before, so edits show.

A store links every event it appends into its run's chain (`chain_index`, `prev_hash`,
`hash`) and keeps the run's latest link as the run's head, in the same transaction. An
edited, deleted or reordered row then breaks a link, and `verify_chain` says which.

The limit, honestly: whoever can rewrite a run's whole chain *and* its head leaves a
consistent forgery. Export the heads (`store.audit_heads()`) somewhere that writer cannot
reach (a ticket, a log service, a signed file) and compare later: that is the anchor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field

from hitl_core.audit import AuditEvent
from hitl_core.errors import InvalidInput
from hitl_core.identity import canonical_json

if TYPE_CHECKING:
    from hitl_core.stores.async_base import AsyncApprovalStore
    from hitl_core.stores.base import ApprovalStore

__all__ = [
    "GENESIS",
    "AuditHead",
    "ChainProblem",
    "ChainReport",
    "ProblemKind",
    "averify_store",
    "event_hash",
    "link",
    "linked_document",
    "verify_chain",
    "verify_store",
]

GENESIS = "sha256:" + "0" * 64
"""The `prev_hash` of a run's first chained event."""

ProblemKind = Literal["edited", "missing", "reordered", "forked", "truncated", "unchained"]
"""What a broken link means: see `ChainProblem.kind`."""


def event_hash(event: AuditEvent, prev_hash: str) -> str:
    """``sha256:<hex>`` of `prev_hash` + the canonical JSON of `event` without seq and hash.

    `seq` is left out because the database assigns it; everything else, chain_index and
    prev_hash included, is covered. Numbers count by value (an integral float hashes as
    its integer), because PostgreSQL's JSONB gives ``1e20`` back as ``100000000000000000000``.
    """
    return _digest(prev_hash, event.model_dump(mode="json", exclude={"seq", "hash"}))


def _digest(prev_hash: str, body: dict[str, Any]) -> str:
    """`event_hash` of an event already dumped to JSON data (without seq and hash)."""
    digest = hashlib.sha256((prev_hash + canonical_json(_by_value(body))).encode())
    return "sha256:" + digest.hexdigest()


def _by_value(value: Any) -> Any:
    """`value` with integral floats as ints, exactly as their decimal text reads."""
    if isinstance(value, float) and value.is_integer():
        return int(Decimal(repr(value)))
    if isinstance(value, dict):
        return {k: _by_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_by_value(v) for v in value]
    return value


class AuditHead(BaseModel):
    """A run's latest link: what the next event links to, and what its trail must end at."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    chain_index: int
    """The `chain_index` of the run's last event."""
    hash: str
    """The `hash` of the run's last event."""

    @classmethod
    def of(cls, event: AuditEvent) -> AuditHead:
        """The head after appending `event` (a linked one)."""
        if event.chain_index is None or event.hash is None:
            raise InvalidInput(f"Audit event {event.kind} of run {event.run_id} is not linked.")
        return cls(run_id=event.run_id, chain_index=event.chain_index, hash=event.hash)


def link(event: AuditEvent, head: AuditHead | None) -> AuditEvent:
    """`event` placed after `head` (first in its run when None), its hash filled in.

    Raises:
        InvalidInput: `head` belongs to another run.
    """
    index, prev = _after(event, head)
    placed = event.model_copy(update={"chain_index": index, "prev_hash": prev, "hash": None})
    return placed.model_copy(update={"hash": event_hash(placed, prev)})


def linked_document(event: AuditEvent, head: AuditHead | None) -> tuple[dict[str, Any], AuditHead]:
    """`link(event, head)` as the JSON data a store writes (no seq), and the run's new head.

    The same hash as `link`, from one dump instead of two copies and a dump: it runs on
    every write.

    Raises:
        InvalidInput: `head` belongs to another run.
    """
    index, prev = _after(event, head)
    doc = event.model_dump(mode="json", exclude={"seq", "hash"})
    doc["chain_index"], doc["prev_hash"] = index, prev
    doc["hash"] = _digest(prev, doc)
    return doc, AuditHead(run_id=event.run_id, chain_index=index, hash=doc["hash"])


def _after(event: AuditEvent, head: AuditHead | None) -> tuple[int, str]:
    """The chain index and prev_hash of `event` placed after `head`."""
    if head is not None and head.run_id != event.run_id:
        raise InvalidInput(
            f"Cannot link an event of run {event.run_id} after the head of run {head.run_id}."
        )
    return (head.chain_index + 1, head.hash) if head else (1, GENESIS)


class ChainProblem(BaseModel):
    """One broken link, where it is and what it means."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    seq: int | None
    """The stored event where it shows (None when no event is left to point at)."""
    chain_index: int | None
    kind: ProblemKind
    """``edited``: content or link changed; ``missing``: a middle event was deleted;
    ``reordered``: events stored out of chain order; ``forked``: two events claim one
    place, or events run past the head; ``truncated``: the trail ends before its head;
    ``unchained``: an event without a hash after the run's chain began."""
    message: str


class ChainReport(BaseModel):
    """What `verify_chain` checked and the problems it found (none means intact)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: int
    """Events checked (unchained ones included)."""
    runs: int
    unchained: int
    """Events written before the chain existed (no hash, before their run's first chained
    event): counted, not failures, but nothing proves they are unchanged."""
    problems: list[ChainProblem]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """No problems: every chained event is as written, in order, up to its head.

        A computed field, so the JSON of a report (CLI, HTTP) carries the verdict too.
        """
        return not self.problems


class _Run:
    """One run's progress through `verify_chain`: its last link and any open gaps."""

    __slots__ = ("gaps", "hash", "index", "run_id", "seq", "started")

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.started = False
        """Whether a chained event was seen (events without a hash before it are older)."""
        self.index = 0
        """The highest chain index seen, and that event's `hash` and `seq`."""
        self.hash: str | None = None
        self.seq: int | None = None
        self.gaps: list[tuple[int, int, int | None]] = []
        """Skipped indexes (first, last, seq of the event after them), until filled."""

    def problem(
        self, kind: ProblemKind, message: str, seq: int | None, index: int | None
    ) -> ChainProblem:
        return ChainProblem(
            run_id=self.run_id, seq=seq, chain_index=index, kind=kind, message=message
        )

    def check(self, event: AuditEvent) -> list[ChainProblem]:
        """The problems `event` shows, given the run's events before it."""
        self.started = True
        seq, index, prev = event.seq, event.chain_index, event.prev_hash
        where = f"Event {seq} of run {self.run_id}"
        if event.hash is None:
            text = "has no hash although the run's chain began before it: it was written "
            text += "around the store, or its chain fields were removed."
            return [self.problem("unchained", f"{where} {text}", seq, index)]
        if index is None or prev is None or index < 1:
            text = "has a hash but no valid place in the chain: its chain fields were changed."
            return [self.problem("edited", f"{where} {text}", seq, index)]
        found = []
        if event_hash(event, prev) != event.hash:
            text = "no longer matches its hash: its content was changed after it was written."
            found.append(self.problem("edited", f"{where} (#{index}) {text}", seq, index))
        if index == self.index + 1:
            if prev != (self.hash or GENESIS):
                text = f"does not link to #{index - 1}: the earlier event was rewritten with a "
                text += "recomputed hash, or this link was changed."
                found.append(self.problem("edited", f"{where} (#{index}) {text}", seq, index))
        elif index > self.index:
            self.gaps.append((self.index + 1, index - 1, seq))
        elif self._fill(index):
            text = f"is stored after #{self.index}: its rows were reordered, or it was re-inserted."
            found.append(self.problem("reordered", f"{where} (#{index}) {text}", seq, index))
        else:
            text = f"takes chain index {index}, which an earlier event holds: two writers "
            text += "extended the chain from one head, or a row was copied."
            found.append(self.problem("forked", f"{where} {text}", seq, index))
        if index > self.index:
            self.index, self.hash, self.seq = index, event.hash, seq
        return found

    def _fill(self, index: int) -> bool:
        """Remove `index` from the open gaps; whether it was one."""
        for n, (first, last, seq) in enumerate(self.gaps):
            if first <= index <= last:
                parts = [(first, index - 1, seq), (index + 1, last, seq)]
                self.gaps[n : n + 1] = [p for p in parts if p[0] <= p[1]]
                return True
        return False

    def finish(self, head: AuditHead | None) -> list[ChainProblem]:
        """The gaps never filled, and the trail's end against the run's head."""
        run, end = f"Run {self.run_id}", self.index
        found = [
            self.problem(
                "missing",
                f"{run} skips chain index {first}..{last} before event {seq}: "
                f"{last - first + 1} event(s) were deleted from its trail.",
                seq,
                first,
            )
            for first, last, seq in self.gaps
        ]
        text = None
        if head is None:
            if end:
                kind: ProblemKind = "truncated"
                text = f"{run} has chained events up to #{end} but no head: the head was "
                text += "deleted, so a cut-off tail cannot be ruled out."
        elif not end:
            kind, text = "truncated", f"{run} has a head at #{head.chain_index} but no "
            text += "chained events: its trail was deleted."
        elif head.chain_index > end:
            kind, text = "truncated", f"{run} ends at #{end} but its head is at "
            text += f"#{head.chain_index}: its last {head.chain_index - end} event(s) were deleted."
        elif head.chain_index < end:
            kind, text = "forked", f"{run} has events up to #{end}, past its head at "
            text += f"#{head.chain_index}: written around the store, or the head was moved back."
        elif head.hash != self.hash:
            kind, text = "edited", f"{run}'s last event #{end} does not match its head: the "
            text += "event was rewritten with a recomputed hash, or the head was changed."
        if text is not None:
            found.append(self.problem(kind, text, self.seq, end or None))
        return found


class _Verifier:
    """One pass of `verify_chain`, fed an event at a time (so pages can come from awaits)."""

    def __init__(self) -> None:
        self.runs: dict[str, _Run] = {}
        self.problems: list[ChainProblem] = []
        self.events = 0
        self.unchained = 0

    def feed(self, event: AuditEvent) -> None:
        self.events += 1
        run = self.runs.get(event.run_id)
        if run is None:
            run = self.runs[event.run_id] = _Run(event.run_id)
        if event.hash is None and not run.started:
            self.unchained += 1
        else:
            self.problems += run.check(event)

    def report(
        self, heads: Mapping[str, AuditHead], more: Iterable[ChainProblem] = ()
    ) -> ChainReport:
        """The report, ending each run at its head; `more` adds problems found elsewhere."""
        problems = list(self.problems)
        for run_id in sorted(self.runs.keys() | heads.keys()):
            problems += self.runs.get(run_id, _Run(run_id)).finish(heads.get(run_id))
        problems += more
        runs = self.runs.keys() | heads.keys() | {p.run_id for p in problems}
        return ChainReport(
            events=self.events, runs=len(runs), unchained=self.unchained, problems=problems
        )


def verify_chain(events: Iterable[AuditEvent], heads: Mapping[str, AuditHead]) -> ChainReport:
    """Check every run's chain in `events` (in seq order, as `store.audit` gives them).

    Per run: each hash is recomputed, each event must link to the previous one with the
    next chain index, and the last must be the run's head in `heads`. Memory grows with
    the number of runs, not of events, so `events` may be a generator over pages.
    """
    verifier = _Verifier()
    for event in events:
        verifier.feed(event)
    return verifier.report(heads)


class _Settled:
    """Events a verification may judge: those its heads snapshot already covered.

    Heads are read first, then events page by page; events appended meanwhile run past
    the snapshot and are left for the next verification instead of being reported.
    """

    def __init__(self, heads: Mapping[str, AuditHead]) -> None:
        self.heads = heads
        self.headless: dict[str, AuditEvent] = {}
        """Runs with chained events but no head in the snapshot: their first such event."""

    def keep(self, event: AuditEvent) -> bool:
        if event.chain_index is None or event.hash is None:
            return True
        head = self.heads.get(event.run_id)
        if head is None:
            self.headless.setdefault(event.run_id, event)
            return False
        return event.chain_index <= head.chain_index

    def lost(self, later: Mapping[str, AuditHead]) -> list[ChainProblem]:
        """Headless runs that still have no head (so were not simply created meanwhile)."""
        return [
            ChainProblem(
                run_id=run_id,
                seq=event.seq,
                chain_index=event.chain_index,
                kind="truncated",
                message=f"Run {run_id} has chained events from event {event.seq} on but no "
                "head: the head was deleted, so its trail cannot be checked to its end.",
            )
            for run_id, event in sorted(self.headless.items())
            if run_id not in later
        ]


def _check_page(page: int) -> None:
    if page < 1:
        raise InvalidInput(f"page must be at least 1, not {page}.")


def verify_store(
    store: ApprovalStore, *, run_id: str | None = None, page: int = 1000
) -> ChainReport:
    """Verify the store's audit chains (or one run's), reading `page` events at a time.

    Events appended while it runs are left for the next verification.

    Raises:
        InvalidInput: `page` is below 1.
    """
    _check_page(page)
    settled = _Settled(store.audit_heads(run_id))
    verifier = _Verifier()
    after = 0
    while True:
        batch = store.audit(run_id=run_id, after=after, limit=page)
        for event in batch:
            if settled.keep(event):
                verifier.feed(event)
        if len(batch) < page or batch[-1].seq is None:
            break
        after = batch[-1].seq
    later = store.audit_heads(run_id) if settled.headless else {}
    return verifier.report(settled.heads, settled.lost(later))


async def averify_store(
    store: AsyncApprovalStore, *, run_id: str | None = None, page: int = 1000
) -> ChainReport:
    """Async twin of `verify_store`."""
    _check_page(page)
    settled = _Settled(await store.aaudit_heads(run_id))
    verifier = _Verifier()
    after = 0
    while True:
        batch = await store.aaudit(run_id=run_id, after=after, limit=page)
        for event in batch:
            if settled.keep(event):
                verifier.feed(event)
        if len(batch) < page or batch[-1].seq is None:
            break
        after = batch[-1].seq
    later = await store.aaudit_heads(run_id) if settled.headless else {}
    return verifier.report(settled.heads, settled.lost(later))
