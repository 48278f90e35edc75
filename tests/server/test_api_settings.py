"""`build_app` from settings: files read up front, the registry imported, the store closed."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from hitl_core import InvalidInput, RunStatus
from hitl_core.reviewers import hash_token
from hitl_core.stores.postgres import PostgresStore
from hitl_loop import Paused
from hitl_server.settings import ServerSettings, build_app, load_registry
from tests.factories import payment_request
from tests.server.live import serve
from tests.worker_app import build


def write_files(tmp_path: Path) -> tuple[Path, Path]:
    reviewers = tmp_path / "reviewers.toml"
    reviewers.write_text(
        f"""
[[reviewer]]
id = "alice"
roles = ["finance"]
token_sha256 = "{hash_token("alice-secret")}"

[[reviewer]]
id = "bob"
token_sha256 = "{hash_token("bob-secret")}"
"""
    )
    policy = tmp_path / "policy.toml"
    policy.write_text(
        """
[rules.send_payment]
when = { kind = "compare", source = "arg", path = "amount", op = ">", value = 1000 }
roles = ["finance"]
"""
    )
    return reviewers, policy


def as_(token: str, url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_build_app_serves_from_its_files_and_closes_its_store(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITL_TEST_LEDGER", str(tmp_path / "ledger.jsonl"))
    reviewers, policy = write_files(tmp_path)
    settings = ServerSettings(
        store_url=postgres_url,
        reviewers_file=reviewers,
        policy_file=policy,
        app="tests.worker_app:REGISTRY",
    )
    app = build_app(settings)
    store = app.state.hitl.store
    assert isinstance(store, PostgresStore)
    paused = build(store).start("Acme")
    assert isinstance(paused, Paused)
    request_id = paused.requests[0].id
    with serve(app) as url:
        with as_("bob-secret", url) as bob:
            assert bob.get("/v1/me").json() == {"id": "bob", "roles": []}
            refused = bob.post(f"/v1/requests/{request_id}/decision", json={"type": "approve"})
            assert refused.status_code == 403
        with as_("alice-secret", url) as alice:
            done = alice.post(f"/v1/requests/{request_id}/decision", json={"type": "approve"})
            assert done.json()["resume"] == "scheduled"
        deadline = time.monotonic() + 15
        while store.load_run(paused.run_id).status is RunStatus.PAUSED:
            assert time.monotonic() < deadline, "the run was not resumed"
            time.sleep(0.02)
        assert store.load_run(paused.run_id).status is RunStatus.COMPLETED
    assert (tmp_path / "ledger.jsonl").read_text().count('"recipient": "Acme"') == 1
    assert store.pool.closed


def test_build_app_without_policy_or_registry(tmp_path: Path) -> None:
    reviewers, _ = write_files(tmp_path)
    app = build_app(
        ServerSettings(store_url=f"sqlite:///{tmp_path / 'a.db'}", reviewers_file=reviewers)
    )
    request = app.state.hitl.store.put(payment_request())
    with serve(app) as url, as_("bob-secret", url) as bob:
        decided = bob.post(f"/v1/requests/{request.id}/decision", json={"type": "approve"})
        assert decided.json()["resume"] == "none"
        assert decided.json()["request"]["decision"]["by"] == "bob"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("tests.no_such_module:REGISTRY", "Cannot import 'tests.no_such_module'"),
        ("tests.worker_app:POLICY", "is not a registry"),
        ("tests.worker_app:MISSING", "is not a registry"),
    ],
)
def test_a_bad_app_reference_is_refused(ref: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_registry(ref)


def test_an_invalid_reviewers_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "reviewers.toml"
    bad.write_text('[[reviewer]]\nid = "alice"\ntoken_sha256 = "plain-token"\n')
    with pytest.raises(InvalidInput, match="reviewers file"):
        build_app(ServerSettings(store_url="memory://", reviewers_file=bad))


def test_build_app_delivers_webhooks_while_it_runs(tmp_path: Path) -> None:
    from tests.server.test_webhooks import SECRET, Receiver

    receiver = Receiver()
    reviewers, _ = write_files(tmp_path)
    with serve(receiver.app()) as hook_url:
        hooks = tmp_path / "webhooks.toml"
        hooks.write_text(
            f'[[webhook]]\nname = "ops"\nurl = "{hook_url}/hook/ops"\nsecret = "{SECRET}"\n'
        )
        settings = ServerSettings(
            store_url=f"sqlite:///{tmp_path / 'approvals.db'}",
            reviewers_file=reviewers,
            webhooks_file=hooks,
        )
        app = build_app(settings)
        store = app.state.hitl.store
        request = store.put(payment_request())
        with serve(app) as url, as_("bob-secret", url) as bob:
            decided = bob.post(f"/v1/requests/{request.id}/decision", json={"type": "reject"})
            assert decided.status_code == 200
            deadline = time.monotonic() + 15
            while len(receiver.accepted) < 2:
                assert time.monotonic() < deadline, f"webhooks not delivered: {receiver.answered}"
                time.sleep(0.02)
    assert [(p.event.kind, p.event.request_id, p.event.actor) for p in receiver.payloads] == [
        ("created", request.id, "test"),
        ("decided", request.id, "bob"),
    ]
    assert receiver.rejected == []


def test_a_bad_webhooks_file_is_refused_before_the_store_opens(tmp_path: Path) -> None:
    from hitl_server.webhook_config import InvalidWebhookConfig

    reviewers, _ = write_files(tmp_path)
    hooks = tmp_path / "webhooks.toml"
    hooks.write_text('[[webhook]]\nname = "ops"\nurl = "not a url"\n')
    db = tmp_path / "approvals.db"
    settings = ServerSettings(
        store_url=f"sqlite:///{db}", reviewers_file=reviewers, webhooks_file=hooks
    )
    with pytest.raises(InvalidWebhookConfig, match="webhook"):
        build_app(settings)
    assert not db.exists()
