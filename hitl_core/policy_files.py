"""Policy data as text: TOML and JSON in and out, and validation problems a person can fix.

This module knows nothing about `Policy` itself; it turns text into plain data and back,
so `hitl_core.policy` and `hitl_core.predicates` stay about meaning, not formats. Writing
TOML is done here because the standard library only reads it (`tomllib`).
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hitl_core.errors import HITLError, InvalidPolicy

__all__ = ["dump_json", "dump_toml", "load_json", "load_toml", "read_policy_file", "problems"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def load_toml(text: str, where: str = "policy") -> dict[str, Any]:
    """Parse TOML policy text into plain data.

    Raises:
        InvalidPolicy: the text is not TOML.
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidPolicy(f"not valid TOML ({error})", where) from None


def load_json(text: str | bytes, where: str = "policy") -> Any:
    """Parse JSON policy text into plain data (the caller checks that it is an object).

    Raises:
        InvalidPolicy: the text is not JSON.
    """
    try:
        return json.loads(text)
    except ValueError as error:
        raise InvalidPolicy(f"not valid JSON ({error})", where) from None


def read_policy_file(path: str | Path) -> Any:
    """Read a ``.toml`` or ``.json`` policy file into plain data, chosen by its suffix.

    Raises:
        InvalidPolicy: the suffix is neither, or the text does not parse.
        OSError: the file cannot be read.
    """
    path = Path(path)
    where = f"policy file {path}"
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return load_toml(path.read_text(encoding="utf-8"), where)
    if suffix == ".json":
        return load_json(path.read_bytes(), where)
    raise InvalidPolicy(f"unsupported file type {suffix or '(none)'!r}; use .toml or .json", where)


def dump_json(data: Any) -> str:
    """Policy data as indented JSON text."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def dump_toml(data: Mapping[str, Any]) -> str:
    """Policy data as TOML text that `load_toml` reads back to equal data.

    Scalars and lists of scalars go first, as TOML requires; nested tables become
    ``[section]`` headers and tables inside values (predicates) become inline tables.

    Raises:
        ValueError: the data holds a null (say ``arg("x").in_([None])``), which TOML cannot
            write; write the policy as JSON instead.
    """
    return "".join(_toml_table(data, ())).lstrip("\n")


def _toml_table(data: Mapping[str, Any], prefix: tuple[str, ...]) -> list[str]:
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, Mapping) and _is_section(value):
            tables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}\n")
    # A header only where needed: [rules] holding just [rules.x] tables goes without.
    header = prefix and (lines or not tables)
    out = [f"\n[{'.'.join(_toml_key(k) for k in prefix)}]\n"] if header else []
    out += lines
    for key, table in tables:
        out += _toml_table(table, (*prefix, key))
    return out


def _is_section(table: Mapping[str, Any]) -> bool:
    """Whether a table reads better as a ``[section]`` than inline: not a predicate."""
    return "kind" not in table


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    # JSON escapes are valid TOML basic-string escapes; TOML also wants DEL escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML policy data cannot hold {value}")
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = (f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(items) + " }"
    if value is None:
        raise ValueError("TOML has no null, and this policy holds one; write it as JSON")
    raise ValueError(f"TOML policy data cannot hold {type(value).__name__} {value!r}")


def problems(error: ValidationError, data: Any) -> list[str]:
    """Pydantic's errors as ``"rules.send_payment.when: unknown predicate kind 'gt'"``.

    Paths are given in terms of `data`, the input as written: pydantic's union tags
    (``compare``, ``reject``) are dropped from its locations, and one line is kept per path.
    """
    seen: dict[str, str] = {}
    for item in error.errors(include_url=False):
        path = _data_path(item["loc"], data)
        seen.setdefault(path, _describe(item))
    # A container whose item failed may also fail its own length check; the item says more.
    deeper = [path for path in seen if path]
    return [
        f"{path}: {text}" if path else text
        for path, text in seen.items()
        if not any(other.startswith(f"{path}.") for other in deeper)
    ]


def _data_path(loc: tuple[int | str, ...], data: Any) -> str:
    node, parts = data, []
    for segment in loc:
        if _has(node, segment):
            node = node[segment]
        elif isinstance(node, Mapping) and segment in (node.get("kind"), node.get("type")):
            continue  # a union tag pydantic adds to the location, not a key in the data
        else:
            node = None
        parts.append(str(segment))
    return ".".join(parts)


def _has(node: Any, segment: int | str) -> bool:
    if isinstance(node, Mapping):
        return segment in node
    return isinstance(node, list | tuple) and isinstance(segment, int) and segment < len(node)


def _describe(item: Any) -> str:
    """One error in words; names the offending value where pydantic's text does not."""
    kind, ctx = item["type"], item.get("ctx") or {}
    if kind == "union_tag_invalid":
        what = "predicate kind" if ctx.get("discriminator") == "'kind'" else "decision type"
        return f"unknown {what} {ctx.get('tag')!r}; use one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"no {ctx.get('discriminator')} field to say what this is"
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        return f"unexpected field (value {item['input']!r})"
    cause = ctx.get("error")
    if isinstance(cause, HITLError):
        return str(getattr(cause, "problem", cause.message))
    if isinstance(cause, ValueError):
        return str(cause)
    return f"{item['msg']} (got {item['input']!r})"
