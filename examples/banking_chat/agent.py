"""The banking agent: two tools, the rule that big transfers need a yes, and the model.

Checking the balance never waits; a transfer over 100 waits for the customer to confirm.
The threshold is a policy predicate, not a line in the prompt: the model cannot talk its
way past it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any

from examples.banking_chat.bank import Bank
from hitl_core import ApprovalStore, Policy, Rule, arg
from hitl_loop import ChatModel, Message, OpenAIChatModel, ScriptedModel, ToolCall, ToolLoop

__all__ = ["INSTRUCTIONS", "POLICY", "THRESHOLD", "bank_tools", "build_agent", "default_model"]

THRESHOLD = 100
"""Transfers above this many units wait for the customer's confirmation."""

POLICY = Policy(
    {
        "transfer": Rule(
            when=arg("amount") > THRESHOLD,
            allowed=("approve", "reject"),
            description=f"Transfers over {THRESHOLD} need the customer's confirmation.",
        )
    }
)

INSTRUCTIONS = (
    "You are a bank's chat assistant. Use get_balance to check the customer's balance and "
    "transfer(amount, recipient) to send money. If a transfer is rejected, do not retry it; "
    "tell the customer it was not made. Answer in one or two short sentences."
)


def bank_tools(bank: Bank) -> list[Callable[..., str]]:
    """The agent's tools; a transfer that fails raises, and the model is told why."""

    def get_balance() -> str:
        """The customer's current balance."""
        return f"{bank.balance():.2f}"

    def transfer(amount: float, recipient: str) -> str:
        """Send money from the customer's account to a payee (e.g. Alice)."""
        left = bank.transfer(amount, recipient)
        return f"Sent {amount:.2f} to {recipient}; your balance is now {left:.2f}."

    return [get_balance, transfer]


_TRANSFER = re.compile(
    r"\b(?:transfer|send|pay)\s+\$?(?P<amount>\d+(?:\.\d+)?)\s+to\s+(?P<recipient>\w+)", re.I
)


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def _first_turn(messages: Sequence[Message]) -> str | Message:
    """Read the request: a transfer, a balance check, or neither."""
    text = next(m.content or "" for m in reversed(messages) if m.role == "user")
    if found := _TRANSFER.search(text):
        args: dict[str, Any] = {
            "amount": _number(found["amount"]),
            "recipient": found["recipient"],
        }
        return Message.assistant(tool_calls=(ToolCall(id="transfer", name="transfer", args=args),))
    if "balance" in text.lower():
        return Message.assistant(tool_calls=(ToolCall(id="balance", name="get_balance"),))
    return "I can check your balance or send money, e.g. 'transfer 50 to Alice'."


def _answer(messages: Sequence[Message]) -> str:
    """Say what the tool did, or that the transfer was not made and why."""
    result = messages[-1]
    if result.name == "get_balance":
        return f"Your balance is {result.content}."
    if result.is_error:
        _, said, feedback = (result.content or "").partition("Reviewer feedback: ")
        return f"The transfer was not made: {feedback if said else result.content}"
    return f"Transfer complete. {result.content}"


def scripted_model() -> ScriptedModel:
    """Stands in for the LLM offline: one tool call per message, then a one-line answer."""
    return ScriptedModel([_first_turn, _answer])


def default_model() -> ChatModel:
    """A real model when ``OPENAI_API_KEY`` is set, else the script."""
    if os.environ.get("OPENAI_API_KEY"):
        return OpenAIChatModel(os.environ.get("HITL_EXAMPLE_MODEL", "gpt-4o-mini"), temperature=0)
    return scripted_model()


def build_agent(store: ApprovalStore, bank: Bank, *, model: ChatModel | None = None) -> ToolLoop:
    """The banking agent on `store`: any process may build one and resume any run."""
    return ToolLoop(
        model or default_model(),
        bank_tools(bank),
        policy=POLICY,
        store=store,
        system=INSTRUCTIONS,
        ask_human=False,
    )
