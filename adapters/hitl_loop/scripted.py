"""A deterministic fake model that plays a script: for tests, demos and conformance.

It keeps no state of its own: the turn it plays is the number of assistant messages
already in the conversation. So a run paused in one process and resumed in another
continues the script exactly where it stopped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from hitl_loop.messages import Message, ToolCall, ToolSpec

__all__ = ["ScriptExhausted", "ScriptedModel", "call"]

Reply = Callable[[Sequence[Message]], "str | Message"]
"""A step computed from the conversation so far: a final answer quoting a result, or a
turn of tool calls whose arguments depend on the prompt."""
Step = str | ToolCall | Sequence[ToolCall] | Message | Reply


class ScriptExhausted(RuntimeError):
    """The conversation went past the last scripted turn."""


def call(name: str, args: dict[str, Any] | None = None, *, id: str | None = None) -> ToolCall:
    """A scripted tool call; its id defaults to one derived from its turn and position."""
    return ToolCall(id=id or "", name=name, args=args or {})


class ScriptedModel:
    """Plays `steps` in order: a string is a final answer, calls are a tool-calling turn.

    A callable step receives the conversation and returns the final answer's text or an
    assistant `Message`.
    """

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = [
            step if callable(step) else self._as_message(i, step) for i, step in enumerate(steps)
        ]
        self.prompts: deque[list[Message]] = deque(maxlen=100)
        """The last 100 conversations this instance was asked to continue, for assertions."""

    @staticmethod
    def _as_message(turn: int, step: str | ToolCall | Sequence[ToolCall] | Message) -> Message:
        if isinstance(step, Message):
            return step
        if isinstance(step, str):
            return Message.assistant(step)
        calls = [step] if isinstance(step, ToolCall) else list(step)
        numbered = tuple(
            c if c.id else c.model_copy(update={"id": f"call_{turn}_{i}"})
            for i, c in enumerate(calls)
        )
        return Message.assistant(tool_calls=numbered)

    def complete(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> Message:
        self.prompts.append(list(messages))
        turn = sum(1 for m in messages if m.role == "assistant")
        if turn >= len(self.steps):
            raise ScriptExhausted(
                f"The script has {len(self.steps)} turns and the conversation asks for turn "
                f"{turn + 1}; add a final answer to the script."
            )
        step = self.steps[turn]
        if not callable(step):
            return step
        reply = step(messages)
        return reply if isinstance(reply, Message) else Message.assistant(reply)
