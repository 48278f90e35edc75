"""Durations as people write them in policy files: ``"24h"``, ``"30m"``, ``"1h30m"``, ``"2d"``.

A policy's expiry is edited by hand in TOML or JSON, where ISO 8601 (``"PT24H"``) reads
badly and a bare number hides its unit. The format is one or more ``<number><unit>`` parts,
largest unit first, with units ``d``, ``h``, ``m`` and ``s``; the number may carry a decimal
fraction (``"1.5s"``). An integer alone is a number of seconds. `format_duration` writes the
shortest such string, and `parse_duration(format_duration(d)) == d` for every duration
that is not negative.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeAlias

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["Duration", "format_duration", "parse_duration"]

_UNITS: dict[str, int] = {"d": 86_400_000_000, "h": 3_600_000_000, "m": 60_000_000, "s": 1_000_000}
"""Microseconds in one of each unit, largest first."""
_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


def parse_duration(value: str | int | timedelta) -> timedelta:
    """Read a duration from ``"1h30m"``-style text, a number of seconds, or a `timedelta`.

    Raises:
        ValueError: the text is not in the format above, or the value is negative.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value}")
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like '24h' or a number of seconds, got {value!r}")
    text = value.strip()
    parts = _PART.findall(text)
    units = [unit for _, unit in parts]
    ordered = sorted(set(units), key=list(_UNITS).index) == units
    if not text or "".join(n + u for n, u in parts) != text or not ordered:
        raise ValueError(
            f"{value!r} is not a duration; write it like '90s', '30m', '24h', '2d' or '1h30m'"
        )
    try:
        micros = sum((Decimal(n) * _UNITS[unit] for n, unit in parts), Decimal(0))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"{value!r} is not a duration") from None
    return timedelta(microseconds=int(micros.to_integral_value()))


def format_duration(duration: timedelta) -> str:
    """Write `duration` in the shortest form `parse_duration` reads back exactly.

    Raises:
        ValueError: the duration is negative, which policies never hold.
    """
    micros = duration // timedelta(microseconds=1)
    if micros < 0:
        raise ValueError(f"a duration cannot be negative, got {duration}")
    if micros == 0:
        return "0s"
    out: list[str] = []
    for unit, size in _UNITS.items():
        count, micros = divmod(micros, size)
        if unit == "s" and micros:
            fraction = f"{micros:06d}".rstrip("0")
            out.append(f"{count}.{fraction}s")
        elif count:
            out.append(f"{count}{unit}")
    return "".join(out)


def _coerce(value: Any) -> Any:
    """Turn policy text or seconds into a `timedelta`; pydantic reports anything else."""
    if value is None or isinstance(value, timedelta):
        return value
    return parse_duration(value)


Duration: TypeAlias = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str),
]
"""A `timedelta` field that loads from ``"24h"`` or seconds and dumps as ``"24h"``."""
