"""What a recorded decision does to the run: written once, used by every adapter.

An adapter asks `resolve(request)` what to do with the call under review and gets either
`RunTool` (execute with these arguments) or `Answer` (skip the tool; this text is the
result). `tool_result` wraps a tool's output with the edit notice. The texts the model
reads live only here, so every adapter tells the model exactly the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hitl_core.decisions import Approve, Edit, Reject, Respond
from hitl_core.errors import RequestNotDecided
from hitl_core.requests import ApprovalRequest

__all__ = [
    "Answer",
    "Resolution",
    "RunTool",
    "abandoned_text",
    "cancelled_text",
    "rejection_text",
    "resolve",
    "tool_failed_text",
    "tool_result",
    "unknown_outcome_reason",
    "unknown_tool_text",
]


@dataclass(frozen=True, slots=True)
class RunTool:
    """Execute the tool with `args`; pass its output through `tool_result`."""

    args: dict[str, Any]
    """The arguments to execute: the proposed ones, or the reviewer's replacement."""
    edited: bool
    """Whether a reviewer replaced the arguments (the model must be told)."""
    feedback: str | None
    """The reviewer's note to the model, if any."""
    tool: str
    """The tool to execute (always the reviewed tool)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """Do not execute the tool; `content` is what the model gets as the call's result."""

    content: str
    is_error: bool
    """True for a rejection (frameworks mark the tool message as an error)."""


Resolution = RunTool | Answer


def resolve(request: ApprovalRequest) -> Resolution:
    """What to do with the reviewed call, given the decision recorded on `request`.

    Raises:
        RequestNotDecided: the request has no decision (and has not expired) yet.
    """
    decision = request.decision
    if decision is None or not (request.is_answered or request.status.value == "resumed"):
        raise RequestNotDecided(request.id, request.status.value)
    tool = request.action.tool
    if isinstance(decision, Approve):
        return RunTool(dict(request.action.args), False, decision.feedback, tool)
    if isinstance(decision, Edit):
        return RunTool(dict(decision.args), True, decision.feedback, tool)
    if isinstance(decision, Respond):
        return Answer(decision.answer, is_error=False)
    assert isinstance(decision, Reject)
    return Answer(rejection_text(tool, decision.feedback), is_error=True)


def rejection_text(tool: str, feedback: str | None) -> str:
    """The result the model reads for a rejected call."""
    if feedback:
        return (
            f"A human reviewer rejected the call to `{tool}`; it was not executed. "
            f"Reviewer feedback: {feedback}"
        )
    return (
        f"A human reviewer rejected the call to `{tool}`; it was not executed. Do not "
        "retry this call unless the user asks for it."
    )


def tool_result(run: RunTool, output: str) -> str:
    """The tool's output as the model should read it after a review.

    An edit is announced with the arguments that actually ran, because the model's own
    message still shows the arguments it proposed.
    """
    lines: list[str] = []
    if run.edited:
        lines.append(
            "Note: a human reviewer edited this call before it ran. Executed instead: "
            f"{run.tool} with arguments {json.dumps(run.args, sort_keys=True, default=str)}."
        )
    if run.feedback:
        lines.append(f"Reviewer feedback: {run.feedback}")
    if not lines:
        return output
    return "\n".join(lines) + "\n\nTool response:\n" + output


def unknown_outcome_reason(tool: str, attempt: int) -> str:
    """Why a person is asked about a call a crash left unsettled (the recovery request)."""
    return (
        f"The call to `{tool}` may have run: the process running it (attempt {attempt}) "
        "stopped after claiming it and before recording what happened. Approve to run it "
        "again (with the same idempotency key), respond with its result to mark it done, "
        "or reject to abandon it."
    )


def abandoned_text(tool: str, feedback: str | None) -> str:
    """The result the model reads for a call a person abandoned after an unknown outcome."""
    text = (
        f"The call to `{tool}` may or may not have run (its process stopped before recording "
        "a result); a human reviewer abandoned it, and it will not be run again."
    )
    return f"{text} Reviewer feedback: {feedback}" if feedback else text


def cancelled_text(tool: str) -> str:
    """The result the model reads for a call whose request was cancelled."""
    return f"The call to `{tool}` was cancelled before anyone decided it; it was not executed."


def tool_failed_text(tool: str, error: BaseException) -> str:
    """The result the model reads for a tool that raised."""
    return f"Tool {tool} failed: {type(error).__name__}: {error}"


def unknown_tool_text(tool: str, available: list[str]) -> str:
    """The result the model reads for a call to a tool that does not exist."""
    names = ", ".join(sorted(available)) or "(none)"
    return f"There is no tool {tool!r}. Available tools: {names}."
