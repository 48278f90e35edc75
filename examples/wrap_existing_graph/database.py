"""The database the cleanup agent works on: 20 sessions and an empty purge log.

Example data, not part of the team's graph: 4 sessions last seen in March 2025, 12 in
the autumn of 2025 and 4 in 2026, so a purge before 2025-06-01 deletes 4 rows and one
before 2026-01-01 deletes 12 (or 16, when the first has not run).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

__all__ = ["LAST_SEEN", "create_database", "purge_log", "sessions_left"]

LAST_SEEN = (
    ["2025-03-02", "2025-03-09", "2025-03-16", "2025-03-23"]
    + [f"2025-{month:02d}-{day:02d}" for month in (9, 10, 11, 12) for day in (5, 15, 25)]
    + ["2026-02-01", "2026-02-08", "2026-02-15", "2026-02-22"]
)
"""When each session was last seen, oldest first."""


def create_database(path: Path) -> Path:
    """Create the sessions table (with `LAST_SEEN`) and an empty purge log at `path`."""
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, last_seen TEXT NOT NULL)")
        db.execute(
            "CREATE TABLE purge_log (id INTEGER PRIMARY KEY, table_name TEXT NOT NULL, "
            "last_seen_before TEXT NOT NULL, deleted INTEGER NOT NULL)"
        )
        db.executemany("INSERT INTO sessions (last_seen) VALUES (?)", [(d,) for d in LAST_SEEN])
    return path


def sessions_left(path: Path) -> list[str]:
    """The last-seen dates of the sessions still in the database, oldest first."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT last_seen FROM sessions ORDER BY last_seen").fetchall()
    return [row[0] for row in rows]


def purge_log(path: Path) -> list[dict[str, Any]]:
    """Every purge the graph's tool carried out, in order."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT table_name, last_seen_before, deleted FROM purge_log ORDER BY id"
        ).fetchall()
    return [{"table": t, "last_seen_before": before, "deleted": n} for t, before, n in rows]
