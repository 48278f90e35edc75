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

__all__ = ["Answer", "Resolution", "RunTool", "rejection_text", "resolve", "tool_result"]


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
