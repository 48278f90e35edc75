"""The suite's recording tools: plain typed functions every adapter wraps as its own tools.

A driver wraps each function as its framework's tool. One of them, `AUTHOR_GATED`, must
be wrapped with the framework's own "this tool needs approval" flag (the Agents SDK's
``needs_approval=True``, the loop's ``requires_approval=True``...): the suite checks that
the adapter keeps that gate although the standard policy does not ask for one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hitl_conformance.journal import Journal

__all__ = ["AUTHOR_GATED", "EXPORT_FAILURE", "recording_tools"]

AUTHOR_GATED = "transfer_funds"
"""The tool a driver marks with its framework's own approval flag."""

EXPORT_FAILURE = "the export service is down"
"""What `export_report` raises after its side effect (a tool failure, recorded once)."""


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

    def transfer_funds(amount: float, account: str) -> str:
        """Move money between our own accounts (its author requires approval of every call)."""
        journal.executed("transfer_funds", {"amount": amount, "account": account})
        return f"moved {amount:.2f} to {account}"

    def export_report(name: str) -> str:
        """Export a report; the export service fails after the report was written."""
        journal.executed("export_report", {"name": name})
        raise RuntimeError(EXPORT_FAILURE)

    tools: list[Callable[..., Any]] = [
        send_payment,
        delete_rows,
        send_email,
        get_balance,
        transfer_funds,
        export_report,
    ]
    return tools
