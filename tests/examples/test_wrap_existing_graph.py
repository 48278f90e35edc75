"""examples/wrap_existing_graph: the team's graph, gated through a codec, never edited.

The graph module must stay free of hitl-kit (checked in its source and in a fresh
interpreter) and must still work as plain LangGraph. Gated, a purge over 10 rows pauses
with the policy's reason, is saved in a real SQLite store and checkpointer, and runs
exactly once after an approval, resumed in a new process; a rejection deletes nothing.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

import examples.wrap_existing_graph.__main__ as wrap_main
from examples.wrap_existing_graph import gate, graph
from examples.wrap_existing_graph.database import (
    LAST_SEEN,
    create_database,
    purge_log,
    sessions_left,
)
from hitl_core import (
    AuditKind,
    Decision,
    NotAuthorized,
    RequestStatus,
    RunNotPaused,
    RunStatus,
    open_store,
)
from hitl_langgraph import Completed, Outcome, Paused, ScriptedChatModel, call
from tests.examples.running import run_example

ROOT = Path(__file__).parents[2]
REVIEWER = "ops-lead@example.com"
BIG_PURGE = "Purge the sessions last seen before 2026-01-01."
BIG_ARGS = {"table": "sessions", "last_seen_before": "2026-01-01", "rows": 16}


@pytest.fixture(autouse=True)
def _scripted_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example switches to OpenAI when a key is set; these tests run offline."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture
def files(tmp_path: Path) -> wrap_main.Files:
    """The example's files in a fresh directory, with a new database."""
    found = wrap_main.Files(tmp_path)
    create_database(found.database)
    return found


def start(files: wrap_main.Files, request: str) -> Outcome:
    with closing(open_store(files.store)) as store:
        return gate.start(
            request, store=store, database=files.database, checkpoints=files.checkpoints
        )


def resume_in_a_new_process(files: wrap_main.Files, thread_id: str) -> str:
    """``python -m examples.wrap_existing_graph --resume``: its output; it must exit 0."""
    done = run_example(
        "examples.wrap_existing_graph", "--dir", str(files.database.parent), "--resume", thread_id
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def tool_said(outcome: Completed) -> list[str]:
    return [str(m.content) for m in outcome.values["messages"] if isinstance(m, ToolMessage)]


def test_the_graph_module_imports_nothing_from_hitl() -> None:
    source = Path(graph.__file__).read_text(encoding="utf-8")
    imported: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append(node.module or "")
    assert imported  # the walk saw the imports
    assert [m for m in imported if m.startswith(("hitl", "examples"))] == []
    assert "hitl" not in source.lower()

    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, examples.wrap_existing_graph.graph; "
            "print(sorted(m for m in sys.modules if m.startswith('hitl')))",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


def test_the_graph_works_as_plain_langgraph_with_its_own_question(tmp_path: Path) -> None:
    """No hitl-kit: its tool asks with interrupt() and reads {"approved": ...} back."""
    database = create_database(tmp_path / "app.db")

    def report(messages: Sequence[BaseMessage]) -> str:
        return str(messages[-1].content)

    model = ScriptedChatModel(
        [call("delete_rows", {"table": "sessions", "last_seen_before": "2026-01-01"}), report]
    )
    app = graph.build_graph(model, database, checkpointer=InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "t1"}}
    paused = app.invoke({"messages": [HumanMessage(BIG_PURGE)]}, config)
    [question] = paused["__interrupt__"]
    assert question.value == {
        "question": "Delete 16 rows from sessions last seen before 2026-01-01?",
        **BIG_ARGS,
    }
    assert len(sessions_left(database)) == 20

    done = app.invoke(Command(resume={"approved": True, "comment": None}), config)
    assert isinstance(done["messages"][-1], AIMessage)
    assert done["messages"][-1].content == "Deleted 16 rows from sessions."
    assert sessions_left(database) == LAST_SEEN[16:]


def test_a_small_purge_still_waits_because_the_graph_asks(files: wrap_main.Files) -> None:
    """The policy does not gate 4 rows, but the graph's own question is never answered by
    hitl-kit: it waits, in the graph's words, for the one reviewer the policy names."""
    paused = start(files, "Purge the sessions last seen before 2025-06-01.")
    assert isinstance(paused, Paused)
    [request] = paused.requests
    assert request.reason == "Delete 4 rows from sessions last seen before 2025-06-01?"
    assert request.reviewers == (REVIEWER,)
    assert purge_log(files.database) == []
    with closing(open_store(files.store)) as store:
        with pytest.raises(NotAuthorized):
            store.decide(request.id, Decision.approve(by="intern@example.com"))
        store.decide(request.id, Decision.approve(by=REVIEWER))
    assert "Deleted 4 rows from sessions." in resume_in_a_new_process(files, paused.run_id)
    assert purge_log(files.database) == [
        {"table": "sessions", "last_seen_before": "2025-06-01", "deleted": 4}
    ]


