"""One tool call through the four moves, as a `ToolNode` ``wrap_tool_call`` interceptor.

`ToolGate` translates LangGraph's tool call into a core `GatedCall`, lets the run's
`CallLedger` say what happens (`review`: wait, answer, or run), and runs released calls
through the ledger, which claims each before it runs and records what came of it. So the
agent middleware and the gated `ToolNode` share it, and the tools themselves stay unchanged.
LangGraph re-runs an interrupted task from its top on resume; a call the ledger recorded
is answered from its record and never runs again.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command
from pydantic import BaseModel, ValidationError

from hitl_core.ask import ASK_HUMAN_DESCRIPTION, ASK_HUMAN_SCHEMA, ASK_HUMAN_TOOL
from hitl_core.calls import Answer, Executed, GatedCall, Ran, Run
from hitl_core.errors import AdapterError
from hitl_core.outcomes import unknown_tool_text
from hitl_core.policy import Policy
from hitl_core.stores.awaitable import AnyStore
from hitl_langgraph.active import aactive, active
from hitl_langgraph.review import areview, review
from hitl_langgraph.scope import Scope

__all__ = [
    "AGENT_TOOL_KEY",
    "IDEMPOTENT_KEY",
    "REQUIRES_APPROVAL_KEY",
    "ToolGate",
    "ask_human_tool",
]

Reply = ToolMessage | Command[Any]
Execute = Callable[[ToolCallRequest], Reply]
AsyncExecute = Callable[[ToolCallRequest], Awaitable[Reply]]

AGENT_TOOL_KEY = "hitl_agent_tool"
"""Tool metadata marking an agent used as a tool (`agent_tool`): not claimed itself."""
REQUIRES_APPROVAL_KEY = "hitl_requires_approval"
"""Tool metadata by which a tool's author requires approval whatever the policy says."""
IDEMPOTENT_KEY = "hitl_idempotent"
"""Tool metadata declaring the tool safe to retry after an unknown outcome."""


def ask_human_tool() -> BaseTool:
    """The ``ask_human`` tool of `hitl_core.ask`: a gate answers it, so its body never runs."""

    def ask_human(question: str) -> str:
        raise AdapterError(
            "ask_human is answered by a human through the approval gate and never runs; "
            "gate the agent's tools with HumanApprovalMiddleware or ApprovalToolNode."
        )

    return StructuredTool.from_function(
        ask_human,
        name=ASK_HUMAN_TOOL,
        description=ASK_HUMAN_DESCRIPTION,
        args_schema=ASK_HUMAN_SCHEMA,
    )


class ToolGate:
    """Gates tool calls with a `Policy` and applies human decisions through the core.

    Args:
        policy: which calls need a human (a tool whose metadata sets
            ``hitl_requires_approval`` needs one whatever the policy says).
        store: the approval store (sync, or `AsyncPostgresStore` for async runs).
        ask_human: answer ``ask_human`` calls with a respond decision (offer the tool
            with `ask_human_tool`; the agent middleware does).
    """

    def __init__(self, policy: Policy, store: AnyStore, *, ask_human: bool = True) -> None:
        self.policy = policy
        self.store = store
        self.ask_human = ask_human

    def __call__(self, request: ToolCallRequest, execute: Execute) -> Reply:
        """Handle one call (a ``wrap_tool_call`` interceptor); may pause the task."""
        call, scope = _identified(request), Scope.of(request.runtime.config)
        with active(scope, self.store, self.policy, self.ask_human) as current:
            step = review(current, self.gated(request))
            if isinstance(step, Answer):
                return _message(call, step.content, step.is_error)
            assert isinstance(step, Run)
            ran = current.ledger.run(
                step, lambda args: _executed(call, execute(_with_args(request, args))), current.sync
            )
        return _reply(call, ran)

    async def acall(self, request: ToolCallRequest, execute: AsyncExecute) -> Reply:
        """Async twin of `__call__` (an ``awrap_tool_call`` interceptor)."""
        call, scope = _identified(request), Scope.of(request.runtime.config)
        async with aactive(scope, self.store, self.policy, self.ask_human) as current:
            step = await areview(current, self.gated(request))
            if isinstance(step, Answer):
                return _message(call, step.content, step.is_error)
            assert isinstance(step, Run)

            async def invoke(args: dict[str, Any]) -> Executed:
                return _executed(call, await execute(_with_args(request, args)))

            ran = await current.ledger.arun(step, invoke, current.store)
        return _reply(call, ran)

    def gated(self, request: ToolCallRequest) -> GatedCall:
        """The call as the ledger sees it: its tool's schema and flags, or why it cannot run."""
        call, tool = request.tool_call, request.tool
        metadata = (tool.metadata or {}) if tool is not None else {}
        return GatedCall(
            tool=call["name"],
            args=dict(call["args"]),
            call_id=call["id"] or "",
            schema=ASK_HUMAN_SCHEMA if call["name"] == ASK_HUMAN_TOOL else _schema(tool),
            required_by=_author_flag(call["name"], metadata.get(REQUIRES_APPROVAL_KEY)),
            problem=self._problem(request),
            idempotent=bool(metadata.get(IDEMPOTENT_KEY)),
            composite=bool(metadata.get(AGENT_TOOL_KEY)),
        )

    def _problem(self, request: ToolCallRequest) -> str | None:
        """Why no human should be asked about the call: an unknown tool or malformed arguments."""
        call, tool = request.tool_call, request.tool
        if self.ask_human and call["name"] == ASK_HUMAN_TOOL:
            return None
        if tool is None:
            names = [t.name for t in request.runtime.tools or []]
            return unknown_tool_text(call["name"], names)
        problems = _argument_problems(tool, call["args"])
        if problems:
            return f"Invalid arguments for {call['name']}: {problems}"
        return None


