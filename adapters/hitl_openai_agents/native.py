"""Gated shell and apply_patch tools: the SDK runs them itself, so the gate wraps what it calls.

A `ShellTool` or `ApplyPatchTool` is not a function tool: the SDK executes its calls itself
(``ShellAction``, ``ApplyPatchAction``), asking only the tool's ``needs_approval`` and then
its ``executor`` / ``editor``. The gated copy replaces those three fields:

- ``needs_approval`` makes the SDK stop before every call while a runner pass is on, so that
  `apply.let_through` sees each call whole, with the tool's own setting and ``on_approval``
  evaluated the SDK's way, and the policy added (the SDK would hand an apply_patch
  predicate one operation at a time). Calls nobody need see are let through in the same
  pass. Outside a runner it is the author's setting or the policy.
- the executor (shell) and the editor (apply_patch) ask the run's `CallLedger` and run the
  call through it: claimed in the store before anything runs, recorded after, exactly as
  reviewed (an edit runs the reviewer's commands or operations).

The SDK turns anything these raise into text for the model, so a hitl-kit error (a refused
call, a lost lease) is also noted on the scope for the runner to raise after the pass.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agents import (
    ApplyPatchOperation,
    ApplyPatchResult,
    ApplyPatchTool,
    RunContextWrapper,
    ShellActionRequest,
    ShellCommandRequest,
    ShellResult,
    ShellTool,
)
from agents.run_internal.tool_execution import (
    normalize_apply_patch_result,
    normalize_shell_output,
    render_shell_outputs,
)

from hitl_core.calls import Answer, Executed, GatedCall, Wait
from hitl_core.errors import CallRefused, HITLError
from hitl_core.outcomes import tool_failed_text
from hitl_openai_agents.function_tools import author_needs_approval
from hitl_openai_agents.scope import RunScope, current_scope

if TYPE_CHECKING:
    from hitl_openai_agents.gate import ApprovalGate

__all__ = [
    "PATCH_SCHEMA",
    "SHELL_SCHEMA",
    "GatedEditor",
    "GatedShellExecutor",
    "NativeNeedsApproval",
    "gate_patch",
    "gate_shell",
    "op_data",
    "shell_args",
]

SHELL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "commands": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "timeout_ms": {"type": "integer", "minimum": 1},
        "max_output_length": {"type": "integer", "minimum": 0},
    },
    "required": ["commands"],
    "additionalProperties": False,
}
"""A shell call's arguments as the reviewer sees them (the SDK's `ShellActionRequest`)."""

PATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operations": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "type": {"enum": ["create_file", "update_file", "delete_file"]},
                    "path": {"type": "string", "minLength": 1},
                    "diff": {"type": "string", "minLength": 1},
                    "move_to": {"type": "string", "minLength": 1},
                },
                "required": ["type", "path"],
                "additionalProperties": False,
                "if": {"properties": {"type": {"enum": ["create_file", "update_file"]}}},
                "then": {"required": ["diff"]},
            },
        }
    },
    "required": ["operations"],
    "additionalProperties": False,
}
"""An apply_patch call's arguments: its operations (the SDK's `ApplyPatchOperation`s)."""


def shell_args(action: ShellActionRequest) -> dict[str, Any]:
    """A shell call's arguments: its commands and the limits the model set."""
    args: dict[str, Any] = {"commands": list(action.commands)}
    if action.timeout_ms is not None:
        args["timeout_ms"] = action.timeout_ms
    if action.max_output_length is not None:
        args["max_output_length"] = action.max_output_length
    return args


def op_data(operation: ApplyPatchOperation) -> dict[str, Any]:
    """One apply_patch operation as JSON data (without the SDK's run context)."""
    data: dict[str, Any] = {"type": operation.type, "path": operation.path}
    if operation.diff is not None:
        data["diff"] = operation.diff
    if operation.move_to is not None:
        data["move_to"] = operation.move_to
    return data


