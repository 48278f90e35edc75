"""The adapters hitl-kit ships, and which of them are installed here."""

from __future__ import annotations

import importlib.util

__all__ = ["SHIPPED_ADAPTERS", "installed_adapters"]

SHIPPED_ADAPTERS = ("hitl_loop", "hitl_langgraph", "hitl_openai_agents")


def installed_adapters() -> list[str]:
    """Shipped adapters whose conformance driver can be imported in this environment."""
    found = []
    for name in SHIPPED_ADAPTERS:
        try:
            if importlib.util.find_spec(f"{name}.conformance") is not None:
                found.append(name)
        except ModuleNotFoundError:
            continue
    return found
