"""Pause -> persist -> approve -> resume in a fresh loop: `ToolLoop` against a hand-rolled loop.

One cycle is the same payment run both ways, with the same scripted model turns
(`hitl_loop.ScriptedModel`: one ``send_payment`` call of 4200, then "Done."), the same
tool function and the same SQLite durability (WAL, ``synchronous=FULL``, every write in
``BEGIN IMMEDIATE``, so every commit is an fsync), in two files of one directory:

- raw: a hand-rolled tool-calling loop over the same `Message` type. On a payment over
  1000 it JSON-dumps its message list into a ``runs`` table and returns the waiting call;
  the decision is a row inserted into a ``decisions`` table; a new loop object resumes:
  it loads the messages, reads the decision, runs the tool, asks the model on and saves
  the completed run;
- hitl-kit: `ToolLoop` with a `Policy` (``send_payment`` over 1000) on a ``sqlite:///``
  store. ``start`` saves the run, then pauses (the state and the `ApprovalRequest` in one
  transaction); ``store.decide`` records the approval; a new `ToolLoop` resumes: it
  reloads the state, applies the decision through the core, runs the tool exactly once
  (recording the execution) and saves the completed run. The store keeps the audit trail.

So the ratio is what the library's bookkeeping costs over the least a loop must do to
survive a restart. Both loops offer the model the same one tool (``ask_human=False``),
both are built once per round to start runs, as a server would, and the loop that
resumes is built in every cycle, as in another process. Both sides must end with the
same conversation, or the benchmark stops.

The sides alternate cycle by cycle (and which goes first alternates), so whatever else
the machine does slows both alike. The figures are the median and p95 over every timed
cycle, in wall time and in CPU time (this process's): CPU time is the work each side
does, which the machine's other load inflates less; the wall time adds the fsyncs.

    .venv/bin/python -m bench.loop_resume            # 10 rounds of 300 cycles a side
    .venv/bin/python -m bench.loop_resume --quick    # 2 rounds of 50
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import TypeAdapter

from bench._common import (
    Laps,
    Samples,
    base_parser,
    comparison_rows,
    interleave,
    median_ratios,
    phase_rows,
    print_load,
    print_table,
)
from hitl_core import ApprovalStore, Decision, Policy, arg, open_store
from hitl_loop import ChatModel, Completed, Message, Paused, ScriptedModel, Tool, ToolCall, ToolLoop
from hitl_loop import call as scripted_call

PROMPT = "Pay Acme 4200"
POLICY = Policy({"send_payment": arg("amount") > 1000})
REVIEWER = "ana@example.com"
RAW, HITL = "raw loop", "hitl-kit"


def send_payment(amount: float, recipient: str) -> str:
    """Send a payment to a vendor."""
    return f"paid {amount:.2f} to {recipient}"


PAY = Tool.from_function(send_payment)
"""Built once, as ``@tool`` would at import; both loops tell the model its spec."""
MESSAGES = TypeAdapter(list[Message])
RAW_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs "
    "(run_id TEXT PRIMARY KEY, status TEXT NOT NULL, messages TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS decisions (run_id TEXT NOT NULL, call_id TEXT NOT NULL, "
    "kind TEXT NOT NULL, decided_by TEXT NOT NULL, at TEXT NOT NULL, "
    "PRIMARY KEY (run_id, call_id))",
)


def _model() -> ScriptedModel:
    return ScriptedModel(
        [scripted_call("send_payment", {"amount": 4200, "recipient": "Acme"}, id="c1"), "Done."]
    )


# -- the raw side -------------------------------------------------------------------------


def raw_database(path: Path) -> sqlite3.Connection:
    """The raw loop's SQLite file, opened with the store's settings."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=30000")
    for statement in RAW_SCHEMA:
        db.execute(statement)
    return db


def raw_decide(db: sqlite3.Connection, run_id: str, call_id: str, kind: str, by: str) -> None:
    """The raw side's `store.decide`: one row."""
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        "INSERT INTO decisions VALUES (?, ?, ?, ?, ?)",
        (run_id, call_id, kind, by, datetime.now(UTC).isoformat()),
    )
    db.execute("COMMIT")


