"""One tool call through the four moves: gate, pause, apply the decision, run exactly once.

`ToolGate` is a `ToolNode` ``wrap_tool_call`` interceptor, so the agent middleware and the
gated `ToolNode` share it and the tools themselves stay unchanged. LangGraph re-runs an
interrupted task from its top on resume; every call that runs is recorded in the store
(`record_execution`) and a recorded call is answered from its record, never run again.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.errors import GraphBubbleUp
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command
from pydantic import BaseModel, ValidationError

from hitl_core.actions import ProposedAction
from hitl_core.ask import ASK_HUMAN_ALLOWED, ASK_HUMAN_DESCRIPTION, ASK_HUMAN_SCHEMA, ASK_HUMAN_TOOL
from hitl_core.errors import AdapterError
from hitl_core.outcomes import Answer, RunTool, resolve, tool_result
from hitl_core.policy import Policy, Verdict
from hitl_core.requests import ApprovalRequest
from hitl_core.stores import ExecutionRecord
from hitl_langgraph._store_io import AnyStore, StoreIO
from hitl_langgraph.review import afinish, areview, finish, new_request, review
from hitl_langgraph.scope import ADAPTER, Scope

__all__ = ["ToolGate", "ask_human_tool"]

Reply = ToolMessage | Command[Any]
Execute = Callable[[ToolCallRequest], Reply]
AsyncExecute = Callable[[ToolCallRequest], Awaitable[Reply]]


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


@dataclasses.dataclass(frozen=True)
class _Ran:
    """What running a call produced: the text the model reads and the framework's reply."""

    output: str
    is_error: bool
    reply: Reply | None = None


class ToolGate:
    """Gates tool calls with a `Policy` and applies human decisions through the core.

    Args:
        policy: which calls need a human.
        store: the approval store (sync, or `AsyncPostgresStore` for async runs).
        ask_human: answer ``ask_human`` calls with a respond decision (offer the tool
            with `ask_human_tool`; the agent middleware does).
    """

    def __init__(self, policy: Policy, store: AnyStore, *, ask_human: bool = True) -> None:
        self.policy = policy
        self.io = StoreIO(store)
        self.ask_human = ask_human

    # -- the moves ---------------------------------------------------------------------

    def verdict(self, call: Mapping[str, Any], context: Mapping[str, Any]) -> Verdict:
        """Move 1: does this call need a human? Pure, so a re-run node gets the same answer."""
        verdict = self.policy.check(call["name"], call["args"], context)
        if self.ask_human and call["name"] == ASK_HUMAN_TOOL:
            question = call["args"].get("question", "")
            return dataclasses.replace(
                verdict,
                required=True,
                reason=f"the agent asks: {question}",
                allowed=ASK_HUMAN_ALLOWED,
            )
        return verdict

    def __call__(self, request: ToolCallRequest, execute: Execute) -> Reply:
        """Handle one call (a ``wrap_tool_call`` interceptor); may pause the task."""
        call, scope = _identified(request), Scope.of(request.runtime.config)
        store = self.io.sync
        done = store.executions(scope.run_id).get(call["id"])
        if done is not None:
            return _message(call, done.output, done.is_error)
        if (problem := self._problem(request)) is not None:
            return problem
        verdict, answered, run = self.verdict(call, scope.context), None, None
        if verdict.required:
            answered = review(self.io, self._request(request, verdict, scope), scope)
            resolution = resolve(answered)
            if isinstance(resolution, Answer):
                finish(self.io, answered, scope)
                return _message(call, resolution.content, resolution.is_error)
            run = resolution
        try:
            ran = _ran(call, execute(_with_args(request, run)))
        except GraphBubbleUp:
            raise
        except Exception as error:  # a tool failure is the model's to handle, as in hitl_loop
            ran = _failed(call, error)
        record = store.record_execution(self._record(call, run, ran, answered, scope))
        if answered is not None:
            finish(self.io, answered, scope)
        return _reply(call, ran, record)

    async def acall(self, request: ToolCallRequest, execute: AsyncExecute) -> Reply:
        """Async twin of `__call__` (an ``awrap_tool_call`` interceptor)."""
        call, scope = _identified(request), Scope.of(request.runtime.config)
        done = (await self.io.aexecutions(scope.run_id)).get(call["id"])
        if done is not None:
            return _message(call, done.output, done.is_error)
        if (problem := self._problem(request)) is not None:
            return problem
        verdict, answered, run = self.verdict(call, scope.context), None, None
        if verdict.required:
            answered = await areview(self.io, self._request(request, verdict, scope), scope)
            resolution = resolve(answered)
            if isinstance(resolution, Answer):
                await afinish(self.io, answered, scope)
                return _message(call, resolution.content, resolution.is_error)
            run = resolution
        try:
            ran = _ran(call, await execute(_with_args(request, run)))
        except GraphBubbleUp:
            raise
        except Exception as error:
            ran = _failed(call, error)
        record = await self.io.arecord_execution(self._record(call, run, ran, answered, scope))
        if answered is not None:
            await afinish(self.io, answered, scope)
        return _reply(call, ran, record)

    # -- helpers ---------------------------------------------------------------------

    def _problem(self, request: ToolCallRequest) -> ToolMessage | None:
        """An error result for calls no human should be asked about: unknown or malformed."""
        call, tool = request.tool_call, request.tool
        if self.ask_human and call["name"] == ASK_HUMAN_TOOL:
            return None
        if tool is None:
            names = ", ".join(sorted(t.name for t in request.runtime.tools or [])) or "(none)"
            text = f"There is no tool {call['name']!r}. Available tools: {names}."
            return _message(call, text, True)
        problems = _argument_problems(tool, call["args"])
        if problems:
            return _message(call, f"Invalid arguments for {call['name']}: {problems}", True)
        return None

    def _request(self, request: ToolCallRequest, verdict: Verdict, scope: Scope) -> ApprovalRequest:
        call = request.tool_call
        schema = ASK_HUMAN_SCHEMA if call["name"] == ASK_HUMAN_TOOL else _schema(request.tool)
        action = ProposedAction(
            tool=call["name"], args=call["args"], call_id=call["id"] or "", args_schema=schema
        )
        return new_request(scope, action, verdict, self.io.clock)

    def _record(
        self,
        call: Mapping[str, Any],
        run: RunTool | None,
        ran: _Ran,
        answered: ApprovalRequest | None,
        scope: Scope,
    ) -> ExecutionRecord:
        return ExecutionRecord(
            run_id=scope.run_id,
            call_id=call["id"] or "",
            tool=call["name"],
            args=run.args if run else dict(call["args"]),
            output=tool_result(run, ran.output) if run else ran.output,
            is_error=ran.is_error,
            at=self.io.clock.now(),
            request_id=answered.id if answered else None,
            adapter=ADAPTER,
        )