def test_a_big_purge_pauses_and_an_approval_runs_it_once_in_a_new_process(
    files: wrap_main.Files,
) -> None:
    paused = start(files, BIG_PURGE)
    assert isinstance(paused, Paused)
    [request] = paused.requests
    assert request.action.tool == "delete_rows"
    assert request.action.args == BIG_ARGS
    assert request.reason == "rows 16 > 10"
    assert request.allowed == ("approve", "reject")
    assert request.action.call_id == paused.interrupt_ids[0]
    assert len(sessions_left(files.database)) == 20
    assert purge_log(files.database) == []

    with closing(open_store(files.store)) as reviewer:
        assert reviewer.get(request.id).status is RequestStatus.PENDING
        assert reviewer.load_run(paused.run_id).status is RunStatus.PAUSED
        reviewer.decide(request.id, Decision.approve(by=REVIEWER))

    out = resume_in_a_new_process(files, paused.run_id)
    assert f"Resumed thread {paused.run_id} in a new process" in out
    assert "tool      Deleted 16 rows from sessions." in out
    assert "agent     Done. The tool said: Deleted 16 rows from sessions." in out
    assert "database  4 sessions left; 1 purge(s)" in out
    assert sessions_left(files.database) == LAST_SEEN[16:]
    assert purge_log(files.database) == [
        {"table": "sessions", "last_seen_before": "2026-01-01", "deleted": 16}
    ]

    with closing(open_store(files.store)) as store:
        with pytest.raises(RunNotPaused):  # nothing left to run: the purge stays single
            gate.resume(
                paused.run_id,
                store=store,
                database=files.database,
                checkpoints=files.checkpoints,
            )
        events = store.audit(run_id=paused.run_id)
        assert [e.kind for e in events] == [
            AuditKind.CREATED,
            AuditKind.DECIDED,
            AuditKind.RESUMED,
        ]
        assert (events[1].actor, events[1].decision, events[1].args) == (
            REVIEWER,
            "approve",
            BIG_ARGS,
        )
        assert store.get(request.id).status is RequestStatus.RESUMED
        assert store.load_run(paused.run_id).status is RunStatus.COMPLETED
    assert len(purge_log(files.database)) == 1


def test_a_rejected_purge_deletes_nothing_and_the_agent_hears_why(
    files: wrap_main.Files,
) -> None:
    paused = start(files, BIG_PURGE)
    assert isinstance(paused, Paused)
    [request] = paused.requests
    with closing(open_store(files.store)) as reviewer:
        reviewer.decide(request.id, Decision.reject("Keep them until the March audit", by=REVIEWER))

    with closing(open_store(files.store)) as store:  # a new runner, graph and handle
        outcome = gate.resume(
            paused.run_id, store=store, database=files.database, checkpoints=files.checkpoints
        )
        kinds = [e.kind for e in store.audit(run_id=paused.run_id)]
    assert isinstance(outcome, Completed)
    told = "Nothing deleted. Reason: Keep them until the March audit"
    assert tool_said(outcome) == [told]
    assert outcome.output == f"Done. The tool said: {told}"
    assert sessions_left(files.database) == LAST_SEEN
    assert purge_log(files.database) == []
    assert kinds == [AuditKind.CREATED, AuditKind.DECIDED, AuditKind.RESUMED]


def test_the_whole_story_prints_its_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    assert wrap_main.main([]) == 0
    out = capsys.readouterr().out
    assert (
        'paused    delete_rows {"table": "sessions", "last_seen_before": "2025-06-01", '
        '"rows": 4}: Delete 4 rows from sessions last seen before 2025-06-01?'
    ) in out
    assert (
        'paused    delete_rows {"table": "sessions", "last_seen_before": "2026-01-01", '
        '"rows": 12}: rows 12 > 10'
    ) in out
    assert "decided   approve by ops-lead@example.com, through the store" in out
    assert "tool      Deleted 12 rows from sessions." in out
    assert "audit     created, decided, resumed" in out
    assert out.strip().endswith("Everything went as expected.")
