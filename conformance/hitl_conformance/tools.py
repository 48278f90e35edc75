"""The suite's recording tools: plain typed functions every adapter wraps as its own tools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hitl_conformance.journal import Journal

__all__ = ["recording_tools"]


def recording_tools(journal: Journal) -> list[Callable[..., str]]:
    """Tools that record each real execution in `journal` and return a fixed text."""

    def send_payment(amount: float, recipient: str) -> str:
        """Send a payment to a recipient."""
        journal.executed("send_payment", {"amount": amount, "recipient": recipient})
        return f"paid {amount:.2f} to {recipient}"

    def delete_rows(table: str, count: int) -> str:
        """Delete rows from a table."""
        journal.executed("delete_rows", {"table": table, "count": count})
        return f"deleted {count} rows from {table}"

    def send_email(to: str, subject: str) -> str:
        """Send an email."""
        journal.executed("send_email", {"to": to, "subject": subject})
        return f"sent {subject!r} to {to}"

    def get_balance() -> str:
        """Read the account balance."""
        journal.executed("get_balance", {})
        return "balance: 10000.00"

    tools: list[Callable[..., Any]] = [send_payment, delete_rows, send_email, get_balance]
    return tools
