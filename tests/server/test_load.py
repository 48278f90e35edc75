"""200 reviewers at once against a live server on PostgreSQL: one winner per request, nothing lost.

Each of 200 pending requests is decided by two reviewers at the same moment (reviewer
i and reviewer i+1 both take request i), all 400 posts in flight together. Every
request must end decided exactly once, by one of its two reviewers, with one 200 and
one 409 and exactly one ``decided`` audit event; no answer may be a 5xx.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from contextlib import AsyncExitStack

from hitl_core import AuditKind, RequestStatus, open_store
from hitl_core.access import Reviewer
from hitl_core.reviewers import Reviewers
from hitl_server.app import create_app
from tests.factories import payment_request
from tests.server.live import reviewer_clients, serve

REVIEWERS = 200
REQUESTS = 200
BUDGET = 30.0
"""Seconds the whole test may take, setup included."""


def token(index: int) -> str:
    return f"token-{index:03d}"


async def contest(url: str, request_ids: list[str]) -> list[tuple[str, str, int]]:
    """(request id, reviewer, status) of every post, all in flight at once (bounded to 200).

    Each reviewer has a client of its own (`reviewer_clients`), as each person has a browser.
    """
    gate = asyncio.Semaphore(REVIEWERS)
    async with AsyncExitStack() as stack:
        tokens = [token(i) for i in range(REVIEWERS)]
        clients = await reviewer_clients(stack, url, tokens, timeout=30)

        async def decide(request_id: str, reviewer: int) -> tuple[str, str, int]:
            async with gate:
                response = await clients[reviewer].post(
                    f"/v1/requests/{request_id}/decision", json={"type": "approve"}
                )
            return request_id, f"reviewer-{reviewer:03d}", response.status_code

        posts = [
            decide(request_id, (index + offset) % REVIEWERS)
            for index, request_id in enumerate(request_ids)
            for offset in (0, 1)
        ]
        return await asyncio.gather(*posts)


def test_two_hundred_reviewers_contest_two_hundred_requests(postgres_url: str) -> None:
    started = time.monotonic()
    store = open_store(postgres_url)
    try:
        request_ids = [store.put(payment_request()).id for _ in range(REQUESTS)]
        audit_before = len(store.audit())
        reviewers = Reviewers.from_tokens(
            {token(i): Reviewer(id=f"reviewer-{i:03d}") for i in range(REVIEWERS)}
        )
        with serve(create_app(store, reviewers=reviewers)) as url:
            results = asyncio.run(contest(url, request_ids))

        statuses = Counter(status for _, _, status in results)
        assert statuses == {200: REQUESTS, 409: REQUESTS}, statuses
        by_request: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for request_id, reviewer, status in results:
            by_request[request_id].append((reviewer, status))
        for request_id in request_ids:
            outcomes = by_request[request_id]
            assert sorted(status for _, status in outcomes) == [200, 409]
            winner = next(reviewer for reviewer, status in outcomes if status == 200)
            stored = store.get(request_id)
            assert stored.status is RequestStatus.DECIDED
            assert stored.decision is not None
            assert stored.decision.by == winner

        added = store.audit()[audit_before:]
        assert all(event.kind is AuditKind.DECIDED for event in added)
        assert Counter(event.request_id for event in added) == {rid: 1 for rid in request_ids}
        assert store.list_requests(status=RequestStatus.PENDING).items == []
    finally:
        store.close()
    assert time.monotonic() - started < BUDGET
