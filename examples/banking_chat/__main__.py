"""Play a customer's chat session against the API, offline; or serve the API for manual use.

    python -m examples.banking_chat [--workdir DIR]     # the demo; exit 1 if anything differs
    python -m examples.banking_chat --serve [--port N]  # keep serving on 127.0.0.1

The demo runs two instances of the app over the same SQLite files: the chat goes to one,
the decisions to the other, so every resume is provably from the store, not from memory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from examples.banking_chat.app import create_app
from examples.banking_chat.bank import CUSTOMER, Bank
from examples.banking_chat.client import Event, post_events
from examples.banking_chat.server import running

Say = Callable[[str], None]


def show(event: Event) -> str:
    data = event.data
    if event.name == "text":
        return f"bank> {data['text']}"
    if event.name == "tool_call":
        return f"  [tool_call] {data['tool']} {data['args']}"
    if event.name == "tool_result":
        return f"  [tool_result] {data['tool']}: {data['content']}"
    if event.name == "approval_required":
        return (
            f"  [approval_required] {data['tool']} {data['args']}: {data['reason']}"
            f" (request {data['request_id']})"
        )
    if event.name == "decision":
        return f"  [decision] {data['outcome']}"
    return f"  [{event.name}] {data}"


class Customer:
    """One chat session: messages go to the chat server, answers to the decisions server."""

    def __init__(self, chat: httpx.Client, decisions: httpx.Client, say: Say) -> None:
        self.chat, self.decisions, self.say = chat, decisions, say
        self.problems: list[str] = []

    def _stream(self, client: httpx.Client, path: str, body: dict[str, Any]) -> list[Event]:
        events = []
        for event in post_events(client, path, body):
            self.say(show(event))
            events.append(event)
        if events and events[-1].name == "approval_required":
            self.say("  (the stream has closed; the transfer waits in the store)")
        return events

    def send(self, message: str) -> list[Event]:
        self.say(f"\nyou> {message}")
        return self._stream(self.chat, "/chat", {"session_id": "demo", "message": message})

    def answer(
        self, request_id: str, *, approved: bool, feedback: str | None = None
    ) -> list[Event]:
        self.say(
            f"\nyou click {'Approve' if approved else 'Decline'}"
            + (f": {feedback}" if feedback else "")
        )
        body = {"approved": approved, "feedback": feedback}
        return self._stream(self.decisions, f"/decisions/{request_id}", body)

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)
            self.say(f"  !! unexpected: {what}")

    def expect_text(self, events: list[Event], start: str) -> None:
        texts = [e.data["text"] for e in events if e.name == "text"]
        self.expect(bool(texts) and texts[-1].startswith(start), f"expected {start!r}, got {texts}")

    def expect_pause(self, events: list[Event]) -> str:
        """The request id the stream stopped on ("" if it did not stop on one)."""
        last = events[-1] if events else None
        paused = last is not None and last.name == "approval_required"
        self.expect(paused, f"expected the stream to end with approval_required, got {last}")
        return str(last.data["request_id"]) if paused and last else ""


def play(customer: Customer) -> None:
    """The session: balance, a small transfer, one approved and one declined big transfer."""
    customer.expect_text(customer.send("check my balance"), "Your balance is 1000.00")
    events = customer.send("transfer 50 to Alice")
    names = [e.name for e in events]
    customer.expect(
        names == ["tool_call", "tool_result", "text", "done"], f"small transfer: {names}"
    )
    customer.expect_text(events, "Transfer complete")

    request_id = customer.expect_pause(customer.send("transfer 150 to Alice"))
    waiting = customer.decisions.get("/pending", params={"session_id": "demo"}).json()
    customer.say(f"  GET /pending -> {[(p['tool'], p['args']) for p in waiting]}")
    customer.expect([p["request_id"] for p in waiting] == [request_id], f"pending: {waiting}")
    if request_id:
        customer.expect_text(customer.answer(request_id, approved=True), "Transfer complete")
    customer.expect_text(customer.send("check my balance"), "Your balance is 800.00")

    request_id = customer.expect_pause(customer.send("transfer 500 to Alice"))
    if request_id:
        events = customer.answer(
            request_id, approved=False, feedback="Not today, I'll call Alice first."
        )
        customer.expect_text(events, "The transfer was not made")
    customer.expect_text(customer.send("check my balance"), "Your balance is 800.00")


def demo(workdir: Path) -> int:
    store_url, bank_path = f"sqlite:///{workdir / 'approvals.db'}", workdir / "bank.db"
    print(f"Banking chat files in {workdir}")
    with (
        running(create_app(store_url, bank_path)) as chat_url,
        running(create_app(store_url, bank_path)) as decisions_url,
    ):
        print(f"Chat at {chat_url}; decisions at a second instance, {decisions_url}")
        with (
            httpx.Client(base_url=chat_url, timeout=30) as chat,
            httpx.Client(base_url=decisions_url, timeout=30) as decisions,
        ):
            customer = Customer(chat, decisions, print)
            play(customer)
    bank = Bank(bank_path)
    print(f"\nBalances: {CUSTOMER} {bank.balance():.2f}, Alice {bank.balance('Alice'):.2f}")
    print(f"Transfers made: {[(t.recipient, t.amount) for t in bank.transfers()]}")
    if customer.problems:
        print(f"{len(customer.problems)} unexpected outcome(s).")
        return 1
    print("All outcomes as expected.")
    return 0


def serve(workdir: Path, port: int) -> int:
    store_url, bank_path = f"sqlite:///{workdir / 'approvals.db'}", workdir / "bank.db"
    print(f"Banking chat files in {workdir}. Try:")
    print(
        f"  curl -N -X POST localhost:{port}/chat -H 'content-type: application/json' "
        '-d \'{"session_id": "s1", "message": "transfer 150 to Alice"}\''
    )
    print(f"  curl localhost:{port}/pending")
    print(
        f"  curl -N -X POST localhost:{port}/decisions/REQUEST_ID "
        "-H 'content-type: application/json' -d '{\"approved\": true}'"
    )
    uvicorn.run(create_app(store_url, bank_path), host="127.0.0.1", port=port)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.banking_chat", description=__doc__)
    parser.add_argument("--serve", action="store_true", help="keep the API running")
    parser.add_argument("--port", type=int, default=8000, help="port for --serve")
    parser.add_argument("--workdir", type=Path, help="where the SQLite files go")
    args = parser.parse_args(argv)
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="hitl-bank-"))
    workdir.mkdir(parents=True, exist_ok=True)
    return serve(workdir, args.port) if args.serve else demo(workdir)


if __name__ == "__main__":
    sys.exit(main())
