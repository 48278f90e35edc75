"""A deterministic SDK `Model` that plays a script: for tests, demos and conformance.

It keeps no state of its own: the turn it plays is the number of model turns already in
its input (a run of consecutive function calls, or an assistant message, is one turn). A
run paused in one process and resumed in another continues the script where it stopped,
and a sub-agent's model counts only its own conversation.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from agents import (
    AgentOutputSchemaBase,
    Handoff,
    Model,
    ModelResponse,
    ModelSettings,
    ModelTracing,
    Tool,
    TResponseInputItem,
    Usage,
)
from agents.items import TResponseStreamEvent
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputItem,
    ResponseOutputMessage,
    ResponseOutputText,
)
from openai.types.responses.response_prompt_param import ResponsePromptParam

__all__ = ["ScriptExhausted", "ScriptedModel", "call", "tool_outputs"]

Reply = Callable[[list[TResponseInputItem]], str]
"""A final answer computed from the conversation so far (to quote a tool's result)."""
Turn = str | ResponseFunctionToolCall | Sequence[ResponseFunctionToolCall] | Reply


class ScriptExhausted(RuntimeError):
    """The conversation went past the last scripted turn."""


def call(
    name: str, args: dict[str, Any] | None = None, *, id: str = ""
) -> ResponseFunctionToolCall:
    """A scripted tool call; its id defaults to one derived from its turn and position."""
    return ResponseFunctionToolCall(
        id=f"fc_{id}" if id else None,
        call_id=id,
        type="function_call",
        name=name,
        arguments=json.dumps(args or {}),
    )


def tool_outputs(input: str | list[TResponseInputItem]) -> dict[str, str]:
    """The tool results the model is shown in `input`, by call id."""
    if isinstance(input, str):
        return {}
    shown: dict[str, str] = {}
    for item in input:
        data: Any = item
        if data.get("type") == "function_call_output":
            output = data.get("output")
            shown[str(data.get("call_id"))] = output if isinstance(output, str) else str(output)
    return shown


class ScriptedModel(Model):
    """Plays `turns` in order: a string is a final answer, calls are a tool-calling turn.

    Args:
        turns: the script. A callable turn receives the conversation and returns the
            final answer's text.
        observe: called with the input of every model call (e.g. to record which tool
            results the model was shown).
    """

    def __init__(
        self,
        turns: Sequence[Turn],
        *,
        observe: Callable[[list[TResponseInputItem]], None] | None = None,
    ) -> None:
        self.turns = list(turns)
        self.observe = observe

    def reply(self, input: str | list[TResponseInputItem]) -> list[ResponseOutputItem]:
        """The output items of the turn the conversation has reached."""
        items = (
            [{"type": "message", "role": "user", "content": input}]
            if isinstance(input, str)
            else list(input)
        )
        if self.observe is not None:
            self.observe(items)  # type: ignore[arg-type]
        turn = _turns_in(items)
        if turn >= len(self.turns):
            raise ScriptExhausted(
                f"The script has {len(self.turns)} turns and the conversation asks for turn "
                f"{turn + 1}; add a final answer to the script."
            )
        step = self.turns[turn]
        if isinstance(step, str):
            return [_message(step)]
        if isinstance(step, ResponseFunctionToolCall):
            step = [step]
        if callable(step):
            return [_message(step(items))]  # type: ignore[arg-type]
        return [
            c
            if c.call_id
            else c.model_copy(update={"call_id": f"call_{turn}_{i}", "id": f"fc_{turn}_{i}"})
            for i, c in enumerate(step)
        ]

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        return ModelResponse(output=self.reply(input), usage=Usage(), response_id=None)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        response = Response(
            id="scripted",
            created_at=0,
            model="scripted",
            object="response",
            output=self.reply(input),
            tool_choice="none",
            tools=[],
            top_p=None,
            parallel_tool_calls=False,
            status="completed",
        )
        yield ResponseCompletedEvent(
            type="response.completed", response=response, sequence_number=0
        )


def _turns_in(items: list[Any]) -> int:
    """Model turns in a conversation: runs of function calls, and assistant messages."""
    turns, previous = 0, None
    for item in items:
        kind = item.get("type")
        if (kind == "function_call" and previous != "function_call") or (
            kind == "message" and item.get("role") == "assistant"
        ):
            turns += 1
        previous = kind
    return turns


def _message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg_scripted",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(text=text, type="output_text", annotations=[])],
    )
