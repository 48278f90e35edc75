"""The banking chat API against a live uvicorn: the SSE stream, the pause, the stateless resume."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.banking_chat.agent import scripted_model
from examples.banking_chat.app import create_app
from examples.banking_chat.bank import Bank, Transfer
from examples.banking_chat.client import Event, read_events
from hitl_core import ApprovalStore, RequestStatus, RunStatus, open_store
from hitl_loop import LoopState, ScriptedModel
from tests.examples.running import run_example
from tests.server.live import serve

SESSION = "s-42"
TIMEOUT = 10.0


@dataclass
class Files:
    """The only things two app instances share: the approval store and the bank."""

    store_url: str
    bank: Path

    def server(self, model: ScriptedModel | None = None) -> AbstractContextManager[str]:
        """A fresh app instance over the files, served on its own port."""
        return serve(create_app(self.store_url, self.bank, model=model or scripted_model()))

    def store(self) -> ApprovalStore:
        return open_store(self.store_url)


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(f"sqlite:///{tmp_path / 'approvals.db'}", tmp_path / "bank.db")


@pytest.fixture
def store(files: Files) -> Iterator[ApprovalStore]:
    opened = files.store()
    yield opened
    opened.close()


def post(base_url: str, path: str, body: dict[str, Any]) -> tuple[int, list[Event]]:
    """POST and read the whole body: returns only once the server has closed the stream."""
    response = httpx.post(base_url + path, json=body, timeout=TIMEOUT)
    if response.status_code != 200:
        return response.status_code, []
    assert response.headers["content-type"].startswith("text/event-stream")
    return 200, list(read_events(iter(response.text.splitlines())))


def chat(base_url: str, message: str) -> list[Event]:
    status, events = post(base_url, "/chat", {"session_id": SESSION, "message": message})
    assert status == 200
    return events


def pause_on(files: Files, message: str) -> Event:
    """Chat on an instance that is gone before anything else happens; the pause it left."""
    with files.server() as base_url:
        events = chat(base_url, message)
    assert events[-1].name == "approval_required"
    return events[-1]


def names(events: list[Event]) -> list[str]:
    return [e.name for e in events]


def test_a_balance_check_completes_in_the_stream(files: Files, store: ApprovalStore) -> None:
    with files.server() as base_url:
        events = chat(base_url, "check my balance")

    assert names(events) == ["tool_call", "tool_result", "text", "done"]
    assert events[0].data == {"tool": "get_balance", "args": {}}
    assert events[1].data == {"tool": "get_balance", "content": "1000.00", "is_error": False}
    assert events[2].data == {"text": "Your balance is 1000.00."}
    run_id = events[3].data["run_id"]
    assert store.load_run(run_id).status is RunStatus.COMPLETED
    assert store.list_requests(status=None).items == []


def test_a_transfer_of_100_runs_without_asking(files: Files, store: ApprovalStore) -> None:
    with files.server() as base_url:
        events = chat(base_url, "transfer 100 to Alice")

    assert names(events) == ["tool_call", "tool_result", "text", "done"]
    assert events[2].data["text"].startswith("Transfer complete.")
    (execution,) = store.calls(events[-1].data["run_id"]).values()
    assert (execution.tool, execution.args) == ("transfer", {"amount": 100, "recipient": "Alice"})
    assert execution.request_id is None
    assert Bank(files.bank).transfers() == [Transfer("you", "Alice", 100.0)]
    assert store.list_requests(status=None).items == []


def test_a_big_transfer_ends_the_stream_and_waits_in_the_store(
    files: Files, store: ApprovalStore
) -> None:
    with files.server() as base_url:
        response = httpx.post(
            base_url + "/chat",
            json={"session_id": SESSION, "message": "transfer 150 to Alice"},
            timeout=TIMEOUT,
        )  # returns only when the server has ended the response
        raw = response.text
        events = list(read_events(iter(raw.splitlines())))
        listed = httpx.get(base_url + "/pending", params={"session_id": SESSION}).json()
        others = httpx.get(base_url + "/pending", params={"session_id": "someone-else"}).json()

    assert names(events) == ["tool_call", "approval_required"]
    assert events[0].data == {"tool": "transfer", "args": {"amount": 150, "recipient": "Alice"}}
    pending = events[1].data
    assert pending["tool"] == "transfer"
    assert pending["args"] == {"amount": 150, "recipient": "Alice"}
    assert pending["reason"] == "amount 150 > 100"
    assert pending["session_id"] == SESSION
    assert events[1].id == pending["request_id"]
    assert "event: approval_required\ndata: {" in raw
    assert raw.rstrip("\n").endswith(f"id: {pending['request_id']}")

    request = store.get(pending["request_id"])
    assert request.status is RequestStatus.PENDING
    assert request.run_id == pending["run_id"]
    assert store.load_run(request.run_id).status is RunStatus.PAUSED
    assert store.calls(request.run_id) == {}
    assert Bank(files.bank).transfers() == []
    assert Bank(files.bank).balance() == 1000.0
    assert [p["request_id"] for p in listed] == [request.id]
    assert others == []


def test_a_fresh_instance_resumes_the_approved_transfer_exactly_once(
    files: Files, store: ApprovalStore
) -> None:
    paused = pause_on(files, "transfer 150 to Alice")
    request_id, run_id = paused.data["request_id"], paused.data["run_id"]

    with files.server() as fresh:  # new objects over the same files; the first server is gone
        status, events = post(fresh, f"/decisions/{request_id}", {"approved": True})

    assert status == 200
    assert names(events) == ["decision", "tool_result", "text", "done"]
    assert events[0].data == {"request_id": request_id, "outcome": "approved"}
    assert events[1].data == {
        "tool": "transfer",
        "content": "Sent 150.00 to Alice; your balance is now 850.00.",
        "is_error": False,
    }
    assert events[2].data["text"] == (
        "Transfer complete. Sent 150.00 to Alice; your balance is now 850.00."
    )
    assert events[3].data == {"run_id": run_id}
    (execution,) = store.calls(run_id).values()
    assert (execution.tool, execution.args, execution.request_id) == (
        "transfer",
        {"amount": 150, "recipient": "Alice"},
        request_id,
    )
    assert Bank(files.bank).transfers() == [Transfer("you", "Alice", 150.0)]
    assert Bank(files.bank).balance() == 850.0
    request = store.get(request_id)
    assert request.status is RequestStatus.RESUMED
    assert request.decision is not None
    assert (request.decision.kind, request.decision.by) == ("approve", f"customer:{SESSION}")
    kinds = [e.kind for e in store.audit(run_id=run_id)]
    assert kinds == ["created", "decided", "started", "executed", "resumed"]
    assert store.load_run(run_id).status is RunStatus.COMPLETED


def test_a_rejection_moves_no_money_and_the_model_is_told(
    files: Files, store: ApprovalStore
) -> None:
    paused = pause_on(files, "transfer 500 to Alice")
    request_id, run_id = paused.data["request_id"], paused.data["run_id"]
    feedback = "Not today, I'll call Alice first."
    model = scripted_model()

    with files.server(model) as fresh:
        status, events = post(
            fresh, f"/decisions/{request_id}", {"approved": False, "feedback": feedback}
        )

    assert status == 200
    assert names(events) == ["decision", "tool_result", "text", "done"]
    assert events[0].data["outcome"] == "rejected"
    assert events[1].data["is_error"] is True
    assert events[2].data["text"] == f"The transfer was not made: {feedback}"
    told = model.prompts[-1][-1]
    assert (told.role, told.name, told.is_error) == ("tool", "transfer", True)
    assert told.content is not None
    assert told.content.endswith(f"Reviewer feedback: {feedback}")
    stored = LoopState.load(run_id, store.load_run(run_id).state)
    assert stored.messages[-2] == told
    assert store.calls(run_id) == {}
    assert Bank(files.bank).transfers() == []
    assert Bank(files.bank).balance() == 1000.0


def test_a_second_decision_is_refused_and_nothing_runs_again(
    files: Files, store: ApprovalStore
) -> None:
    paused = pause_on(files, "transfer 150 to Alice")
    request_id, run_id = paused.data["request_id"], paused.data["run_id"]

    with files.server() as fresh:
        first, _ = post(fresh, f"/decisions/{request_id}", {"approved": True})
        again = httpx.post(f"{fresh}/decisions/{request_id}", json={"approved": True})
        reversed_ = httpx.post(f"{fresh}/decisions/{request_id}", json={"approved": False})

    assert first == 200
    assert (again.status_code, reversed_.status_code) == (409, 409)
    assert request_id in again.json()["detail"]
    assert len(store.calls(run_id)) == 1
    assert Bank(files.bank).transfers() == [Transfer("you", "Alice", 150.0)]
    kinds = [e.kind for e in store.audit(run_id=run_id)]
    assert kinds == ["created", "decided", "started", "executed", "resumed"]


def test_an_unknown_request_is_404(files: Files, store: ApprovalStore) -> None:
    with files.server() as base_url:
        response = httpx.post(f"{base_url}/decisions/req_nope", json={"approved": True})

    assert response.status_code == 404
    assert store.audit() == []
    assert Bank(files.bank).transfers() == []


def test_python_m_examples_banking_chat_runs_offline(tmp_path: Path) -> None:
    done = run_example("examples.banking_chat", "--workdir", str(tmp_path))

    assert done.returncode == 0, done.stdout + done.stderr
    for line in (
        "bank> Your balance is 1000.00.",
        "bank> Transfer complete. Sent 50.00 to Alice; your balance is now 950.00.",
        "[approval_required] transfer {'amount': 150, 'recipient': 'Alice'}: amount 150 > 100",
        "[decision] approved",
        "bank> Transfer complete. Sent 150.00 to Alice; your balance is now 800.00.",
        "[decision] rejected",
        "bank> The transfer was not made: Not today, I'll call Alice first.",
        "Balances: you 800.00, Alice 200.00",
        "All outcomes as expected.",
    ):
        assert line in done.stdout
    assert Bank(tmp_path / "bank.db").transfers() == [
        Transfer("you", "Alice", 50.0),
        Transfer("you", "Alice", 150.0),
    ]