class NativeNeedsApproval:
    """A shell or apply_patch tool's ``needs_approval`` under the gate (see the module)."""

    def __init__(self, gate: ApprovalGate, tool: str, author: Any, on_approval: Any) -> None:
        self.gate = gate
        self.tool = tool
        self.author = author
        """The tool's own ``needs_approval`` (a bool, or ``(ctx, payload, call_id)``)."""
        self.on_approval = on_approval
        """The tool's own ``on_approval``: consulted when its own setting asks."""

    async def __call__(self, ctx: RunContextWrapper[Any], payload: Any, call_id: str) -> bool:
        if current_scope() is not None:
            return True  # the runner decides, with the whole call in hand
        if await author_needs_approval(self.author, ctx, payload, call_id):
            return True
        if isinstance(payload, ShellActionRequest):
            args = shell_args(payload)
        else:
            args = {"operations": [op_data(payload)]}
        context = ctx.context if isinstance(ctx.context, Mapping) else {}
        return self.gate.policy.check(self.tool, args, dict(context)).required


def gate_shell(gate: ApprovalGate, tool: ShellTool) -> ShellTool:
    """A copy of a local `ShellTool` whose approval and execution go through `gate`."""
    needs, on_approval, executor = tool.needs_approval, tool.on_approval, tool.executor
    if isinstance(needs, NativeNeedsApproval) and isinstance(executor, GatedShellExecutor):
        if needs.gate is gate:
            return tool
        needs, on_approval, executor = needs.author, needs.on_approval, executor.original
    gated_needs = NativeNeedsApproval(gate, tool.name, needs, on_approval)
    return dataclasses.replace(
        tool,
        needs_approval=gated_needs,
        on_approval=None,
        executor=GatedShellExecutor(tool.name, executor),
    )


def gate_patch(gate: ApprovalGate, tool: ApplyPatchTool) -> ApplyPatchTool:
    """A copy of an `ApplyPatchTool` whose approval and edits go through `gate`."""
    needs, on_approval, editor = tool.needs_approval, tool.on_approval, tool.editor
    if isinstance(needs, NativeNeedsApproval) and isinstance(editor, GatedEditor):
        if needs.gate is gate:
            return tool
        needs, on_approval, editor = needs.author, needs.on_approval, editor.original
    return dataclasses.replace(
        tool,
        needs_approval=NativeNeedsApproval(gate, tool.name, needs, on_approval),
        on_approval=None,
        editor=GatedEditor(tool.name, editor),
    )


class GatedShellExecutor:
    """A shell tool's executor: at most once, exactly as reviewed, through the ledger."""

    def __init__(self, tool: str, original: Any) -> None:
        self.tool = tool
        self.original = original
        """The author's executor: runs the commands."""

    async def __call__(self, request: ShellCommandRequest) -> str | ShellResult:
        scope = current_scope()
        if scope is None:
            result: str | ShellResult = await _maybe_await(self.original(request))
            return result
        try:
            return await self._gated(scope, request)
        except HITLError as error:
            scope.raised.append(error)
            raise

    async def _gated(self, scope: RunScope, request: ShellCommandRequest) -> str:
        data = request.data
        call = _released(scope, self.tool, data.call_id, shell_args(data.action))
        step = await scope.ledger.astep(call, scope.store)
        if isinstance(step, Answer):  # a respond, or a call the ledger has recorded
            return step.content
        if isinstance(step, Wait):
            raise CallRefused(scope.run_id, call.call_id, step.request.id, _UNDECIDED, self.tool)

        async def invoke(args: dict[str, Any]) -> Executed:
            action = ShellActionRequest(
                commands=list(args["commands"]),
                timeout_ms=args.get("timeout_ms"),
                max_output_length=args.get("max_output_length"),
            )
            edited = dataclasses.replace(data, action=action)
            try:
                result = await _maybe_await(
                    self.original(ShellCommandRequest(ctx_wrapper=request.ctx_wrapper, data=edited))
                )
            except Exception as error:  # the SDK would show it to the model: record that
                return Executed(tool_failed_text(self.tool, error), is_error=True)
            return Executed(_shell_text(result))

        return (await scope.ledger.arun(step, invoke, scope.store)).content


