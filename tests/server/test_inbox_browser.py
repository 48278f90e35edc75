"""The web inbox end to end: the real app on loopback, driven by headless Chromium.

A payments agent (`hitl_loop`) pauses on every payment over 1,000. A reviewer signs in to
the inbox and approves, edits or rejects; the app resumes each run. The assertions look
at what really happened: the recording tool's calls, what the model was told, and the
audit trail. Chromium is the distribution's (``make browser`` installs it).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright

from hitl_core import ApprovalStore, AuditKind, Policy, RunStatus, arg, open_store
from hitl_core.access import Reviewer
from hitl_core.reviewers import Reviewers
from hitl_core.worker import Resume
from hitl_loop import LoopState, Message, Paused, ScriptedModel, ToolCall, ToolLoop
from hitl_server.app import create_app
from tests.server.live import serve

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 10_000
"""How long the page may take to show a change (a live event, a resumed run)."""

ALICE = "alice-token-for-the-inbox-test"
BOB = "bob-token-for-the-inbox-test"
CAROL = "carol-token-for-the-inbox-test"
REQUESTER = "carol"
"""Who starts every run; she may not approve her own payments."""
POLICY = Policy({"send_payment": arg("amount") > 1000})


# -- the agent ---------------------------------------------------------------------------


class Payments:
    """The agent: pays what its prompt names, through a `send_payment` that records calls."""

    def __init__(self, store: ApprovalStore) -> None:
        self.store = store
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def build(self, store: ApprovalStore) -> ToolLoop:
        """The loop on `store`; the app's registry builds it again to resume runs."""

        def send_payment(amount: float, recipient: str) -> str:
            """Send money to a recipient."""
            with self._lock:
                self.calls.append({"amount": amount, "recipient": recipient})
            return f"paid {amount} to {recipient}"

        model = ScriptedModel([_pay_what_the_prompt_says, _report])
        return ToolLoop(model, [send_payment], policy=POLICY, store=store)

    def resume_on(self, store: ApprovalStore) -> Resume:
        return self.build(store).resume

    def start(self, amount: float, recipient: str) -> str:
        """Start a run that pauses on its payment; its run id."""
        prompt = json.dumps({"amount": amount, "recipient": recipient})
        outcome = self.build(self.store).start(prompt, context={"requested_by": REQUESTER})
        assert isinstance(outcome, Paused)
        return outcome.run_id

    def wait_completed(self, run_id: str) -> None:
        deadline = time.monotonic() + WAIT_MS / 1000
        while self.store.load_run(run_id).status is not RunStatus.COMPLETED:
            assert time.monotonic() < deadline, f"run {run_id} was not resumed to the end"
            time.sleep(0.05)

    def ran(self, recipient: str) -> list[dict[str, Any]]:
        """The payments that really went to `recipient`."""
        with self._lock:
            return [c for c in self.calls if c["recipient"] == recipient]

    def told(self, run_id: str) -> list[tuple[str | None, bool]]:
        """What the model read in place of each tool result: (content, is_error)."""
        state = LoopState.model_validate_json(self.store.load_run(run_id).state)
        return [(m.content, m.is_error) for m in state.messages if m.role == "tool"]


def _pay_what_the_prompt_says(messages: Sequence[Message]) -> Message:
    order = json.loads(next(m.content for m in messages if m.role == "user") or "{}")
    return Message.assistant(tool_calls=(ToolCall(id="pay", name="send_payment", args=order),))


def _report(messages: Sequence[Message]) -> str:
    return f"Done: {messages[-1].content}"


# -- fixtures ----------------------------------------------------------------------------


