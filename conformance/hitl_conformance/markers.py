"""`needs(...)`: the marker naming the capabilities a standard test checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from hitl_conformance.capabilities import Capability

__all__ = ["MARKER", "needs"]

MARKER = "hitl_capability"
_F = TypeVar("_F", bound=Callable[..., Any])


def needs(*capabilities: Capability) -> Callable[[_F], _F]:
    """Mark a test as checking `capabilities`; it is skipped where one is not declared."""
    mark: Callable[[_F], _F] = getattr(pytest.mark, MARKER)(*capabilities)
    return mark