def _identified(request: ToolCallRequest) -> Mapping[str, Any]:
    """The call, which must carry an id: the request id and the execution record use it."""
    call = request.tool_call
    if not call.get("id"):
        raise AdapterError(
            f"The model called {call['name']!r} without a tool call id, so the call cannot "
            "be gated or recorded. Make sure the chat model returns tool call ids."
        )
    return call


def _with_args(request: ToolCallRequest, run: RunTool | None) -> ToolCallRequest:
    """The request with the arguments a reviewer settled on (an edit's replacement)."""
    if run is None or run.args == request.tool_call["args"]:
        return request
    return request.override(tool_call={**request.tool_call, "args": dict(run.args)})


def _text(content: Any) -> str:
    return content if isinstance(content, str) else json.dumps(content, default=str)


def _ran(call: Mapping[str, Any], reply: Reply) -> _Ran:
    if isinstance(reply, ToolMessage):
        return _Ran(_text(reply.content), reply.status == "error", reply)
    message = _command_message(reply, call["id"])
    return _Ran(_text(message.content) if message else "", False, reply)


def _failed(call: Mapping[str, Any], error: Exception) -> _Ran:
    return _Ran(f"Tool {call['name']} failed: {type(error).__name__}: {error}", True)


def _command_message(command: Command[Any], call_id: str | None) -> ToolMessage | None:
    """The tool message inside a tool's `Command` update, if it holds one for this call."""
    update = command.update if isinstance(command.update, Mapping) else {}
    for message in update.get("messages") or []:
        if isinstance(message, ToolMessage) and message.tool_call_id == call_id:
            return message
    return None


def _reply(call: Mapping[str, Any], ran: _Ran, record: ExecutionRecord) -> Reply:
    """What the model is shown: the recorded text, in the framework's reply shape."""
    if isinstance(ran.reply, Command):
        message = _command_message(ran.reply, call["id"])
        if message is None or message.content == record.output:
            return ran.reply
        update = dict(ran.reply.update)  # type: ignore[arg-type]
        update["messages"] = [
            m.model_copy(update={"content": record.output}) if m is message else m
            for m in update["messages"]
        ]
        return dataclasses.replace(ran.reply, update=update)
    artifact = ran.reply.artifact if isinstance(ran.reply, ToolMessage) else None
    return _message(call, record.output, record.is_error, artifact)


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