@dataclass
class Inbox:
    url: str
    store: ApprovalStore
    payments: Payments


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module; each test opens its own context."""
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs Chromium at {CHROMIUM}; `make browser` installs it")
        pytest.skip(f"no Chromium at {CHROMIUM}; `make browser` installs it")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    """The review app over a fresh SQLite store, resuming `hitl_loop` runs, on loopback."""
    store = open_store(f"sqlite:///{tmp_path / 'hitl.db'}")
    payments = Payments(store)
    reviewers = Reviewers.from_tokens(
        {
            ALICE: Reviewer(id="alice", roles=("finance",)),
            BOB: Reviewer(id="bob", roles=("finance",)),
            CAROL: Reviewer(id=REQUESTER),
        }
    )
    app = create_app(store, reviewers=reviewers, registry={"hitl_loop": payments.resume_on})
    with serve(app) as url:
        yield Inbox(url, store, payments)
    store.close()


@pytest.fixture
def page(browser: Browser, inbox: Inbox) -> Iterator[Page]:
    """A fresh browser context, closed (ending its event stream) before the server stops.

    Fails the test if the page's script raised anything uncaught.
    """
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], f"the page raised: {errors}"


def sign_in(page: Page, inbox: Inbox, token: str = ALICE) -> None:
    page.goto(inbox.url + "/")
    page.get_by_label("Reviewer token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def card(page: Page, run_id: str) -> Locator:
    """The listed request of run `run_id`."""
    return page.locator(f'[data-testid="request"][data-run-id="{run_id}"]')


# -- tests -------------------------------------------------------------------------------


def test_a_reviewer_approves_edits_and_rejects_in_the_browser(page: Page, inbox: Inbox) -> None:
    """Each decision made in the page runs (or doesn't) what the reviewer chose."""
    payments = inbox.payments
    first = payments.start(4200, "Acme Corp")
    second = payments.start(2500, "Globex")
    third = payments.start(1800, "Initech")

    sign_in(page, inbox)
    expect(page.get_by_test_id("whoami")).to_have_text("Signed in as alice (finance)")
    expect(page.get_by_test_id("request")).to_have_count(3)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    for run_id, amount, recipient in [
        (first, "4200", "Acme Corp"),
        (second, "2500", "Globex"),
        (third, "1800", "Initech"),
    ]:
        shown = card(page, run_id)
        expect(shown.get_by_test_id("request-tool")).to_have_text("send_payment")
        expect(shown.get_by_test_id("request-reason")).to_have_text(f"amount {amount} > 1000")
        expect(shown.locator('tr[data-arg="amount"] td')).to_have_text(amount)
        expect(shown.locator('tr[data-arg="recipient"] td')).to_have_text(recipient)
        expect(shown.get_by_test_id("request-requester")).to_have_text(REQUESTER)
        expect(shown.get_by_test_id("request-run")).to_have_text(run_id)

    card(page, first).get_by_role("button", name="Approve").click()
    expect(card(page, first)).to_have_count(0)

    editing = card(page, second)
    editing.get_by_role("button", name="Edit arguments").click()
    expect(editing.get_by_label("recipient")).to_have_value("Globex")
    editing.get_by_label("amount").fill("900")
    editing.get_by_role("button", name="Run with these arguments").click()
    expect(card(page, second)).to_have_count(0)

    rejecting = card(page, third)
    rejecting.get_by_role("button", name="Reject").click()
    rejecting.get_by_label("Feedback for the agent").fill("not this vendor")
    rejecting.get_by_role("button", name="Reject the call").click()
    expect(card(page, third)).to_have_count(0)
    expect(page.get_by_test_id("empty")).to_be_visible()

    for run_id in (first, second, third):
        payments.wait_completed(run_id)
    assert payments.ran("Acme Corp") == [{"amount": 4200, "recipient": "Acme Corp"}]
    assert payments.ran("Globex") == [{"amount": 900, "recipient": "Globex"}]
    assert payments.ran("Initech") == []
    [(edited, edited_is_error)] = payments.told(second)
    assert edited is not None
    assert edited.startswith("Note: a human reviewer edited this call before it ran.")
    assert '"amount": 900' in edited
    assert not edited_is_error
    [(rejected, rejected_is_error)] = payments.told(third)
    assert rejected is not None
    assert "rejected the call to `send_payment`" in rejected
    assert "Reviewer feedback: not this vendor" in rejected
    assert rejected_is_error

    decided = [e for e in inbox.store.audit() if e.kind is AuditKind.DECIDED]
    assert sorted((e.run_id, e.decision, e.actor) for e in decided) == sorted(
        [(first, "approve", "alice"), (second, "edit", "alice"), (third, "reject", "alice")]
    )
    [edit_event] = [e for e in decided if e.run_id == second]
    assert edit_event.edited_args == {"amount": 900, "recipient": "Globex"}


def test_the_list_follows_live_events(page: Page, inbox: Inbox) -> None:
    """A new request appears without a reload; one decided elsewhere disappears."""
    sign_in(page, inbox)
    expect(page.get_by_test_id("empty")).to_be_visible()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")

    run_id = inbox.payments.start(5000, "Umbrella")
    arrived = card(page, run_id)
    expect(arrived).to_be_visible()
    expect(arrived.get_by_test_id("request-reason")).to_have_text("amount 5000 > 1000")
    expect(page.get_by_test_id("empty")).to_be_hidden()

    request_id = arrived.get_attribute("data-request-id")
    response = httpx.post(
        f"{inbox.url}/v1/requests/{request_id}/decision",
        json={"type": "reject", "feedback": "duplicate"},
        headers={"Authorization": f"Bearer {BOB}"},
    )
    assert response.status_code == 200, response.text
    expect(card(page, run_id)).to_have_count(0)
    expect(page.get_by_test_id("note").first).to_contain_text("rejected by bob")
    inbox.payments.wait_completed(run_id)
    assert inbox.payments.ran("Umbrella") == []


def test_a_wrong_token_shows_the_error_and_lists_nothing(page: Page, inbox: Inbox) -> None:
    inbox.payments.start(4200, "Acme Corp")
    sign_in(page, inbox, token="not-a-token")
    expect(page.get_by_test_id("sign-in-error")).to_contain_text("not accepted (401)")
    expect(page.get_by_test_id("inbox")).to_be_hidden()
    expect(page.get_by_test_id("request")).to_have_count(0)
    assert page.evaluate("sessionStorage.length") == 0
    assert "token" not in page.url


def test_the_token_lasts_the_tab_and_stays_out_of_the_url(page: Page, inbox: Inbox) -> None:
    run_id = inbox.payments.start(4200, "Acme Corp")
    sign_in(page, inbox)
    expect(card(page, run_id)).to_be_visible()
    assert ALICE not in page.url
    page.reload()
    expect(page.get_by_test_id("whoami")).to_have_text("Signed in as alice (finance)")
    expect(card(page, run_id)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_test_id("request")).to_have_count(0)
    assert page.evaluate("sessionStorage.length") == 0


def test_refusals_stay_next_to_the_request(page: Page, inbox: Inbox) -> None:
    """422 (invalid edit, with the core's reason) and 403 (self-approval) keep it listed."""
    run_id = inbox.payments.start(4200, "Acme Corp")
    sign_in(page, inbox)
    editing = card(page, run_id)
    editing.get_by_role("button", name="Edit arguments").click()
    editing.get_by_label("amount").fill('"lots"')
    editing.get_by_role("button", name="Run with these arguments").click()
    error = editing.get_by_test_id("request-error")
    expect(error).to_contain_text("(422)")
    expect(error).to_contain_text("amount: 'lots' is not of type 'number'")
    expect(card(page, run_id)).to_have_count(1)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, inbox, token=CAROL)
    own = card(page, run_id)
    expect(own.get_by_test_id("own-run")).to_contain_text("another reviewer must approve")
    expect(own.get_by_role("button", name="Approve")).to_have_count(0)
    expect(own.get_by_role("button", name="Edit arguments")).to_have_count(0)
    expect(own.get_by_role("button", name="Reject")).to_have_count(1)
    # The page only hides the buttons; the server is what refuses (403, nothing changes).
    refused = page.evaluate(
        """async ([id, token]) => {
            const response = await fetch(`/v1/requests/${id}/decision`, {
                method: "POST",
                headers: {"Authorization": `Bearer ${token}`, "Content-Type": "application/json"},
                body: JSON.stringify({type: "approve"}),
            });
            return [response.status, (await response.json()).error];
        }""",
        [inbox.store.list_requests(run_id=run_id).items[0].id, CAROL],
    )
    assert refused == [403, "SelfApproval"]
    expect(card(page, run_id)).to_have_count(1)
    assert inbox.payments.ran("Acme Corp") == []


