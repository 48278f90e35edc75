"""The reviewer CLI driven through `hitl_cli.app.main`, the console script's own path.

`main` is what maps a `HITLError` to a red message and exit 1; Typer's `CliRunner`
would skip it, so every test here calls `main` and reads the captured stdout/stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hitl_cli.app import main
from hitl_core import ApprovalRequest, ApprovalStore, AuditKind, open_store
from hitl_loop import Paused, ToolLoop
from tests.loop.payments_app import build

ROOT = Path(__file__).parents[2]
HITL = str(Path(sys.executable).parent / "hitl")
"""The installed console script, for tests that run `hitl` as its own process."""

REQUESTER = "bob"
"""Who starts the payment runs, and so may not approve them."""


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a `hitl` child: the source tree importable, as pytest has it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}
    paths = [str(ROOT), str(ROOT / "adapters"), str(ROOT / "conformance")]
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["COLUMNS"] = "250"
    return {**env, **extra}


@dataclass(frozen=True)
class Result:
    """What one `hitl` invocation did: exit code and both output streams."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Hitl = Callable[..., Result]


@pytest.fixture
def hitl(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Hitl:
    """Run ``hitl ARGS…`` in this process through `main`; never raises SystemExit."""
    monkeypatch.setenv("COLUMNS", "250")  # Rich tables wide enough not to fold ids
    for name in ("HITL_STORE_URL", "HITL_REVIEWER", "HITL_POLICY", "HITL_REVIEWERS"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> Result:
        capsys.readouterr()
        code: int = 0
        try:
            main(list(args))
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'approvals.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[ApprovalStore]:
    """The test's own handle on the SQLite file the CLI opens."""
    opened = open_store(db_url)
    yield opened
    opened.close()


def pay(amount: float, recipient: str = "Acme Corp", call_id: str = "call_pay") -> dict[str, Any]:
    return {
        "id": call_id,
        "name": "send_payment",
        "args": {"amount": amount, "recipient": recipient},
    }


@dataclass
class PaymentRun:
    """A real `ToolLoop` run paused on one payment, with its ledger of what executed."""

    loop: ToolLoop
    ledger: Path
    paused: Paused

    @property
    def request(self) -> ApprovalRequest:
        return self.paused.requests[0]

    def executed(self) -> list[dict[str, Any]]:
        if not self.ledger.exists():
            return []
        return [json.loads(line) for line in self.ledger.read_text().splitlines()]


@pytest.fixture
def payment_run(store: ApprovalStore, tmp_path: Path) -> PaymentRun:
    """``bob`` asks the agent to pay Acme 4,200; the policy pauses it for a reviewer."""
    ledger = tmp_path / "ledger.jsonl"
    loop = build(store, ledger, [[pay(4200)], "Paid."])
    paused = loop.start("Pay Acme 4200", context={"requested_by": REQUESTER})
    assert isinstance(paused, Paused)
    return PaymentRun(loop, ledger, paused)


def decided_events(store: ApprovalStore, request_id: str) -> list[Any]:
    return [e for e in store.audit(request_id=request_id) if e.kind is AuditKind.DECIDED]