def _author_flag(tool: str, flag: object) -> str | None:
    """The reason a tool's own metadata requires approval (a text, or True), else None."""
    if not flag:
        return None
    return flag if isinstance(flag, str) else f"the tool {tool} requires approval"


def _identified(request: ToolCallRequest) -> Mapping[str, Any]:
    """The call, which must carry an id: the request id and the ledger line use it."""
    call = request.tool_call
    if not call.get("id"):
        raise AdapterError(
            f"The model called {call['name']!r} without a tool call id, so the call cannot "
            "be gated or recorded. Make sure the chat model returns tool call ids."
        )
    return call


def _with_args(request: ToolCallRequest, args: dict[str, Any]) -> ToolCallRequest:
    """The request with the arguments the ledger released (a reviewer's edit, say)."""
    if args == request.tool_call["args"]:
        return request
    return request.override(tool_call={**request.tool_call, "args": dict(args)})


def _text(content: Any) -> str:
    return content if isinstance(content, str) else json.dumps(content, default=str)


def _executed(call: Mapping[str, Any], reply: Reply) -> Executed:
    """What the tool produced, in the ledger's terms (the framework's reply travels along)."""
    if isinstance(reply, ToolMessage):
        return Executed(_text(reply.content), reply.status == "error", reply)
    message = _command_message(reply, call["id"])
    return Executed(_text(message.content) if message else "", False, reply)


def _command_message(command: Command[Any], call_id: str | None) -> ToolMessage | None:
    """The tool message inside a tool's `Command` update, if it holds one for this call."""
    update = command.update if isinstance(command.update, Mapping) else {}
    for message in update.get("messages") or []:
        if isinstance(message, ToolMessage) and message.tool_call_id == call_id:
            return message
    return None


def _reply(call: Mapping[str, Any], ran: Ran) -> Reply:
    """What the model is shown: the recorded text, in the framework's reply shape."""
    if isinstance(ran.reply, Command):
        message = _command_message(ran.reply, call["id"])
        if message is None or message.content == ran.content:
            return ran.reply
        update = dict(ran.reply.update)  # type: ignore[arg-type]
        update["messages"] = [
            m.model_copy(update={"content": ran.content}) if m is message else m
            for m in update["messages"]
        ]
        return dataclasses.replace(ran.reply, update=update)
    artifact = ran.reply.artifact if isinstance(ran.reply, ToolMessage) else None
    return _message(call, ran.content, ran.is_error, artifact)


def _message(
    call: Mapping[str, Any], content: str, is_error: bool, artifact: Any = None
) -> ToolMessage:
    return ToolMessage(
        content=content,
        tool_call_id=call["id"] or "",
        name=call["name"],
        status="error" if is_error else "success",
        artifact=artifact,
    )


def _schema(tool: BaseTool | None) -> dict[str, Any] | None:
    """The JSON Schema of the arguments the model fills in (injected ones left out)."""
    if tool is None:
        return None
    schema = tool.tool_call_schema
    if isinstance(schema, dict):
        return dict(schema)
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        result = schema.model_json_schema()
        result.pop("title", None)
        return result
    return None


def _argument_problems(tool: BaseTool, args: Mapping[str, Any]) -> str | None:
    """The arguments' problems against the tool's own model, one per field, or None."""
    schema = tool.tool_call_schema
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        return None
    try:
        schema.model_validate(dict(args))
    except ValidationError as error:
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
            for e in error.errors()
        )
    return None
