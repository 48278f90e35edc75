"""The paid-out ledger: money that actually left, in a SQLite file every process can read.

It lives apart from the approval store on purpose: the store records what people decided,
the ledger what the tools did, so a check that the two agree means something.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClaimsLedger", "Payment"]


@dataclass(frozen=True, slots=True)
class Payment:
    """One payout, as the tool that made it wrote it."""

    claim_id: str
    amount: float
    tool: str
    """``pay_claim`` (an adjuster's or no review) or ``escalate_claim`` (a senior's)."""


class ClaimsLedger:
    """Append-only payouts.

    No uniqueness guard on a claim: a payout made twice shows up twice, which is exactly
    what the example's checks are there to catch.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS payments (seq INTEGER PRIMARY KEY, "
                "claim_id TEXT NOT NULL, amount REAL NOT NULL, tool TEXT NOT NULL)"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One short transaction on a fresh connection, so any thread or process may write."""
        with closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
            yield conn

    def pay(self, claim_id: str, amount: float, tool: str) -> Payment:
        """Record a payout (the side effect the approval gate protects)."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO payments (claim_id, amount, tool) VALUES (?, ?, ?)",
                (claim_id, amount, tool),
            )
        return Payment(claim_id, amount, tool)

    def payments(self, claim_id: str | None = None) -> list[Payment]:
        """Payouts in the order they were made, optionally for one claim."""
        where, params = ("WHERE claim_id = ?", [claim_id]) if claim_id else ("", [])
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT claim_id, amount, tool FROM payments {where} ORDER BY seq", params
            ).fetchall()
        return [Payment(str(c), float(a), str(t)) for c, a, t in rows]
