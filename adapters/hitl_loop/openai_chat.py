"""A `ChatModel` on the official `openai` client's chat-completions tool calls."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hitl_core.errors import MissingDependency
from hitl_loop.messages import Message, ToolCall, ToolSpec

__all__ = ["OpenAIChatModel", "to_openai_messages"]


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Our messages in the chat-completions wire format."""
    wire: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            wire.append(
                {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content or ""}
            )
        elif m.role == "assistant" and m.tool_calls:
            wire.append(
                {
                    "role": "assistant",
                    "content": m.content,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": json.dumps(c.args)},
                        }
                        for c in m.tool_calls
                    ],
                }
            )
        else:
            wire.append({"role": m.role, "content": m.content or ""})
    return wire


class OpenAIChatModel:
    """Calls ``client.chat.completions.create`` with the loop's tools.

    Args:
        model: the model name, e.g. ``"gpt-4o-mini"``.
        client: an ``openai.OpenAI`` client; one is created from the environment if omitted.
        **params: passed to every request (``temperature=0``, ``parallel_tool_calls=False``...).
    """

    def __init__(self, model: str = "gpt-4o-mini", *, client: Any = None, **params: Any) -> None:
        if client is None:
            try:
                import openai
            except ModuleNotFoundError as error:
                raise MissingDependency("openai", "openai") from error
            client = openai.OpenAI()
        self.client = client
        self.model = model
        self.params = params

    def complete(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> Message:
        request: dict[str, Any] = {"model": self.model, "messages": to_openai_messages(messages)}
        if tools:
            request["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in tools
            ]
        response = self.client.chat.completions.create(**request, **self.params)
        reply = response.choices[0].message
        calls = tuple(
            ToolCall(id=c.id, name=c.function.name, args=_arguments(c.function.arguments))
            for c in (reply.tool_calls or [])
        )
        return Message.assistant(reply.content, calls)


def _arguments(text: str) -> dict[str, Any]:
    """The call's arguments; text that is not a JSON object is kept for the error message."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"__unparsed__": text}
    return value if isinstance(value, dict) else {"__unparsed__": text}
