"""`needs(...)`: the marker naming the capabilities a standard test checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from hitl_conformance.capabilities import Capability

__all__ = ["MARKER", "needs"]

MARKER = "hitl_capability"
_F = TypeVar("_F", bound=Callable[..., Any])


def needs(checks: Capability, *also: Capability) -> Callable[[_F], _F]:
    """Mark a test as checking `checks`, using `also` to get there.

    The test is skipped where any of them is not declared; a failure counts against
    `checks` only, so one bug is reported where it is.
    """
    mark: Callable[[_F], _F] = getattr(pytest.mark, MARKER)(checks, *also)
    return mark