def test_a_request_decided_meanwhile_is_refreshed_away(page: Page, inbox: Inbox) -> None:
    """409: someone decided first (and the page missed the event); the list refreshes."""
    run_id = inbox.payments.start(4200, "Acme Corp")
    page.route("**/v1/events*", lambda route: route.abort())
    sign_in(page, inbox)
    shown = card(page, run_id)
    request_id = shown.get_attribute("data-request-id")
    response = httpx.post(
        f"{inbox.url}/v1/requests/{request_id}/decision",
        json={"type": "approve"},
        headers={"Authorization": f"Bearer {BOB}"},
    )
    assert response.status_code == 200, response.text
    shown.get_by_role("button", name="Approve").click()
    expect(card(page, run_id)).to_have_count(0)
    expect(page.get_by_test_id("note").first).to_contain_text("already")
    inbox.payments.wait_completed(run_id)
    assert inbox.payments.ran("Acme Corp") == [{"amount": 4200, "recipient": "Acme Corp"}]


def test_the_stream_reconnects_with_the_last_event_id(page: Page, inbox: Inbox) -> None:
    seen: list[dict[str, str]] = []

    def drop_first(route: Route) -> None:
        seen.append({"url": route.request.url, **route.request.headers})
        if len(seen) == 1:  # a stream that ends at once, as when a proxy drops it
            route.fulfill(status=200, content_type="text/event-stream", body=": hello\nid: 41\n\n")
        else:
            route.continue_()

    page.route("**/v1/events*", drop_first)
    sign_in(page, inbox)
    connection = page.get_by_test_id("connection")
    expect(connection).to_have_attribute("data-state", "reconnecting")
    expect(connection).to_have_attribute("data-state", "live")
    assert "last-event-id" not in seen[0]
    assert seen[1]["last-event-id"] == "41"
    assert "after=41" in seen[1]["url"]
    assert seen[1]["authorization"] == f"Bearer {ALICE}"


