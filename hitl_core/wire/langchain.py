"""LangChain's human-in-the-loop wire format, both ways, without importing LangChain.

LangChain-compatible review UIs send ``{"type": "approve"}``,
``{"type": "edit", "edited_action": {"name": ..., "args": {...}}}``,
``{"type": "reject", "message": ...}`` and ``{"type": "respond", "message": ...}``, and
render ``{"action_requests": [...], "review_configs": [...]}``. That format has no slot
for the reviewer, the time, an edit's feedback or the request binding, so `to_langchain`
keeps them under an extra ``"hitl"`` key (ignored by LangChain) and `from_langchain`
reads them back: a round trip either way loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from hitl_core.decisions import (
    ALL_KINDS,
    AnyDecision,
    Decision,
    Edit,
    MalformedDecision,
    Reject,
    Respond,
)
from hitl_core.errors import InvalidInput, UnknownDecisionKind
from hitl_core.requests import ApprovalRequest

__all__ = ["from_langchain", "from_langchain_response", "to_langchain", "to_langchain_request"]

_META = "hitl"


def from_langchain(
    payload: Mapping[str, Any], *, by: str | None = None, at: datetime | None = None
) -> AnyDecision:
    """A decision from a LangChain HITL decision payload.

    Args:
        payload: one LangChain decision dict.
        by: the authenticated reviewer; overrides any identity in the payload (a client
            must not choose who it claims to be).
        at: when it was decided; defaults to the payload's ``hitl.at`` or now.

    Raises:
        UnknownDecisionKind: ``type`` is not approve, edit, reject or respond.
        MalformedDecision: a required field (``edited_action``, ``message``) is missing.
    """
    kind = payload.get("type")
    if kind not in ALL_KINDS:
        raise UnknownDecisionKind(kind)
    meta = dict(payload.get(_META) or {})
    if by is not None:
        meta["by"] = by
    if at is not None:
        meta["at"] = at
    if "by" not in meta:
        raise MalformedDecision(["by: the reviewer's identity is required (pass by=...)"])
    message = payload.get("message")
    # An edit made without naming its tool keeps tool=None through the round trip.
    unnamed = "tool" in meta and meta.pop("tool") is None
    fields: dict[str, Any] = {"type": kind, **meta}
    if kind == "edit":
        action = payload.get("edited_action")
        if not isinstance(action, Mapping) or not isinstance(action.get("args"), Mapping):
            raise MalformedDecision(["edited_action: must be {'name': ..., 'args': {...}}"])
        fields |= {"args": dict(action["args"]), "tool": None if unnamed else action.get("name")}
    elif kind == "reject":
        fields["feedback"] = message if message is not None else meta.get("feedback")
    elif kind == "respond":
        if not isinstance(message, str):
            raise MalformedDecision(["message: a respond decision needs the answer text"])
        fields["answer"] = message
    return Decision.parse(fields)


def to_langchain(
    decision: Decision, *, tool: str | None = None, include_meta: bool = True
) -> dict[str, Any]:
    """The LangChain payload for a decision.

    Args:
        tool: the reviewed tool's name, needed for an edit that does not name it.
        include_meta: keep reviewer, time, feedback and binding under ``"hitl"``.
    """
    payload: dict[str, Any] = {"type": decision.kind}
    if isinstance(decision, Edit):
        name = decision.tool or tool
        if name is None:
            raise InvalidInput("An edit needs the tool name for LangChain: pass tool=...")
        payload["edited_action"] = {"name": name, "args": dict(decision.args)}
    elif isinstance(decision, Reject) and decision.feedback is not None:
        payload["message"] = decision.feedback
    elif isinstance(decision, Respond):
        payload["message"] = decision.answer
    if include_meta:
        meta = decision.model_dump(
            mode="json", include={"by", "at", "feedback", "request_id", "args_digest"}
        )
        if isinstance(decision, Reject):
            meta.pop("feedback")  # carried as "message"
        if isinstance(decision, Edit) and decision.tool is None:
            meta["tool"] = None
        payload[_META] = {k: v for k, v in meta.items() if v is not None or k == "tool"}
    return payload


def to_langchain_request(requests: Sequence[ApprovalRequest]) -> dict[str, Any]:
    """The ``HITLRequest`` view of pending requests, as LangChain review UIs render it."""
    return {
        "action_requests": [
            {"name": r.action.tool, "args": dict(r.action.args), "description": r.reason}
            for r in requests
        ],
        "review_configs": [
            {
                "action_name": r.action.tool,
                "allowed_decisions": list(r.allowed),
                **({"args_schema": r.action.args_schema} if r.action.args_schema else {}),
            }
            for r in requests
        ],
    }


def from_langchain_response(
    response: Mapping[str, Any], requests: Sequence[ApprovalRequest], *, by: str
) -> list[tuple[str, AnyDecision]]:
    """Pair a ``HITLResponse`` (``{"decisions": [...]}``) with the requests, by position.

    Returns (request id, decision) pairs, each decision bound to its request.

    Raises:
        InvalidInput: the number of decisions differs from the number of requests.
    """
    decisions = response.get("decisions")
    if not isinstance(decisions, list) or len(decisions) != len(requests):
        count = len(decisions) if isinstance(decisions, list) else "no"
        raise InvalidInput(
            f"Got {count} decisions for {len(requests)} requests; send exactly one decision "
            "per action request, in the same order. Nothing was recorded."
        )
    pairs: list[tuple[str, AnyDecision]] = []
    for request, payload in zip(requests, decisions, strict=True):
        decision = from_langchain(payload, by=by)
        if isinstance(decision, Edit) and decision.tool is None:
            decision = decision.model_copy(update={"tool": request.action.tool})
        pairs.append((request.id, decision.model_copy(update={"request_id": request.id})))
    return pairs
