"""Small builders the tests share: a payment request and its schema, and a decision race.

The request builders are the public store suite's (`hitl_conformance.stores.builders`),
so hitl-kit's own tests and third parties' store tests build the same requests.
"""

from __future__ import annotations

import threading

from hitl_conformance.stores.builders import PAYMENT_SCHEMA as PAYMENT_SCHEMA
from hitl_conformance.stores.builders import payment_request as payment_request
from hitl_core import AlreadyDecided, ApprovalStore, Decision

__all__ = ["PAYMENT_SCHEMA", "payment_request", "race_decisions"]


def race_decisions(store: ApprovalStore, request_id: str, racers: int) -> tuple[list[str], int]:
    """`racers` threads approve one request at the same instant.

    Returns the winners' names and how many got `AlreadyDecided`.
    """
    barrier = threading.Barrier(racers)
    wins: list[str] = []
    conflicts: list[AlreadyDecided] = []

    def decide(name: str) -> None:
        barrier.wait()
        try:
            store.decide(request_id, Decision.approve(by=name))
            wins.append(name)
        except AlreadyDecided as error:
            conflicts.append(error)

    threads = [threading.Thread(target=decide, args=(f"reviewer-{i}",)) for i in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return wins, len(conflicts)
