"""``python -m examples.wrap_existing_graph``: the team's cleanup graph, gated without edits.

Two requests against a new database. Each pauses on the graph's own question: purging
the sessions last seen before 2025-06-01 (4 rows) with the graph's wording, purging those
before 2026-01-01 (12 more) with the policy's reason. Each pause is saved in the SQLite
store and checkpointer, the ops lead approves it through the store, and a new runner (new
graph, checkpointer connection and store handle) resumes it. Exits 1 when an outcome
differs from the expected one.

    python -m examples.wrap_existing_graph [--dir DIR]            # the whole story
    python -m examples.wrap_existing_graph --dir DIR --resume ID  # resume one thread
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

from langchain_core.messages import ToolMessage

from examples.wrap_existing_graph import gate
from examples.wrap_existing_graph.database import create_database, purge_log, sessions_left
from hitl_core import Decision, RequestStatus, open_store
from hitl_langgraph import Completed, Outcome

REVIEWER = "ops-lead@example.com"


class Files:
    """Where everything lives: the team's database, the approval store, the checkpoints."""

    def __init__(self, directory: Path) -> None:
        self.database = directory / "app.db"
        self.store = f"sqlite:///{directory / 'approvals.db'}"
        self.checkpoints = f"sqlite:///{directory / 'checkpoints.db'}"


def show(label: str, text: str) -> None:
    print(f"   {label:<9} {text}")


def show_outcome(outcome: Outcome, files: Files) -> None:
    """What the tool said, what the agent answered, and what is left in the database."""
    if isinstance(outcome, Completed):
        said = [m for m in outcome.values["messages"] if isinstance(m, ToolMessage)]
        show("tool", str(said[-1].content) if said else "(no tool ran)")
        show("agent", outcome.output or "")
    else:
        show("paused", f"still waiting on {len(outcome.requests)} request(s)")
    log = purge_log(files.database)
    show("database", f"{len(sessions_left(files.database))} sessions left; {len(log)} purge(s)")


def story(files: Files) -> list[str]:
    """Both requests, start to finish; returns what differs from the expectation."""
    problems: list[str] = []
    create_database(files.database)
    left_before = len(sessions_left(files.database))
    kinds: list[str] = []
    for number, (cutoff, rows) in enumerate((("2025-06-01", 4), ("2026-01-01", 12)), 1):
        print(f"{number}. Purge the sessions last seen before {cutoff}.  ({rows} rows)")
        kinds, problem = purge(files, f"Purge the sessions last seen before {cutoff}.", left_before)
        problems += problem
        left_before -= rows
    expected_log = [
        {"table": "sessions", "last_seen_before": "2025-06-01", "deleted": 4},
        {"table": "sessions", "last_seen_before": "2026-01-01", "deleted": 12},
    ]
    if purge_log(files.database) != expected_log:
        problems.append(f"purges {purge_log(files.database)}, expected {expected_log}")
    if len(sessions_left(files.database)) != 4:
        problems.append(f"{len(sessions_left(files.database))} sessions left, expected 4")
    if kinds != ["created", "decided", "resumed"]:
        problems.append(f"audit {kinds}, expected created, decided, resumed")
    return problems


def purge(files: Files, request_text: str, left_before: int) -> tuple[list[str], list[str]]:
    """One purge: it pauses, the ops lead approves, a new runner resumes it.

    Returns the thread's audit kinds and what differs from the expectation.
    """
    with closing(open_store(files.store)) as store:  # the agent's process
        paused = gate.start(
            request_text, store=store, database=files.database, checkpoints=files.checkpoints
        )
    if isinstance(paused, Completed):
        return [], ["a purge ran without a human"]
    [request] = paused.requests
    show("paused", f"{request.action.tool} {json.dumps(request.action.args)}: {request.reason}")
    problems: list[str] = []
    with closing(open_store(files.store)) as store:  # the reviewer's process
        status = store.get(request.id).status
        left = len(sessions_left(files.database))
        show("saved", f"request {request.id[:12]}… is {status}; {left} sessions still there")
        if status is not RequestStatus.PENDING or left != left_before:
            problems.append("the pause was not saved before the purge")
        store.decide(request.id, Decision.approve(by=REVIEWER))
        show("decided", f"approve by {REVIEWER}, through the store")
    with closing(open_store(files.store)) as store:  # any process: only the thread id
        done = gate.resume(
            paused.run_id, store=store, database=files.database, checkpoints=files.checkpoints
        )
        kinds = [str(e.kind) for e in store.audit(run_id=paused.run_id)]
    show("resumed", f"thread {paused.run_id} in a new runner")
    show_outcome(done, files)
    show("audit", ", ".join(kinds))
    return kinds, problems


def main(argv: Sequence[str] | None = None) -> int:
    """Run the story, or resume one thread; 0 when everything went as expected."""
    parser = argparse.ArgumentParser(prog="python -m examples.wrap_existing_graph")
    parser.add_argument("--dir", type=Path, help="where the database, store and checkpoints go")
    parser.add_argument("--resume", metavar="THREAD_ID", help="only resume this thread")
    args = parser.parse_args(argv)
    if args.resume and not args.dir:
        parser.error("--resume needs the --dir the thread was started in")
    if args.dir and not args.resume:
        if Files(args.dir).database.exists():
            parser.error(f"{args.dir} already holds a run of the story; give a new --dir")
        args.dir.mkdir(parents=True, exist_ok=True)

    print("Graph:    examples/wrap_existing_graph/graph.py, unchanged (no hitl-kit import)")
    rule = gate.POLICY.rules["delete_rows"]
    print(
        f"Gate:     delete_rows' own interrupt(), through a Codec; decided by {rule.reviewers[0]}"
    )
    with tempfile.TemporaryDirectory(prefix="hitl-wrap-graph-") as tmp:
        files = Files(args.dir or Path(tmp))
        print(f"Files:    {files.database}, {files.store}, {files.checkpoints}\n")
        if args.resume:
            with closing(open_store(files.store)) as store:
                outcome = gate.resume(
                    args.resume,
                    store=store,
                    database=files.database,
                    checkpoints=files.checkpoints,
                )
            print(f"Resumed thread {args.resume} in a new process")
            show_outcome(outcome, files)
            return 0 if isinstance(outcome, Completed) else 1
        problems = story(files)
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print("\nEverything went as expected.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