class GatedEditor:
    """An apply_patch tool's editor: the whole call at its first operation, through the ledger.

    The SDK calls the editor once per operation, without the call id; the call is found by
    its operations among the calls let through (`RunScope.take_patch`). At the first, the
    ledger runs the call's operations (the reviewer's, after an edit) on the author's
    editor and records them as one call; the later ones were part of it and do nothing.
    """

    def __init__(self, tool: str, original: Any) -> None:
        self.tool = tool
        self.original = original
        """The author's editor: applies the diffs."""

    async def create_file(self, operation: ApplyPatchOperation) -> ApplyPatchResult | str | None:
        return await self._apply(operation)

    async def update_file(self, operation: ApplyPatchOperation) -> ApplyPatchResult | str | None:
        return await self._apply(operation)

    async def delete_file(self, operation: ApplyPatchOperation) -> ApplyPatchResult | str | None:
        return await self._apply(operation)

    async def _apply(self, operation: ApplyPatchOperation) -> ApplyPatchResult | str | None:
        scope = current_scope()
        if scope is None:
            method = getattr(self.original, operation.type)
            result: ApplyPatchResult | str | None = await _maybe_await(method(operation))
            return result
        try:
            return await self._gated(scope, operation)
        except HITLError as error:
            scope.raised.append(error)
            raise

    async def _gated(
        self, scope: RunScope, operation: ApplyPatchOperation
    ) -> ApplyPatchResult | None:
        found = scope.take_patch(self.tool, op_data(operation))
        if found is None:
            problem = (
                f"the editor was handed a {operation.type} of {operation.path!r} that no "
                "released call proposed"
            )
            raise CallRefused(scope.run_id, "(unmatched operation)", None, problem, self.tool)
        patch, position = found
        if position > 0:  # the call's first operation ran them all
            return None
        step = await scope.ledger.astep(patch.call, scope.store)
        if isinstance(step, Answer):
            return _patch_result(step.content, step.is_error)
        if isinstance(step, Wait):
            raise CallRefused(
                scope.run_id, patch.call.call_id, step.request.id, _UNDECIDED, self.tool
            )

        async def invoke(args: dict[str, Any]) -> Executed:
            outputs: list[str] = []
            failed = False
            for data in args["operations"]:
                edit = ApplyPatchOperation(
                    type=data["type"],
                    path=data["path"],
                    diff=data.get("diff"),
                    ctx_wrapper=operation.ctx_wrapper,
                    move_to=data.get("move_to"),
                )
                try:
                    result = await _maybe_await(getattr(self.original, edit.type)(edit))
                except Exception as error:  # earlier operations did apply: say so
                    outputs.append(tool_failed_text(self.tool, error))
                    return Executed("\n".join(outputs), is_error=True)
                normalized = normalize_apply_patch_result(result)
                if normalized is not None:
                    failed = failed or normalized.status == "failed"
                    if normalized.output:
                        outputs.append(normalized.output)
            return Executed("\n".join(outputs), is_error=failed)

        ran = await scope.ledger.arun(step, invoke, scope.store)
        return _patch_result(ran.content, ran.is_error)


_UNDECIDED = "it runs, but nobody decided it"


def _released(scope: RunScope, tool: str, call_id: str, args: dict[str, Any]) -> GatedCall:
    """The call as the runner let it through; a call it never saw waits on a person."""
    seen = scope.proposed.get(call_id)
    if seen is not None:
        return dataclasses.replace(seen, args=args)
    return GatedCall(
        tool=tool,
        args=args,
        call_id=call_id,
        required_by=f"the {tool} call reached its tool without passing the gate",
    )


def _patch_result(text: str, is_error: bool) -> ApplyPatchResult:
    return ApplyPatchResult(status="failed" if is_error else "completed", output=text)


def _shell_text(result: str | ShellResult | Any) -> str:
    """What a shell executor returned, as the text the SDK would show the model."""
    if isinstance(result, ShellResult):
        return render_shell_outputs([normalize_shell_output(entry) for entry in result.output])
    return str(result)


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
