"""The model port: messages and tool specs in, one assistant message out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from hitl_loop.messages import Message, ToolSpec

__all__ = ["ChatModel"]


@runtime_checkable
class ChatModel(Protocol):
    """Anything that can take the next turn of a tool-calling conversation.

    It must be safe to call again with the same messages after a crash: resuming a
    run can repeat the last model call.
    """

    def complete(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> Message:
        """The assistant's next message: text, tool calls, or both."""
        ...
