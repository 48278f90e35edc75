"""Stable ids and digests: what makes a re-raised pause the same request, not a new one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["args_digest", "canonical_json", "request_id"]


def canonical_json(value: Any) -> str:
    """One JSON text per value: sorted keys, no spaces, so equal values hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def args_digest(arguments: Mapping[str, Any]) -> str:
    """The digest of the exact arguments a reviewer is shown (``sha256:<hex>``).

    A decision carries it so that an approval can never apply to arguments that changed
    after the reviewer looked.
    """
    return "sha256:" + hashlib.sha256(canonical_json(arguments).encode()).hexdigest()


def request_id(run_id: str, call_id: str) -> str:
    """The approval request id for one tool call of one run.

    Derived, not random: a run that crashes and raises the same pause again gets the
    same id, so the store keeps one request instead of two.
    """
    digest = hashlib.sha256(f"{run_id}\x00{call_id}".encode()).hexdigest()
    return f"req_{digest[:26]}"
