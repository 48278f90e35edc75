"""Neutral scenarios: what the scripted model does, turn by turn, the same in every adapter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hitl_core import Policy, Rule, arg

__all__ = [
    "FAIL_PREFIX",
    "STANDARD_POLICY",
    "ModelUnavailable",
    "Scenario",
    "ScriptedCall",
    "fail",
    "playable",
    "say",
]

FAIL_PREFIX = "!hitl-conformance-fail: "
"""A final-answer turn starting with this is played as the model raising, not answering."""

STANDARD_POLICY = Policy(
    {
        "send_payment": Rule(when=arg("amount") > 1000),
        "delete_rows": Rule(when=arg("count") > 10, allowed=("approve", "edit", "reject")),
        "send_email": Rule(when=~arg("to").matches(r".+@ourco\.com")),
    },
    expires_in=timedelta(hours=24),
)
"""The policy every scenario runs under: thresholds on money, blast radius, recipients."""


class ScriptedCall(BaseModel):
    """One tool call the scripted model makes."""

    model_config = ConfigDict(frozen=True)

    id: str
    """The call id; unique within the run."""
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class Scenario(BaseModel):
    """The model's script: a list of turns; a turn is some tool calls or a final answer.

    The scripted model plays turn N when the conversation holds N assistant turns, so a
    run resumed in another process continues the script where it stopped.
    """

    model_config = ConfigDict(frozen=True)

    turns: list[list[ScriptedCall] | str]
    prompt: str = "Please handle the request."
    agents: dict[str, list[list[ScriptedCall] | str]] = Field(default_factory=dict)
    """Sub-agents the model may call as tools (argument ``task``), each with its own script."""
    policy: dict[str, Any] = Field(default_factory=STANDARD_POLICY.to_data)
    """The policy as data (`Policy.to_data`), so a fresh process rebuilds the same one."""

    @classmethod
    def of(cls, *turns: list[ScriptedCall] | ScriptedCall | str, **fields: Any) -> Scenario:
        """``Scenario.of(pay("c1", 4200), "Done.")``: a single call may stand for its turn."""
        return cls(turns=[[t] if isinstance(t, ScriptedCall) else t for t in turns], **fields)

    def build_policy(self) -> Policy:
        return Policy.from_data(self.policy)


def say(text: str) -> str:
    """A final answer turn (readability helper)."""
    return text


def fail(message: str) -> str:
    """A turn where the model fails (its provider is down, say): it raises `message`."""
    return FAIL_PREFIX + message


class ModelUnavailable(RuntimeError):
    """The scripted model's provider failed (a `fail` turn)."""


def playable(turn: list[ScriptedCall] | str) -> list[ScriptedCall] | str | Callable[..., str]:
    """`turn` as a driver's scripted model plays it: a `fail` turn becomes a callable turn
    that raises `ModelUnavailable` (every bundled scripted model accepts callable turns)."""
    if isinstance(turn, str) and turn.startswith(FAIL_PREFIX):
        message = turn.removeprefix(FAIL_PREFIX)

        def raises(*_: Any) -> str:
            raise ModelUnavailable(message)

        return raises
    return turn
