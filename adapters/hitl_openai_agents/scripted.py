"""A deterministic SDK `Model` that plays a script: for tests, demos and conformance.

It keeps no state of its own: the turn it plays is the number of model turns already in
its input (a run of consecutive items the model produced — function, shell, apply_patch
and hosted MCP calls, assistant messages — is one turn). A run paused in one process and
resumed in another continues the script where it stopped, and a sub-agent's model counts
only its own conversation. A turn may hold any of the SDK's output items; `call`,
`shell_call`, `patch_call`, `mcp_approval_request` and `mcp_call` build the usual ones.
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
    ResponseApplyPatchToolCall,
    ResponseCompletedEvent,
    ResponseFunctionShellToolCall,
    ResponseFunctionToolCall,
    ResponseOutputItem,
    ResponseOutputMessage,
    ResponseOutputText,
)
from openai.types.responses.response_function_shell_tool_call import Action
from openai.types.responses.response_output_item import McpApprovalRequest, McpCall
from openai.types.responses.response_prompt_param import ResponsePromptParam
from pydantic import BaseModel

__all__ = [
    "ScriptExhausted",
    "ScriptedModel",
    "call",
    "mcp_approval_request",
    "mcp_call",
    "patch_call",
    "shell_call",
    "tool_outputs",
]

Reply = Callable[[list[TResponseInputItem]], str]
"""A final answer computed from the conversation so far (to quote a tool's result)."""
Item = ResponseOutputItem
"""One output item of a model turn (a function, shell, patch or hosted MCP call...)."""
Turn = str | Item | Sequence[Item] | Reply

MODEL_ITEMS = frozenset(
    {
        "function_call",
        "shell_call",
        "apply_patch_call",
        "local_shell_call",
        "computer_call",
        "custom_tool_call",
        "mcp_approval_request",
        "mcp_call",
        "mcp_list_tools",
        "reasoning",
    }
)
"""Input item types the model produced (with assistant messages): what counts as a turn."""


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


def shell_call(
    commands: Sequence[str],
    *,
    id: str = "",
    timeout_ms: int | None = None,
    max_output_length: int | None = None,
) -> ResponseFunctionShellToolCall:
    """A scripted `ShellTool` call running `commands`."""
    return ResponseFunctionShellToolCall(
        id=f"sh_{id}",
        call_id=id,
        type="shell_call",
        status="completed",
        action=Action(
            commands=list(commands), timeout_ms=timeout_ms, max_output_length=max_output_length
        ),
    )


def patch_call(operation: dict[str, Any], *, id: str = "") -> ResponseApplyPatchToolCall:
    """A scripted `ApplyPatchTool` call: one ``{"type", "path", "diff"}`` operation."""
    return ResponseApplyPatchToolCall.model_validate(
        {
            "id": f"ap_{id}",
            "call_id": id,
            "type": "apply_patch_call",
            "status": "completed",
            "operation": operation,
        }
    )


def mcp_approval_request(
    server_label: str, name: str, args: dict[str, Any] | None = None, *, id: str
) -> McpApprovalRequest:
    """A hosted MCP server asking to run its tool `name` (what the API emits when the
    tool's ``require_approval`` says so)."""
    return McpApprovalRequest(
        id=id,
        type="mcp_approval_request",
        server_label=server_label,
        name=name,
        arguments=json.dumps(args or {}),
    )


def mcp_call(
    server_label: str,
    name: str,
    args: dict[str, Any] | None = None,
    *,
    id: str,
    output: str,
    approval_request_id: str | None = None,
) -> McpCall:
    """A hosted MCP call the API ran, with its `output` (after an approval, if it asked)."""
    return McpCall(
        id=id,
        type="mcp_call",
        server_label=server_label,
        name=name,
        arguments=json.dumps(args or {}),
        output=output,
        approval_request_id=approval_request_id,
    )


def tool_outputs(input: str | list[TResponseInputItem]) -> dict[str, str]:
    """The tool results the model is shown in `input`, by call id (function, shell and
    apply_patch results; a shell result's output streams joined, stdout first)."""
    if isinstance(input, str):
        return {}
    shown: dict[str, str] = {}
    for item in input:
        data: Any = item
        kind, output = data.get("type"), data.get("output")
        if kind in ("function_call_output", "apply_patch_call_output"):
            shown[str(data.get("call_id"))] = output if isinstance(output, str) else str(output)
        elif kind == "shell_call_output":
            shown[str(data.get("call_id"))] = _shell_output_text(output)
    return shown


def _shell_output_text(output: Any) -> str:
    if not isinstance(output, list):
        return str(output)
    streams = [e.get(k) for e in output if isinstance(e, dict) for k in ("stdout", "stderr")]
    return "\n".join(s for s in streams if isinstance(s, str) and s)


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
        if isinstance(step, BaseModel):
            step = [step]
        if callable(step):
            return [_message(step(items))]  # type: ignore[arg-type]
        return [
            c
            if not isinstance(c, ResponseFunctionToolCall) or c.call_id
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
    """Model turns in a conversation: runs of consecutive items the model produced."""
    turns, previous = 0, False
    for item in items:
        kind = item.get("type")
        produced = kind in MODEL_ITEMS or (
            kind in ("message", None) and item.get("role") == "assistant"
        )
        if produced and not previous:
            turns += 1
        previous = produced
    return turns


def _message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg_scripted",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(text=text, type="output_text", annotations=[])],
    )
