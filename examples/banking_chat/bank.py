"""The bank: balances and transfers in a SQLite file, so every process sees the same money.

Amounts are kept in cents, as integers, so 0.1 + 0.2 is never a balance.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CUSTOMER", "OPENING_BALANCES", "Bank", "Transfer"]

CUSTOMER = "you"
"""The account the chat acts for (one customer keeps the example small)."""
OPENING_BALANCES: Mapping[str, float] = {CUSTOMER: 1000.0, "Alice": 0.0, "Bob": 0.0}


@dataclass(frozen=True, slots=True)
class Transfer:
    """One completed transfer."""

    source: str
    recipient: str
    amount: float


def _cents(amount: float) -> int:
    return round(amount * 100)


class Bank:
    """Accounts and an append-only list of transfers, opened with the balances given once."""

    def __init__(self, path: Path, opening: Mapping[str, float] = OPENING_BALANCES) -> None:
        self.path = path
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, cents INT)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS transfers (seq INTEGER PRIMARY KEY, "
                "source TEXT NOT NULL, recipient TEXT NOT NULL, cents INT NOT NULL)"
            )
            conn.executemany(
                "INSERT OR IGNORE INTO accounts (name, cents) VALUES (?, ?)",
                [(name, _cents(amount)) for name, amount in opening.items()],
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction on a fresh connection: safe from any thread or process."""
        with closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
            yield conn

    def balance(self, account: str = CUSTOMER) -> float:
        """The account's balance. Raises `ValueError` for an unknown account."""
        with self._connect() as conn:
            row = conn.execute("SELECT cents FROM accounts WHERE name = ?", (account,)).fetchone()
        if row is None:
            raise ValueError(f"no account named {account!r}")
        cents: int = row[0]
        return cents / 100

    def transfer(self, amount: float, recipient: str, *, source: str = CUSTOMER) -> float:
        """Move `amount` from `source` to `recipient`; returns the source's new balance.

        Raises:
            ValueError: a non-positive amount, an unknown payee, or too little money;
                nothing moved.
        """
        cents = _cents(amount)
        if cents <= 0:
            raise ValueError(f"a transfer must be positive, got {amount}")
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # read and update the balance as one step
            names = {n for (n,) in conn.execute("SELECT name FROM accounts")}
            if recipient not in names or recipient == source:
                payees = ", ".join(sorted(names - {source}))
                raise ValueError(f"{recipient!r} is not a payee; known payees: {payees}")
            row = conn.execute("SELECT cents FROM accounts WHERE name = ?", (source,)).fetchone()
            have = int(row[0])
            if have < cents:
                raise ValueError(
                    f"insufficient funds: balance {have / 100:.2f}, asked {amount:.2f}"
                )
            conn.execute("UPDATE accounts SET cents = cents - ? WHERE name = ?", (cents, source))
            conn.execute("UPDATE accounts SET cents = cents + ? WHERE name = ?", (cents, recipient))
            conn.execute(
                "INSERT INTO transfers (source, recipient, cents) VALUES (?, ?, ?)",
                (source, recipient, cents),
            )
        return (have - cents) / 100

    def transfers(self) -> list[Transfer]:
        """Every transfer made, oldest first."""
        with self._connect() as conn:
            rows = conn.execute("SELECT source, recipient, cents FROM transfers ORDER BY seq")
            return [Transfer(str(s), str(r), int(c) / 100) for s, r, c in rows.fetchall()]