def _open_calls(messages: Sequence[Message]) -> list[ToolCall]:
    """The last assistant turn's calls that have no result yet."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].role == "assistant":
            answered = {m.tool_call_id for m in messages[i + 1 :]}
            return [c for c in messages[i].tool_calls if c.id not in answered]
    return []


class RawLoop:
    """A hand-rolled tool-calling loop that saves its messages when a call needs a human."""

    def __init__(self, model: ChatModel, db: sqlite3.Connection) -> None:
        self.model, self.db = model, db
        self.messages: list[Message] = []

    def start(self, run_id: str, prompt: str) -> str | ToolCall:
        """Run until the model answers (the answer) or a call waits on a human (the call)."""
        return self._run(run_id, [Message.user(prompt)])

    def resume(self, run_id: str) -> str | ToolCall:
        """Load a paused run and carry on as `start` does."""
        row = self.db.execute(
            "SELECT messages FROM runs WHERE run_id = ? AND status = 'paused'", (run_id,)
        ).fetchone()
        if row is None:
            raise LookupError(f"No paused run {run_id}")
        return self._run(run_id, MESSAGES.validate_json(row[0]))

    def _run(self, run_id: str, messages: list[Message]) -> str | ToolCall:
        self.messages = messages
        while True:
            for call in _open_calls(messages):
                if call.name == "send_payment" and call.args.get("amount", 0) > 1000:
                    decided = self.db.execute(
                        "SELECT kind FROM decisions WHERE run_id = ? AND call_id = ?",
                        (run_id, call.id),
                    ).fetchone()
                    if decided is None:
                        self._save(run_id, "paused", messages)
                        return call
                    if decided[0] != "approve":
                        messages.append(Message.tool(call, "Rejected.", is_error=True))
                        continue
                messages.append(Message.tool(call, send_payment(**call.args)))
            reply = self.model.complete(messages, [PAY.spec])
            messages.append(reply)
            if not reply.tool_calls:
                self._save(run_id, "completed", messages)
                return reply.content or ""

    def _save(self, run_id: str, status: str, messages: list[Message]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute(
            "INSERT OR REPLACE INTO runs VALUES (?, ?, ?)",
            (run_id, status, MESSAGES.dump_json(messages).decode()),
        )
        self.db.execute("COMMIT")


# -- the two sides, timed ----------------------------------------------------------------


class RawSide:
    """The hand-rolled loop; a new loop object resumes."""

    name = RAW

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.loop = RawLoop(_model(), db)

    def cycle(self, run_id: str, lap: Laps) -> list[Message]:
        waiting = self.loop.start(run_id, PROMPT)
        assert isinstance(waiting, ToolCall), "the raw loop did not pause"
        lap("pause")
        raw_decide(self.db, run_id, waiting.id, "approve", REVIEWER)
        lap("decide")
        fresh = RawLoop(_model(), self.db)
        done = fresh.resume(run_id)
        assert done == "Done.", done
        lap("resume")
        return fresh.messages


def _tool_loop(store: ApprovalStore) -> ToolLoop:
    return ToolLoop(_model(), [PAY], policy=POLICY, store=store, ask_human=False)


class HitlSide:
    """`ToolLoop` on the SQLite store; a new `ToolLoop` resumes."""

    name = HITL

    def __init__(self, store: ApprovalStore) -> None:
        self.store = store
        self.loop = _tool_loop(store)

    def cycle(self, run_id: str, lap: Laps) -> list[Message]:
        paused = self.loop.start(PROMPT, run_id=run_id)
        assert isinstance(paused, Paused), "the tool loop did not pause"
        lap("pause")
        self.store.decide(paused.requests[0].id, Decision.approve(by=REVIEWER))
        lap("decide")
        done = _tool_loop(self.store).resume(run_id)
        assert isinstance(done, Completed), done
        assert done.output == "Done.", done.output
        lap("resume")
        return done.messages


def measure(cycles: int, rounds: int, warmup: int, directory: Path) -> dict[str, Samples]:
    """Samples by side; a new pair of starting loops every round."""
    results = {RAW: Samples(), HITL: Samples()}
    db = raw_database(directory / "raw.db")
    store = open_store(f"sqlite:///{directory / 'hitl.db'}")
    try:
        for r in range(rounds):
            interleave(RawSide(db), HitlSide(store), f"run{r}", cycles, warmup, results)
    finally:
        store.close()
        db.close()
    return results


def report(results: dict[str, Samples]) -> None:
    print_table(
        [
            f"per cycle ({len(results[RAW].wall)} a side)",
            "wall ms",
            "wall p95",
            "CPU ms",
            "CPU p95",
        ],
        comparison_rows("", results),
    )
    print("\nMedian ms by phase: pause = start until paused, decide = the decision's write,")
    print("resume = build a fresh loop, resume, until completed.")
    print_table(["phase", "raw wall", "hitl wall", "raw CPU", "hitl CPU"], phase_rows("", results))
    print(f"\nhitl-kit / raw loop on SQLite, median per cycle: {median_ratios(results)}")


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument(
        "-n", "--cycles", type=int, default=300, help="timed cycles a side per round"
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=5, help="untimed cycles a side per round")
    parser.add_argument("--dir", type=Path, help="where the SQLite files go (default: a temp dir)")
    options = parser.parse_args()
    cycles, rounds = (50, 2) if options.quick else (options.cycles, options.rounds)
    print_load("before")
    with tempfile.TemporaryDirectory(dir=options.dir) as tmp:
        results = measure(cycles, rounds, options.warmup, Path(tmp))
    print_load("after")
    print()
    report(results)


if __name__ == "__main__":
    main()
