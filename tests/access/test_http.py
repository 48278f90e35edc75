"""``POST /v1/requests/{id}/decision`` on a real uvicorn server, over every kind of store.

The decider is the bearer token's reviewer (never the body). A refusal is 403
(`SelfApproval`, `NotAuthorized`) or 422 (`InvalidIdentity`), and the request is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from hitl_core import ApprovalRequest, ApprovalStore, Policy, Rule, always
from hitl_core.access import Reviewer
from hitl_core.errors import InvalidInput
from hitl_core.reviewers import Reviewers, hash_token
from hitl_loop import Paused
from hitl_server.app import create_app
from tests.access.apps import ARGS, loop_app
from tests.access.conftest import (
    FINANCE,
    LOOKALIKE,
    NAMED,
    OUTSIDER,
    REQUESTER,
    ROLE_HOLDER,
    SELF_IDS,
    SELF_PAIRS,
    SPELLINGS,
    UNUSABLE,
    assert_decided_by,
    assert_untouched,
)
from tests.server.live import serve

OTHERS = [
    Reviewer(id=OUTSIDER, roles=("ops",)),
    Reviewer(id=LOOKALIKE),
    Reviewer(id="Carol"),
    Reviewer(id=ROLE_HOLDER, roles=(FINANCE.upper(),)),
]
"""Everyone but alice who holds a token; each test adds alice in the spelling it needs.

A reviewers file holds one spelling of each identity (two are refused as duplicates)."""


def tokens_for(alice: str) -> dict[str, Reviewer]:
    return {f"token-{i}": who for i, who in enumerate([Reviewer(id=alice), *OTHERS])}


Post = Callable[..., httpx.Response]


@pytest.fixture
def serve_api(store: ApprovalStore) -> Iterator[Callable[..., Post]]:
    """``serve_api(policy=None, alice="alice")`` starts a server over `store`, alice's
    token held in that spelling; returns ``post(id, as_, body)``."""
    with ExitStack() as stack:

        def start(policy: Policy | None = None, alice: str = REQUESTER) -> Post:
            tokens = tokens_for(alice)
            token_of = {who.id: token for token, who in tokens.items()}
            app = create_app(store, reviewers=Reviewers.from_tokens(tokens), policy=policy)
            client = stack.enter_context(
                httpx.Client(base_url=stack.enter_context(serve(app)), timeout=10)
            )

            def post(request_id: str, as_: str, body: dict[str, Any]) -> httpx.Response:
                headers = {"Authorization": f"Bearer {token_of[as_]}"}
                return client.post(
                    f"/v1/requests/{request_id}/decision", json=body, headers=headers
                )

            return post

        yield start


def pause(store: ApprovalStore, requester: str = REQUESTER) -> ApprovalRequest:
    loop, _ = loop_app(store)
    paused = loop.start("Pay Acme 4200", context={"requested_by": requester})
    assert isinstance(paused, Paused)
    return paused.requests[0]


def refusal(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    return response.status_code, body["error"]


APPROVE = {"type": "approve"}
EDIT = {"type": "edit", "args": dict(ARGS, amount=1)}


@pytest.mark.parametrize(("requester", "decider"), SELF_PAIRS, ids=SELF_IDS)
def test_the_requester_cannot_approve_or_edit_in_any_spelling(
    store: ApprovalStore, serve_api: Callable[..., Post], requester: str, decider: str
) -> None:
    request = pause(store, requester)
    post = serve_api(alice=decider)
    for body in (APPROVE, EDIT):
        assert refusal(post(request.id, decider, body)) == (403, "SelfApproval")
    assert_untouched(store, request)


@pytest.mark.parametrize("name", UNUSABLE, ids=repr)
def test_a_reviewers_file_with_an_unusable_id_is_refused_so_no_token_carries_one(
    name: str,
) -> None:
    entry = {"id": name, "token_sha256": hash_token("t")}
    with pytest.raises(InvalidInput, match="reviewers: reviewer 1: id: it contains"):
        Reviewers.from_data({"reviewer": [entry]})


def test_a_reviewers_file_with_two_spellings_of_one_identity_is_refused() -> None:
    entries = [{"id": name, "token_sha256": hash_token(name)} for name in SPELLINGS[:3]]
    with pytest.raises(InvalidInput, match="repeated: ALICE, Alice, alice"):
        Reviewers.from_data({"reviewer": entries})


def test_reviewers_the_rule_does_not_name_are_not_authorized(
    store: ApprovalStore, serve_api: Callable[..., Post]
) -> None:
    request = pause(store)
    post = serve_api()
    for decider in (OUTSIDER, LOOKALIKE):
        assert refusal(post(request.id, decider, APPROVE)) == (403, "NotAuthorized"), decider
    assert_untouched(store, request)


@pytest.mark.parametrize("decider", ["Carol", ROLE_HOLDER])
def test_the_named_reviewer_or_a_role_holder_approves(
    store: ApprovalStore, serve_api: Callable[..., Post], decider: str
) -> None:
    request = pause(store)
    response = serve_api()(request.id, decider, APPROVE)
    assert response.status_code == 200, response.text
    assert_decided_by(store, request.id, decider, "approve")


def test_the_requester_may_reject(store: ApprovalStore, serve_api: Callable[..., Post]) -> None:
    request = pause(store, "ALICE")
    response = serve_api(alice=" alice")(request.id, " alice", {"type": "reject", "feedback": "no"})
    assert response.status_code == 200, response.text
    assert_decided_by(store, request.id, " alice", "reject")


def test_the_servers_policy_restricts_further_never_less(
    store: ApprovalStore, serve_api: Callable[..., Post]
) -> None:
    request = pause(store)
    narrower = Policy({"send_payment": Rule(when=always(), reviewers=(NAMED, OUTSIDER))})
    post = serve_api(policy=narrower)
    assert refusal(post(request.id, ROLE_HOLDER, APPROVE)) == (403, "NotAuthorized")
    assert refusal(post(request.id, OUTSIDER, APPROVE)) == (403, "NotAuthorized")
    assert_untouched(store, request)
    assert post(request.id, "Carol", APPROVE).status_code == 200
    assert_decided_by(store, request.id, "Carol", "approve")
