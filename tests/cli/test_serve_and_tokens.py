"""`hitl token` makes reviewers the server accepts; `hitl serve` serves the store's requests."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from hitl_core import ApprovalStore, AuditKind, NotAuthenticated, RequestStatus
from hitl_core.access import Reviewer
from hitl_core.reviewers import Reviewers
from tests.cli.conftest import HITL, Hitl, PaymentRun, child_env
from tests.server.live import free_port

STARTUP = 30.0


def test_token_block_loads_as_reviewers_and_the_token_authenticates(
    hitl: Hitl, store: ApprovalStore, payment_run: PaymentRun
) -> None:
    made = hitl("token", "alice", "--role", "finance", "--role", "ops")
    assert made.code == 0, made.err
    assert made.out.startswith("[[reviewer]]\n")
    token = made.err.split("not shown again:")[1].split()[0]
    reviewers = Reviewers.from_data(tomllib.loads(made.out))
    assert reviewers.authenticate(token) == Reviewer(id="alice", roles=("finance", "ops"))
    assert token not in made.out  # the file keeps only the digest
    with pytest.raises(NotAuthenticated):
        reviewers.authenticate(token + "x")

    as_json = hitl("token", "bob", "--json")
    data = json.loads(as_json.out)
    assert as_json.err == ""
    loaded = Reviewers.from_data({"reviewer": [data["reviewer"]]})
    assert loaded.authenticate(data["token"]) == Reviewer(id="bob")
    # Making tokens never touches a store.
    assert store.get(payment_run.request.id) == payment_run.request


@pytest.fixture
def reviewers_file(tmp_path: Path) -> tuple[Path, str]:
    """A reviewers file listing ana (finance), made by `hitl token`, and ana's token."""
    made = subprocess.run(
        [HITL, "token", "ana", "--role", "finance", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
    )
    data = json.loads(made.stdout)
    path = tmp_path / "reviewers.toml"
    block = subprocess.run(
        [HITL, "token", "zed"], capture_output=True, text=True, check=True, env=child_env()
    ).stdout
    entry = data["reviewer"]
    path.write_text(
        f'[[reviewer]]\nid = "{entry["id"]}"\nroles = ["finance"]\n'
        f'token_sha256 = "{entry["token_sha256"]}"\n\n{block}'
    )
    return path, data["token"]


def _wait_healthy(base: str, server: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + STARTUP
    while True:
        if server.poll() is not None:
            output = server.stdout.read() if server.stdout else ""
            raise AssertionError(f"hitl serve exited with {server.returncode}:\n{output}")
        try:
            return httpx.get(f"{base}/healthz", timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_serve_lists_pending_requests_to_a_token_holder(
    db_url: str,
    store: ApprovalStore,
    payment_run: PaymentRun,
    reviewers_file: tuple[Path, str],
    tmp_path: Path,
) -> None:
    path, token = reviewers_file
    policy = tmp_path / "policy.toml"
    policy.write_text('[rules.send_payment]\nwhen = "always"\nroles = ["finance"]\n')
    port = free_port()
    server = subprocess.Popen(
        [
            HITL,
            "serve",
            "--store",
            db_url,
            "--reviewers",
            str(path),
            "--policy",
            str(policy),
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert _wait_healthy(base, server).status_code == 200
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/v1/requests", timeout=5).status_code == 401
        page = httpx.get(f"{base}/v1/requests", headers=auth, timeout=5)
        assert page.status_code == 200, page.text
        assert [item["id"] for item in page.json()["items"]] == [payment_run.request.id]
        assert store.get(payment_run.request.id).is_pending  # listing changes nothing

        decided = httpx.post(
            f"{base}/v1/requests/{payment_run.request.id}/decision",
            headers=auth,
            json={"type": "approve", "args_digest": payment_run.request.args_digest},
            timeout=5,
        )
        assert decided.status_code == 200, decided.text
    finally:
        server.terminate()
        server.wait(timeout=20)
    # uvicorn shuts down cleanly on SIGTERM, then re-raises it: killed by SIGTERM, not crashed.
    assert server.returncode in (0, -signal.SIGTERM)
    stored = store.get(payment_run.request.id)
    assert stored.status is RequestStatus.DECIDED
    assert stored.decision is not None
    assert (stored.decision.kind, stored.decision.by) == ("approve", "ana")
    assert [e.actor for e in store.audit(request_id=stored.id) if e.kind is AuditKind.DECIDED] == [
        "ana"
    ]
