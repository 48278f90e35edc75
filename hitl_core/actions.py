"""The call a reviewer is asked about: tool, arguments, call id and the tool's schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ProposedAction"]


class ProposedAction(BaseModel):
    """One tool call the agent wants to make, exactly as the reviewer sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str = Field(min_length=1)
    """Name of the tool the agent called, e.g. ``"send_payment"``."""
    args: dict[str, Any] = Field(default_factory=dict)
    """The call's arguments, a JSON object, e.g. ``{"amount": 4200, "recipient": "Acme"}``."""
    call_id: str = Field(min_length=1)
    """The framework's id for this call; with the run id it makes the request id."""
    args_schema: dict[str, Any] | None = None
    """JSON Schema of the tool's arguments when known; edits are validated against it."""
