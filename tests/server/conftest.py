"""The review API under test: real stores, a real uvicorn on loopback, real reviewers.

`serve_api` starts `create_app` over the `store` fixture (memory, SQLite, PostgreSQL)
and hands back a `LiveServer` whose `client(token)` speaks HTTP to it. `PaymentsAgent`
is the `hitl_loop` payments agent the resume tests pause and the server resumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hitl_core import ApprovalStore, AuditEvent, Policy
from hitl_core.access import Reviewer
from hitl_core.reviewers import Reviewers
from hitl_core.stores import RunStatus
from hitl_core.worker import Registry, Resume
from hitl_loop import Paused, ToolLoop
from hitl_server.app import create_app
from tests.loop.payments_app import build, ledger_entries
from tests.server.live import serve

ALICE = "alice-token"
"""Alice, in the finance role."""
BOB = "bob-token"
"""Bob, no roles; he starts the runs in the self-approval tests."""
CAROL = "carol-token"
"""Carol, in the ops role."""
TOKENS = {
    ALICE: Reviewer(id="alice", roles=("finance",)),
    BOB: Reviewer(id="bob"),
    CAROL: Reviewer(id="carol", roles=("ops",)),
}
REVIEWERS = Reviewers.from_tokens(TOKENS)
WAIT = 15.0
"""Longest a test waits for a background resume."""


@dataclass
class LiveServer:
    """A running review server and the store behind it."""

    url: str
    store: ApprovalStore
    stack: ExitStack

    def client(self, token: str | None = ALICE) -> httpx.Client:
        """An HTTP client sending `token` as a bearer token (None: no Authorization)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=10)
        return self.stack.enter_context(client)

    def audit(self) -> list[AuditEvent]:
        return self.store.audit()


ServeApi = Callable[..., LiveServer]


@pytest.fixture
def serve_api(store: ApprovalStore) -> Iterator[ServeApi]:
    """Start a review server over `store`: ``serve_api(policy=..., registry=...)``."""
    with ExitStack() as stack:

        def start(
            *, policy: Policy | None = None, registry: Registry | None = None, poll: float = 0.05
        ) -> LiveServer:
            app = create_app(
                store, reviewers=REVIEWERS, policy=policy, registry=registry, event_poll=poll
            )
            return LiveServer(stack.enter_context(serve(app)), store, stack)

        yield start


@pytest.fixture
def api(serve_api: ServeApi) -> LiveServer:
    """A review server with no policy and no registry."""
    return serve_api()


def pay(amount: float, recipient: str = "Acme Corp", call_id: str = "call_pay") -> dict[str, Any]:
    return {
        "id": call_id,
        "name": "send_payment",
        "args": {"amount": amount, "recipient": recipient},
    }


class PaymentsAgent:
    """The `hitl_loop` payments agent: one payment over 1000 pauses, then it answers."""

    def __init__(self, store: ApprovalStore, tmp_path: Path, amount: float = 4200) -> None:
        self.store = store
        self.ledger = tmp_path / f"ledger-{time.monotonic_ns()}.jsonl"
        self.script: list[Any] = [[pay(amount)], "Paid."]
        self.loop = self.build(store)

    def build(self, store: ApprovalStore) -> ToolLoop:
        return build(store, self.ledger, self.script)

    @property
    def registry(self) -> Registry:
        def resumer(store: ApprovalStore) -> Resume:
            return self.build(store).resume

        return {"hitl_loop": resumer}

    def pause(self, requested_by: str | None = None) -> Paused:
        """Start a run that pauses on the payment (started by `requested_by`, if given)."""
        context = {"requested_by": requested_by} if requested_by else None
        paused = self.loop.start("Pay Acme", context=context)
        assert isinstance(paused, Paused)
        return paused

    def executed(self) -> list[dict[str, Any]]:
        """Every tool call that really ran, from the ledger."""
        return ledger_entries(self.ledger)

    def wait_until_finished(self, run_id: str, timeout: float = WAIT) -> RunStatus:
        """Poll the store until the run is no longer paused; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.store.load_run(run_id).status
            if status is not RunStatus.PAUSED:
                return status
            time.sleep(0.02)
        raise AssertionError(f"run {run_id} still paused after {timeout} s")


def error_of(response: httpx.Response) -> tuple[int, str]:
    """(status, the ErrorBody's `error`) of a refusal."""
    body = response.json()
    assert set(body) >= {"error", "message"}, body
    return response.status_code, body["error"]
