"""One claims process as a service would run it: submit a claim, wait for its review, finish.

    python -m examples.claims.claim_process STORE_URL LEDGER_PATH CLAIM_JSON

Prints one JSON line per step (``submitted``, ``resumed``, ``completed``) and exits 0
once the claim's run completes. The crash-recovery scenario SIGKILLs it while it waits
and starts it again: the second process finds the run in the store and carries on.
Waiting in a process is the simple way; `hitl_core.worker.Worker` is the way that holds
nothing while people think.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from examples.claims.agent import Claim, build_agent, submit
from examples.claims.ledger import ClaimsLedger
from hitl_core import ApprovalStore, open_store
from hitl_loop import Paused

POLL_SECONDS = 0.1
WAIT_LIMIT = 120.0
"""Give up (exit 2) if nobody decides within this many seconds."""


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def wait_for_answers(store: ApprovalStore, paused: Paused) -> bool:
    """Poll until every request the run waits on has an answer; False on timeout."""
    deadline = time.monotonic() + WAIT_LIMIT
    while any(store.get(r.id).is_pending for r in paused.requests):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def main(argv: list[str]) -> int:
    store_url, ledger_path, claim_json = argv
    store = open_store(store_url)
    agent = build_agent(store, ClaimsLedger(Path(ledger_path)))
    claim = Claim.model_validate_json(claim_json)
    outcome, picked_up = submit(agent, claim)
    emit(
        "submitted",
        run_id=claim.run_id,
        picked_up=picked_up,
        status=outcome.status,
        requests=[r.id for r in outcome.requests] if isinstance(outcome, Paused) else [],
    )
    while isinstance(outcome, Paused):
        if not wait_for_answers(store, outcome):
            emit("gave_up", run_id=claim.run_id)
            return 2
        outcome = agent.resume(claim.run_id)
        emit("resumed", run_id=claim.run_id, status=outcome.status)
    emit("completed", run_id=claim.run_id, output=outcome.output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
