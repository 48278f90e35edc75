"""The payments agent on each adapter, built on real frameworks with scripted models.

One gated call: ``send_payment(amount=4200, recipient="Acme")``, over the threshold of
`conftest.POLICY`; then a final answer. Each app records which payments really ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

import hitl_langgraph
import hitl_loop
from hitl_core import ApprovalStore, Policy
from tests.access.conftest import POLICY

if TYPE_CHECKING:
    import hitl_openai_agents

ARGS = {"amount": 4200, "recipient": "Acme"}
PROMPT = {"messages": [HumanMessage("Pay Acme 4200.")]}


@dataclass
class Payments:
    """The tool, and every payment it really sent."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    def send_payment(self, amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        self.sent.append({"amount": amount, "recipient": recipient})
        return f"paid {amount:.2f} to {recipient}"


def langgraph_app(
    store: ApprovalStore, policy: Policy = POLICY
) -> tuple[hitl_langgraph.ApprovalRunner, Payments]:
    """A ``create_agent`` agent gated by `HumanApprovalMiddleware`, and its runner."""
    payments = Payments()
    model = hitl_langgraph.ScriptedChatModel(
        [hitl_langgraph.call("send_payment", ARGS, id="c1"), "Done."]
    )
    agent = create_agent(
        model,
        [payments.send_payment],
        middleware=[hitl_langgraph.HumanApprovalMiddleware(policy, store)],
        checkpointer=InMemorySaver(),
    )
    return hitl_langgraph.ApprovalRunner(agent, store=store), payments


def agents_app(
    store: ApprovalStore, policy: Policy = POLICY
) -> tuple[hitl_openai_agents.ApprovalRunner, Payments]:
    """An Agents SDK agent with a function tool, under the adapter's runner."""
    from agents import Agent, RunConfig, function_tool

    import hitl_openai_agents

    payments = Payments()

    @function_tool
    def send_payment(amount: float, recipient: str) -> str:
        """Send a payment to a vendor."""
        return payments.send_payment(amount, recipient)

    model = hitl_openai_agents.ScriptedModel(
        [[hitl_openai_agents.call("send_payment", ARGS, id="c1")], "Paid."]
    )
    agent = Agent(name="payments", model=model, tools=[send_payment])
    runner = hitl_openai_agents.ApprovalRunner(
        agent, policy=policy, store=store, run_config=RunConfig(tracing_disabled=True)
    )
    return runner, payments


def loop_app(store: ApprovalStore, policy: Policy = POLICY) -> tuple[hitl_loop.ToolLoop, Payments]:
    """The framework-free loop with a scripted model."""
    payments = Payments()
    model = hitl_loop.ScriptedModel([hitl_loop.call("send_payment", ARGS, id="c1"), "Paid."])
    return hitl_loop.ToolLoop(model, [payments.send_payment], policy=policy, store=store), payments
