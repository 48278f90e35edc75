"""The claims agent: a claim, its two tools, the model, and how a claim is submitted.

A claim's run id is derived from its claim id, so submitting the same claim again (after
a crash, say) finds the run already in the store instead of raising a second request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from examples.claims.ledger import ClaimsLedger
from hitl_core import ApprovalStore, Policy, RunStatus, UnknownRun
from hitl_loop import (
    ChatModel,
    Completed,
    LoopOutcome,
    LoopState,
    Message,
    OpenAIChatModel,
    ScriptedModel,
    ToolCall,
    ToolLoop,
)

__all__ = [
    "INSTRUCTIONS",
    "POLICY_FILE",
    "Claim",
    "Submitted",
    "build_agent",
    "claim_tools",
    "default_model",
    "load_policy",
    "scripted_model",
    "submit",
]

POLICY_FILE = Path(__file__).with_name("policy.toml")

INSTRUCTIONS = (
    "You settle insurance claims. Pay the claimed amount with pay_claim(claim_id, amount). "
    "If that call is rejected and the rejection says the claim was escalated, call "
    "escalate_claim once with the same claim id and amount and a short reason. Never "
    "escalate twice. Finish with one sentence saying whether the claim was paid."
)


class Claim(BaseModel):
    """A claim as intake hands it over, risk score included (scored before the agent runs)."""

    model_config = ConfigDict(frozen=True)

    claim_id: str
    amount: float
    risk_score: float
    """0 (clean) to 1 (likely fraud); the policy reads it as ``ctx("risk_score")``."""
    description: str

    @property
    def run_id(self) -> str:
        """One run per claim, so a resubmitted claim finds its run (see `submit`)."""
        return f"claim-{self.claim_id}"

    @property
    def prompt(self) -> str:
        return f"Claim {self.claim_id} for {self.amount:.2f}: {self.description}."

    @property
    def context(self) -> dict[str, Any]:
        """Facts for the policy and the reviewer; kept with the run and on each request."""
        return {"claim_id": self.claim_id, "risk_score": self.risk_score}


def load_policy() -> Policy:
    return Policy.from_file(POLICY_FILE)


def claim_tools(ledger: ClaimsLedger) -> list[Callable[..., str]]:
    """The agent's tools; both move money, so the policy decides when a person looks first."""

    def pay_claim(claim_id: str, amount: float) -> str:
        """Pay a claim to the claimant."""
        ledger.pay(claim_id, amount, "pay_claim")
        return f"Paid {amount:,.2f} on claim {claim_id}."

    def escalate_claim(claim_id: str, amount: float, reason: str) -> str:
        """Refer a claim whose review lapsed to a senior adjuster; it pays only if they approve."""
        ledger.pay(claim_id, amount, "escalate_claim")
        return f"A senior adjuster released claim {claim_id}; paid {amount:,.2f}."

    return [pay_claim, escalate_claim]


_CLAIM_LINE = re.compile(r"Claim (?P<claim_id>\S+) for (?P<amount>[\d.]+)")


def _claim_in(messages: Sequence[Message]) -> dict[str, Any]:
    """The claim id and amount from the user's prompt, as the model would read them."""
    prompt = next(m.content or "" for m in messages if m.role == "user")
    found = _CLAIM_LINE.search(prompt)
    if found is None:
        raise ValueError(f"no claim in the prompt {prompt!r}")
    return {"claim_id": found["claim_id"], "amount": float(found["amount"])}


def _pay(messages: Sequence[Message]) -> Message:
    return Message.assistant(
        tool_calls=(ToolCall(id="pay", name="pay_claim", args=_claim_in(messages)),)
    )


def _after_payment(messages: Sequence[Message]) -> str | Message:
    """Escalate when the rejection says so; otherwise report."""
    result = messages[-1]
    if result.is_error and "escalated" in (result.content or ""):
        args = {**_claim_in(messages), "reason": "no adjuster decision within 24h"}
        return Message.assistant(
            tool_calls=(ToolCall(id="escalate", name="escalate_claim", args=args),)
        )
    return _report(messages)


def _report(messages: Sequence[Message]) -> str:
    result, claim_id = messages[-1], _claim_in(messages)["claim_id"]
    if result.is_error:
        return f"Claim {claim_id} was not paid. {result.content}"
    return f"Claim {claim_id} settled. {result.content}"


def scripted_model() -> ScriptedModel:
    """Stands in for the LLM offline: pay, then escalate or report, then report."""
    return ScriptedModel([_pay, _after_payment, _report])


def default_model() -> ChatModel:
    """A real model when ``OPENAI_API_KEY`` is set, else the script."""
    if os.environ.get("OPENAI_API_KEY"):
        return OpenAIChatModel(os.environ.get("HITL_EXAMPLE_MODEL", "gpt-4o-mini"), temperature=0)
    return scripted_model()


def build_agent(
    store: ApprovalStore, ledger: ClaimsLedger, *, model: ChatModel | None = None
) -> ToolLoop:
    """The claims agent on `store`. Cheap to build: any process may build one to resume."""
    return ToolLoop(
        model or default_model(),
        claim_tools(ledger),
        policy=load_policy(),
        store=store,
        system=INSTRUCTIONS,
        ask_human=False,
    )


class Submitted(NamedTuple):
    outcome: LoopOutcome
    picked_up: bool
    """True when the claim's run was already in the store (a restart after a crash)."""


def submit(agent: ToolLoop, claim: Claim) -> Submitted:
    """Start the claim's run, or pick up the one an earlier process left behind.

    Picking up resumes the run: decisions made meanwhile apply, and requests still
    pending stay pending under their old ids. Nothing is asked twice, nothing re-runs.

    Raises:
        RunNotPaused: the claim's run failed or was cancelled; a person should look.
    """
    try:
        record = agent.store.load_run(claim.run_id)
    except UnknownRun:
        return Submitted(
            agent.start(claim.prompt, run_id=claim.run_id, context=claim.context), False
        )
    if record.status is RunStatus.COMPLETED:
        state = LoopState.load(claim.run_id, record.state)
        done = Completed(run_id=claim.run_id, output=state.output or "", messages=state.messages)
        return Submitted(done, True)
    return Submitted(agent.resume(claim.run_id), True)