def test_the_event_parser_follows_the_standard(page: Page, inbox: Inbox) -> None:
    """CRLF/CR/LF line ends, comments, ids, retry, and chunks split anywhere."""
    sign_in(page, inbox)
    parsed = page.evaluate(
        """async () => {
          const { readEventStream } = await import("./inbox.js");
          const text = "\\uFEFF: comment\\r\\nid: 1\\r\\nevent: created\\r\\ndata: {\\"é\\"\\r\\n"
            + "data:1}\\r\\n\\r\\nid: 2\\nretry: 2500\\n\\nevent: decided\\rdata: y\\r\\r"
            + "data: never dispatched";
          const bytes = new TextEncoder().encode(text);
          const body = new ReadableStream({ start(c) {
            // one byte per chunk: every CRLF and both bytes of the é are split apart
            for (const b of bytes) c.enqueue(new Uint8Array([b]));
            c.close();
          } });
          const events = [], ids = [], retries = [];
          await readEventStream(body, {
            onEvent: (e) => events.push(e),
            onId: (i) => ids.push(i),
            onRetry: (r) => retries.push(r),
          });
          return { events, ids, retries };
        }"""
    )
    assert parsed == {
        "events": [
            {"type": "created", "data": '{"é"\n1}', "id": "1"},
            {"type": "decided", "data": "y", "id": "2"},
        ],
        "ids": ["1", "2"],
        "retries": [2500],
    }
