"""What the three payments agents share: the policy file, the tool and its ledger, the prompt.

Nothing here imports an agent framework. It is what stays the same when the agent moves
from one framework to another; only the wiring in ``agent_*.py`` differs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hitl_core import ApprovalRequest, Policy

__all__ = [
    "INSTRUCTIONS",
    "POLICY",
    "Ledger",
    "Payment",
    "Turn",
    "payment_tool",
    "real_model_wanted",
]

POLICY = Policy.from_file(Path(__file__).with_name("policy.toml"))
"""``send_payment`` over 1,000 waits up to 24h for a human: approve, edit or reject."""

INSTRUCTIONS = (
    "You pay vendors. Call send_payment once with the recipient, amount and currency the "
    "user gives, then tell the user in one sentence what the tool returned. If a reviewer "
    "rejected the payment, say so and pass on their feedback; do not try again."
)


def real_model_wanted() -> bool:
    """True when OPENAI_API_KEY is set: the agents then call OpenAI instead of a script."""
    return bool(os.environ.get("OPENAI_API_KEY"))


@dataclass(frozen=True)
class Payment:
    """What the user asks the agent to pay."""

    recipient: str
    amount: float
    currency: str = "USD"
    invoice: str = "88"

    @property
    def prompt(self) -> str:
        """The user's message."""
        return (
            f"Pay {self.recipient} {self.amount:,.2f} {self.currency} for invoice {self.invoice}."
        )

    @property
    def args(self) -> dict[str, Any]:
        """The ``send_payment`` arguments that carry out this request."""
        return {"recipient": self.recipient, "amount": self.amount, "currency": self.currency}


class Ledger:
    """The payments actually sent: one JSON line each, so any process can check them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def pay(self, recipient: str, amount: float, currency: str) -> str:
        """Record one payment; returns the confirmation the agent reads."""
        ref = f"PAY-{len(self.entries()) + 1:04d}"
        entry = {"recipient": recipient, "amount": amount, "currency": currency, "ref": ref}
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry) + "\n")
        return f"Paid {amount:,.2f} {currency} to {recipient} (ref {ref})."

    def entries(self) -> list[dict[str, Any]]:
        """Every payment sent so far, oldest first."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]


def payment_tool(ledger: Ledger) -> Callable[[str, float, str], str]:
    """The ``send_payment`` tool, writing to `ledger`; each framework takes it unchanged."""

    def send_payment(recipient: str, amount: float, currency: str) -> str:
        """Send a payment to a vendor. Returns the payment's confirmation and reference."""
        return ledger.pay(recipient, amount, currency)

    return send_payment


@dataclass(frozen=True)
class Turn:
    """Where a run stands after `start` or `resume`, in the same terms for every framework."""

    run_id: str
    pending: list[ApprovalRequest] = field(default_factory=list)
    """The requests the run waits on; empty once the agent has answered."""
    answer: str | None = None
    """The agent's final answer, once it has one."""
    told: list[str] = field(default_factory=list)
    """The tool results the model read, oldest first."""

    @property
    def paused(self) -> bool:
        """True while the run waits on a human."""
        return bool(self.pending)
