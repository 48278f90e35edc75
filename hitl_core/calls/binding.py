"""Run only what was reviewed: the call about to run must be the call its reviewer saw.

A decision is bound to the request's id and argument digest when it is recorded. These
checks hold that binding when the call runs: the tool and the arguments in the stored run
must be the request's, the stored request must still match its own digest, and what runs
must be the request's arguments (approve) or the edit's (edit). Each returns why not, or
None; the ledger turns a reason into a refusal (nothing runs).
"""

from __future__ import annotations

from typing import Any

from hitl_core.decisions import Edit
from hitl_core.identity import args_digest
from hitl_core.requests import ApprovalRequest

__all__ = ["reviewed_mismatch", "run_mismatch"]


def reviewed_mismatch(
    tool: str, args: dict[str, Any], call_id: str, request: ApprovalRequest
) -> str | None:
    """Why the call `tool(args)` is not the one `request` showed its reviewer (None: it is)."""
    if request.action.call_id != call_id:
        return f"request {request.id} reviewed call {request.action.call_id!r}, not {call_id!r}"
    if request.action.tool != tool:
        return (
            f"the stored run calls {tool!r} where request {request.id} reviewed a call to "
            f"{request.action.tool!r}"
        )
    if args_digest(request.action.args) != request.args_digest:
        return f"the arguments stored in request {request.id} were changed after it was raised"
    if args_digest(args) != request.args_digest:
        return (
            f"the stored run's arguments for {tool!r} are not the ones request {request.id} "
            "showed its reviewer"
        )
    decision = request.decision
    if decision is not None and decision.args_digest not in (None, request.args_digest):
        return f"the decision on request {request.id} was made for other arguments"
    if isinstance(decision, Edit) and decision.edited_digest not in (
        None,
        args_digest(decision.args),
    ):
        return f"the edited arguments on request {request.id} were changed after the edit"
    return None


def run_mismatch(tool: str, args: dict[str, Any], request: ApprovalRequest | None) -> str | None:
    """Why running `tool(args)` is not what `request`'s decision released (None: it is)."""
    if request is None:
        return None
    if tool != request.action.tool:
        return f"{tool!r} would run under an approval of {request.action.tool!r}"
    decision = request.decision
    if isinstance(decision, Edit):
        expected = decision.edited_digest or args_digest(decision.args)
        what = "the edit's arguments"
    else:
        expected, what = request.args_digest, "the arguments the reviewer approved"
    if args_digest(args) != expected:
        return f"the arguments about to run for {tool!r} are not {what}"
    return None
