"""`OpenAIChatModel` through the real `openai` client, with only the HTTP endpoint scripted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai

from hitl_core import Decision, open_store
from hitl_loop import Completed, OpenAIChatModel, Paused, ToolLoop
from tests.loop.payments_app import POLICY, ledger_entries


def completion(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", **message}}
        ],
    }


class FakeEndpoint:
    """Answers chat-completions requests from a script and keeps every request body."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/chat/completions")
        body = json.loads(request.content)
        self.requests.append(body)
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        return httpx.Response(200, json=completion(self.replies[turn]))

    def model(self) -> OpenAIChatModel:
        client = openai.OpenAI(
            api_key="test-key",
            base_url="http://llm.test/v1",
            http_client=httpx.Client(transport=httpx.MockTransport(self)),
            max_retries=0,
        )
        return OpenAIChatModel("gpt-4o-mini", client=client, temperature=0)


REPLIES: list[dict[str, Any]] = [
    {
        "content": None,
        "tool_calls": [
            {
                "id": "call_abc",
                "type": "function",
                "function": {
                    "name": "send_payment",
                    "arguments": '{"amount": 4200, "recipient": "Acme Corp"}',
                },
            }
        ],
    },
    {"content": "Paid Acme Corp 4,200."},
]


def test_a_paused_openai_run_resumes_with_the_tool_result_in_the_wire_format(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'hitl.db'}")
    ledger = tmp_path / "ledger.jsonl"

    def build(endpoint: FakeEndpoint) -> ToolLoop:
        def send_payment(amount: float, recipient: str) -> str:
            """Send money to a recipient."""
            with ledger.open("a") as f:
                f.write(
                    json.dumps(
                        {"tool": "send_payment", "args": {"amount": amount, "recipient": recipient}}
                    )
                    + "\n"
                )
            return f"paid {amount} to {recipient}"

        return ToolLoop(
            endpoint.model(), [send_payment], policy=POLICY, store=store, system="You pay vendors."
        )

    first = FakeEndpoint(REPLIES)
    paused = build(first).start("Pay Acme Corp 4200")
    assert isinstance(paused, Paused)
    [request] = paused.requests
    assert request.action.call_id == "call_abc"
    assert request.action.args == {"amount": 4200, "recipient": "Acme Corp"}
    [sent] = first.requests
    assert sent["model"] == "gpt-4o-mini"
    assert sent["temperature"] == 0
    assert sent["messages"] == [
        {"role": "system", "content": "You pay vendors."},
        {"role": "user", "content": "Pay Acme Corp 4200"},
    ]
    tools = {t["function"]["name"]: t["function"] for t in sent["tools"]}
    assert set(tools) == {"send_payment", "ask_human"}
    assert tools["send_payment"]["parameters"]["required"] == ["amount", "recipient"]
    assert tools["send_payment"]["description"] == "Send money to a recipient."

    store.decide(request.id, Decision.approve(by="ana"))
    second = FakeEndpoint(REPLIES)
    done = build(second).resume(paused.run_id)
    assert isinstance(done, Completed)
    assert done.output == "Paid Acme Corp 4,200."
    assert ledger_entries(ledger) == [
        {"tool": "send_payment", "args": {"amount": 4200.0, "recipient": "Acme Corp"}}
    ]
    [resent] = second.requests
    assert resent["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_abc",
                "type": "function",
                "function": {
                    "name": "send_payment",
                    "arguments": '{"amount": 4200, "recipient": "Acme Corp"}',
                },
            }
        ],
    }
    assert resent["messages"][3] == {
        "role": "tool",
        "tool_call_id": "call_abc",
        "content": "paid 4200.0 to Acme Corp",
    }


def test_unparseable_arguments_go_back_to_the_model_as_an_error(tmp_path: Path) -> None:
    replies: list[dict[str, Any]] = [
        {
            "content": None,
            "tool_calls": [
                {
                    "id": "call_bad",
                    "type": "function",
                    "function": {"name": "send_payment", "arguments": "{oops"},
                }
            ],
        },
        {"content": "Sorry."},
    ]
    endpoint = FakeEndpoint(replies)
    store = open_store("memory://")
    ran: list[float] = []

    def send_payment(amount: float, recipient: str) -> str:
        """Send money."""
        ran.append(amount)
        return "paid"

    done = ToolLoop(endpoint.model(), [send_payment], policy=POLICY, store=store).start("Pay")
    assert isinstance(done, Completed)
    assert ran == []
    tool_message = endpoint.requests[1]["messages"][-1]
    assert tool_message["tool_call_id"] == "call_bad"
    assert tool_message["content"].startswith("Invalid arguments for send_payment:")
    assert store.list_requests(status=None).items == []
