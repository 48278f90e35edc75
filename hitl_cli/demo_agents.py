"""The demo's payments case on the OpenAI Agents SDK: `run_case` is its row in `hitl demo`.

The same agent as the plain loop's (pay Acme Corp, then quote the result), built from an
SDK ``Agent`` with a scripted model and run by the real ``Runner``. A paused run is
resumed by a freshly built agent, as another process would.
"""

from __future__ import annotations

from typing import Any

from hitl_cli.demo import POLICY, Case, Row, review
from hitl_core import ApprovalStore

__all__ = ["ADAPTER_LABEL", "run_case"]

ADAPTER_LABEL = "OpenAI Agents SDK"


def run_case(store: ApprovalStore, case: Case, ledger: list[dict[str, Any]]) -> Row:
    """Run one demo case through `hitl_openai_agents` on `store`; what happened, as a row."""
    from agents import Agent, RunConfig, function_tool

    from hitl_openai_agents import ApprovalRunner, Completed, Paused, ScriptedModel, call
    from hitl_openai_agents.scripted import tool_outputs

    @function_tool
    def send_payment(amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        ledger.append({"amount": amount, "recipient": recipient})
        return f"PAID {amount:,.2f} to {recipient}"

    def final(items: list[Any]) -> str:
        return f"Done. {list(tool_outputs(items).values())[-1]}"

    def build() -> ApprovalRunner:
        model = ScriptedModel(
            [call("send_payment", {"amount": case.amount, "recipient": "Acme Corp"}), final]
        )
        agent = Agent(name="payments", model=model, tools=[send_payment])
        return ApprovalRunner(
            agent, policy=POLICY, store=store, run_config=RunConfig(tracing_disabled=True)
        )

    outcome = build().start(f"Pay Acme Corp {case.amount:,.0f} for invoice 88.")
    paused = decision = "-"
    if isinstance(outcome, Paused):
        [request] = outcome.requests
        paused, decision = review(store, case, request)
        outcome = build().resume(outcome.run_id)  # a new agent: nothing kept in memory
    assert isinstance(outcome, Completed)
    told = list(tool_outputs(outcome.result.to_input_list()).values())[-1]
    return Row(
        ADAPTER_LABEL,
        case.name,
        paused,
        decision,
        ", ".join(f"{e['amount']:,.0f} to {e['recipient']}" for e in ledger) or "nothing",
        told,
        str(outcome.output),
    )
