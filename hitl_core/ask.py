"""The ask-for-input tool: the agent asks a person a question and waits for the answer.

Unlike an approval, nothing runs after the human answers: a `respond` decision's answer
is the tool's result. Every adapter offers the same tool under the same name and schema.
"""

from __future__ import annotations

from typing import Any

from hitl_core.decisions import DecisionKind

__all__ = ["ASK_HUMAN_ALLOWED", "ASK_HUMAN_DESCRIPTION", "ASK_HUMAN_SCHEMA", "ASK_HUMAN_TOOL"]

ASK_HUMAN_TOOL = "ask_human"
"""The tool's name, the same in every adapter."""

ASK_HUMAN_DESCRIPTION = (
    "Ask a human a question and wait for their answer. Use it when you need information or "
    "a judgement only a person can give. The answer may take minutes or days."
)

ASK_HUMAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"question": {"type": "string", "description": "The question to ask."}},
    "required": ["question"],
    "additionalProperties": False,
}
"""JSON Schema of the tool's arguments."""

ASK_HUMAN_ALLOWED: tuple[DecisionKind, ...] = ("respond", "reject")
"""A question is answered (respond) or declined (reject); there is nothing to approve."""
