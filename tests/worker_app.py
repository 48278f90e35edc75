"""The app the worker tests run: a payments agent whose runs a `hitl worker` resumes.

Each run pays the recipient named in its prompt, so the ledger shows which run paid.
``HITL_TEST_LEDGER`` names the ledger file; while the file named by ``HITL_TEST_BLOCK``
exists, the model's last turn touches ``<block>.reached`` and hangs (a worker to kill).
``HITL_TEST_PAY_SECONDS`` makes each payment take that long (a tool that outlives a lease).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from hitl_core import ApprovalStore, Policy, arg
from hitl_core.worker import Registry, Resume
from hitl_loop import Message, ScriptedModel, ToolCall, ToolLoop

POLICY = Policy({"send_payment": arg("amount") > 1000})


def send_payment(amount: float, recipient: str) -> str:
    """Send a payment."""
    time.sleep(float(os.environ.get("HITL_TEST_PAY_SECONDS", "0")))
    line = json.dumps({"amount": amount, "recipient": recipient}) + "\n"
    fd = os.open(os.environ["HITL_TEST_LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return f"paid {amount:.2f} to {recipient}"


def _pay_the_prompt(messages: Sequence[Message]) -> Message:
    recipient = next(m.content for m in messages if m.role == "user") or ""
    return Message.assistant(
        tool_calls=(
            ToolCall(id="pay", name="send_payment", args={"amount": 4200, "recipient": recipient}),
        )
    )


def _final(messages: Sequence[Message]) -> str:
    block = os.environ.get("HITL_TEST_BLOCK")
    if block and Path(block).exists():
        Path(block + ".reached").touch()
        time.sleep(3600)
    return f"Done: {messages[-1].content}"


def build(store: ApprovalStore) -> ToolLoop:
    return ToolLoop(
        ScriptedModel([_pay_the_prompt, _final]), [send_payment], policy=POLICY, store=store
    )


def _resume(store: ApprovalStore) -> Resume:
    return build(store).resume


REGISTRY: Registry = {"hitl_loop": _resume}
