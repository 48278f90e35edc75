"""Changing a stored request behind the store's back, as someone with database access could.

The suite uses it to check that a call runs only as it was reviewed: a request whose
arguments were rewritten after its decision must make the run refuse, not run the new
arguments under the old approval.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from hitl_core import ApprovalRequest

__all__ = ["rewrite_request"]


def rewrite_request(store_url: str, request: ApprovalRequest, **action: Any) -> None:
    """Overwrite fields of `request`'s stored action (``args=...``) in the database itself.

    Supports the SQLite and PostgreSQL stores (the suite's stores); nothing else is changed,
    the argument digest included, so the request no longer matches what it claims was shown.
    """
    changed = request.model_copy(update={"action": request.action.model_copy(update=action)})
    doc = changed.model_dump_json()
    if store_url.startswith("sqlite:///"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as db:
            db.execute("UPDATE hitl_requests SET doc = ? WHERE id = ?", (doc, request.id))
        return
    if store_url.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE hitl_requests SET doc = %s::jsonb WHERE id = %s", (doc, request.id)
            )
        return
    raise ValueError(f"cannot rewrite requests in {store_url!r}: use a SQLite or PostgreSQL store")
