"""Whether a call needs a person, and the request that asks one: written once.

`verdict_for` is the policy's verdict with every gate the framework or the tool's author
set added back (a policy adds gates, never removes one), and `request_for` the pending
request on the verdict's terms, recording who may decide it. The ledger uses both; so do
adapters that translate a framework's own pause into a request (LangGraph codecs).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from hitl_core.actions import ProposedAction
from hitl_core.ask import ASK_HUMAN_ALLOWED, ASK_HUMAN_SCHEMA, ASK_HUMAN_TOOL
from hitl_core.calls.model import GatedCall
from hitl_core.policy import Policy, Verdict
from hitl_core.requests import ApprovalRequest
from hitl_core.validation import strict_args_schema

__all__ = ["request_for", "verdict_for"]


def verdict_for(
    policy: Policy, call: GatedCall, context: dict[str, Any], *, ask_human: bool
) -> Verdict:
    """Whether `call` needs a person, on what terms: never fewer gates than the framework's.

    Pure, like `Policy.check`: the same call gets the same verdict when a run resumes.
    """
    verdict = policy.check(call.tool, call.args, context)
    if ask_human and call.tool == ASK_HUMAN_TOOL:
        question = call.args.get("question", "")
        return dataclasses.replace(
            verdict, required=True, reason=f"the agent asks: {question}", allowed=ASK_HUMAN_ALLOWED
        )
    if call.required_by is not None and not verdict.required:
        verdict = dataclasses.replace(verdict, required=True, reason=call.required_by)
    if call.allowed is not None:
        narrowed = tuple(k for k in verdict.allowed if k in call.allowed)
        verdict = dataclasses.replace(verdict, allowed=narrowed or call.allowed)
    return verdict


def request_for(
    call: GatedCall,
    verdict: Verdict,
    *,
    run_id: str,
    adapter: str,
    context: dict[str, Any],
    now: datetime,
    ask_human: bool,
) -> ApprovalRequest:
    """The pending request asking a person about `call`, on `verdict`'s terms."""
    question = ask_human and call.tool == ASK_HUMAN_TOOL
    schema = ASK_HUMAN_SCHEMA if question else strict_args_schema(call.schema)
    return ApprovalRequest.create(
        run_id=run_id,
        adapter=adapter,
        action=ProposedAction(
            tool=call.tool, args=dict(call.args), call_id=call.call_id, args_schema=schema
        ),
        reason=verdict.reason,
        allowed=verdict.allowed,
        context=context,
        now=now,
        expires_in=verdict.expires_in,
        on_expiry=verdict.on_expiry,
        kind="question" if question else "approval",
        reviewers=verdict.reviewers,
        roles=verdict.roles,
    )
