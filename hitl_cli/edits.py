"""Edited arguments: built from ``--set key=value`` on top of the shown ones, and diffed.

A reviewer usually changes one or two values (cap an amount, fix an IBAN), so `hitl
edit` starts from the arguments they were shown and applies each ``--set``; the diff
shows afterwards exactly what changed, key by key.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hitl_core.errors import InvalidInput

__all__ = ["Change", "apply_sets", "args_diff", "format_value", "parse_set"]


def parse_set(item: str) -> tuple[list[str], Any]:
    """``"recipient.iban=DE89…"`` -> (``["recipient", "iban"]``, ``"DE89…"``).

    The value is JSON when it parses as JSON (``4000``, ``true``, ``null``, ``[1, 2]``,
    ``"007"``), else the text as written, so ``--set note=pay later`` needs no quotes.

    Raises:
        InvalidInput: no ``=``, or an empty key or key segment.
    """
    key, sep, raw = item.partition("=")
    path = key.strip().split(".")
    if not sep or not all(path):
        raise InvalidInput(
            f"--set {item!r}: write key=value, with a dotted key for nested objects "
            "(e.g. recipient.iban=DE89...). The pending request is unchanged."
        )
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return path, value


def apply_sets(args: Mapping[str, Any], sets: Iterable[str]) -> dict[str, Any]:
    """A copy of `args` with each ``--set`` applied in order; nested objects are created.

    Raises:
        InvalidInput: a ``--set`` is malformed, or its key goes through a value that is
            not an object (``--set amount.x=1`` when amount is a number).
    """
    edited = copy.deepcopy(dict(args))
    for item in sets:
        path, value = parse_set(item)
        node = edited
        for depth, key in enumerate(path[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                where = ".".join(path[: depth + 1])
                raise InvalidInput(
                    f"--set {item!r}: {where} is {format_value(child)}, not an object, so it "
                    f"has no keys to set. Set {where} itself instead. The pending request "
                    "is unchanged."
                )
            node = child
        node[path[-1]] = value
    return edited


@dataclass(frozen=True)
class Change:
    """One argument that differs between the proposed call and the edit."""

    path: str
    """Dotted for nested objects, e.g. ``recipient.iban``."""
    kind: Literal["changed", "added", "removed"]
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        if self.kind == "changed":
            return f"{self.path}: {format_value(self.old)} -> {format_value(self.new)}"
        if self.kind == "added":
            return f"{self.path}: added {format_value(self.new)}"
        return f"{self.path}: removed (was {format_value(self.old)})"


def args_diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[Change]:
    """What an edit changed, per key, descending into objects present on both sides."""
    changes: list[Change] = []
    for key in [*old, *(k for k in new if k not in old)]:
        path = f"{prefix}{key}"
        if key not in new:
            changes.append(Change(path, "removed", old=old[key]))
        elif key not in old:
            changes.append(Change(path, "added", new=new[key]))
        elif isinstance(old[key], Mapping) and isinstance(new[key], Mapping):
            changes += args_diff(old[key], new[key], prefix=f"{path}.")
        elif old[key] != new[key] or type(old[key]) is not type(new[key]):
            changes.append(Change(path, "changed", old=old[key], new=new[key]))
    return changes


def format_value(value: Any) -> str:
    """A value as JSON, as the reviewer would type it back (``4200``, ``"Acme"``)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
