"""Signing and verification on a fixed clock: the HMAC, the window, rotation and replays."""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from hitl_core import AuditEvent, AuditKind, HITLError, InvalidInput
from hitl_server.dispatcher import Backoff
from hitl_server.webhooks import (
    InvalidSignature,
    ReplayedDelivery,
    ReplayGuard,
    StaleSignature,
    WebhookRejected,
    delivery_id_for,
    sign,
    verify_signature,
    webhook_headers,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
SECRET = "whsec_current"
OLD_SECRET = "whsec_previous"
BODY = json.dumps({"delivery_id": "dlv_1", "event": {"kind": "created"}}).encode()


def hmac_hex(secret: str, timestamp: int, body: bytes) -> str:
    """The signature computed independently, straight from the documented formula."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_sign_is_hmac_sha256_of_timestamp_dot_body() -> None:
    assert sign(SECRET, BODY, T) == f"t={T},v1={hmac_hex(SECRET, T, BODY)}"
    assert sign(SECRET, BODY, NOW) == sign(SECRET.encode(), BODY, T)


def test_a_signature_verifies_within_the_window_on_both_sides() -> None:
    for offset in (0, -300, 300):
        header = sign(SECRET, BODY, T + offset)
        verify_signature(SECRET, header, BODY, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_a_signature_outside_the_window_is_stale(offset: int) -> None:
    header = sign(SECRET, BODY, T + offset)
    with pytest.raises(StaleSignature) as caught:
        verify_signature(SECRET, header, BODY, now=NOW)
    assert caught.value.timestamp == T + offset
    assert caught.value.age_seconds == -offset
    assert caught.value.tolerance_seconds == 300


def test_the_tolerance_can_be_narrowed() -> None:
    header = sign(SECRET, BODY, T - 31)
    verify_signature(SECRET, header, BODY, now=NOW)
    with pytest.raises(StaleSignature):
        verify_signature(SECRET, header, BODY, now=NOW, tolerance=timedelta(seconds=30))


def test_a_changed_body_or_another_secret_is_invalid() -> None:
    header = sign(SECRET, BODY, T)
    with pytest.raises(InvalidSignature, match="no v1 signature matches"):
        verify_signature(SECRET, header, BODY + b" ", now=NOW)
    with pytest.raises(InvalidSignature):
        verify_signature("whsec_other", header, BODY, now=NOW)
    moved = header.replace(f"t={T}", f"t={T + 1}")  # the timestamp is signed too
    with pytest.raises(InvalidSignature):
        verify_signature(SECRET, moved, BODY, now=NOW)


def test_during_rotation_either_secret_verifies() -> None:
    header = sign([SECRET, OLD_SECRET], BODY, T)
    assert header == f"t={T},v1={hmac_hex(SECRET, T, BODY)},v1={hmac_hex(OLD_SECRET, T, BODY)}"
    verify_signature(SECRET, header, BODY, now=NOW)
    verify_signature(OLD_SECRET, header, BODY, now=NOW)
    verify_signature(["whsec_other", OLD_SECRET], sign(OLD_SECRET, BODY, T), BODY, now=NOW)
    with pytest.raises(InvalidSignature):
        verify_signature("whsec_other", header, BODY, now=NOW)


def test_unknown_schemes_are_ignored_next_to_v1() -> None:
    header = f"t={T},v0=deadbeef,v1={hmac_hex(SECRET, T, BODY)},v2=later"
    verify_signature(SECRET, header, BODY, now=NOW)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "header is missing"),
        ("", "header is missing"),
        (f"v1={hmac_hex(SECRET, T, BODY)}", "exactly one t="),
        (f"t=abc,v1={hmac_hex(SECRET, T, BODY)}", "exactly one t="),
        (f"t=\uff11\uff12,v1={hmac_hex(SECRET, T, BODY)}", "exactly one t="),
        (f"t={T},t={T},v1={hmac_hex(SECRET, T, BODY)}", "exactly one t="),
        (f"t={T}", "no v1="),
        ("garbage", "exactly one t="),
    ],
)
def test_a_malformed_header_is_invalid(header: str | None, reason: str) -> None:
    with pytest.raises(InvalidSignature, match=reason):
        verify_signature(SECRET, header, BODY, now=NOW)


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(InvalidInput, match="non-empty"):
        sign("", BODY, T)
    with pytest.raises(InvalidInput, match="non-empty"):
        verify_signature([], sign(SECRET, BODY, T), BODY, now=NOW)


def test_the_replay_guard_refuses_the_same_signed_delivery_twice() -> None:
    guard = ReplayGuard()
    header = sign(SECRET, BODY, T)
    verify_signature(SECRET, header, BODY, now=NOW, replay_guard=guard, delivery_id="dlv_1")
    with pytest.raises(ReplayedDelivery) as caught:
        verify_signature(SECRET, header, BODY, now=NOW, replay_guard=guard, delivery_id="dlv_1")
    assert (caught.value.delivery_id, caught.value.timestamp) == ("dlv_1", T)
    retry = sign(SECRET, BODY, T + 2)  # the sender retrying signs afresh
    verify_signature(SECRET, retry, BODY, now=NOW, replay_guard=guard)
    assert len(guard) == 2


def test_the_replay_guard_keys_on_the_signed_delivery_id_not_the_header() -> None:
    guard = ReplayGuard()
    header = sign(SECRET, BODY, T)
    verify_signature(SECRET, header, BODY, now=NOW, replay_guard=guard)
    with pytest.raises(InvalidSignature, match="differs from the signed delivery_id"):
        verify_signature(SECRET, header, BODY, now=NOW, replay_guard=guard, delivery_id="dlv_2")
    bare = b"not a payload"
    with pytest.raises(InvalidSignature, match="no delivery id"):
        verify_signature(SECRET, sign(SECRET, bare, T), bare, now=NOW, replay_guard=guard)
    verify_signature(
        SECRET, sign(SECRET, bare, T), bare, now=NOW, replay_guard=guard, delivery_id="x"
    )


def test_the_replay_guard_forgets_what_can_no_longer_replay() -> None:
    guard = ReplayGuard()
    for i in range(3):
        guard.check(f"dlv_{i}", T, until=T + 300, now=T)
    guard.check("dlv_late", T + 200, until=T + 500, now=T + 200)
    assert len(guard) == 4
    guard.check("dlv_next", T + 301, until=T + 601, now=T + 301)
    assert len(guard) == 2  # the three signed at T are stale from T + 301 on
    guard.check("dlv_0", T, until=T + 300, now=T + 301)  # (verify would call it stale first)


def test_the_replay_guard_is_bounded() -> None:
    guard = ReplayGuard(max_entries=3)
    for i in range(10):
        guard.check(f"dlv_{i}", T + i, until=T + i + 300, now=T + i)
    assert len(guard) == 3
    with pytest.raises(ReplayedDelivery):
        guard.check("dlv_9", T + 9, until=T + 309, now=T + 9)  # the newest are kept
    with pytest.raises(ValueError, match="at least 1"):
        ReplayGuard(max_entries=0)


def test_the_replay_guard_admits_one_of_many_concurrent_copies() -> None:
    guard = ReplayGuard()
    header = sign(SECRET, BODY, T)
    barrier = threading.Barrier(16)
    outcomes: list[str] = []

    def deliver() -> None:
        barrier.wait()
        try:
            verify_signature(SECRET, header, BODY, now=NOW, replay_guard=guard)
            outcomes.append("accepted")
        except ReplayedDelivery:
            outcomes.append("replay")

    threads = [threading.Thread(target=deliver) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted"] + ["replay"] * 15


def test_headers_carry_signature_delivery_and_event() -> None:
    headers = webhook_headers(SECRET, BODY, delivery_id="dlv_1", event="decided", timestamp=T)
    assert headers == {
        "Content-Type": "application/json",
        "X-HITL-Signature": sign(SECRET, BODY, T),
        "X-HITL-Delivery": "dlv_1",
        "X-HITL-Event": "decided",
    }


def test_delivery_ids_are_stable_per_endpoint_and_event() -> None:
    def event(seq: int, at: datetime = NOW) -> AuditEvent:
        return AuditEvent(
            kind=AuditKind.CREATED, at=at, run_id="r", request_id="q", tool="t", seq=seq
        )

    first = delivery_id_for("ops", event(1))
    assert first == delivery_id_for("ops", event(1))
    assert first.startswith("dlv_")
    assert len(first) == 36
    assert first != delivery_id_for("audit", event(1))
    assert first != delivery_id_for("ops", event(2))
    assert first != delivery_id_for("ops", event(1, NOW + timedelta(days=1)))  # a new store


def test_rejections_are_hitl_errors_that_survive_pickling() -> None:
    for error in (
        InvalidSignature("a reason"),
        StaleSignature(T, 400.0, 300.0),
        ReplayedDelivery("dlv_1", T),
    ):
        assert isinstance(error, WebhookRejected)
        assert isinstance(error, HITLError)
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (str(copy), copy.__dict__) == (str(error), error.__dict__)


def test_importing_the_verifier_imports_no_web_framework() -> None:
    code = (
        "import sys, hitl_server.webhooks; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'uvicorn', "
        "'starlette', 'httpx'}))"
    )
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "[]"


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(base=0.5, factor=2.0, cap=3.0, jitter=0.25)
    assert [backoff.delay(n, rand=0.5) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.delay(1, rand=0.0) == 0.375
    assert backoff.delay(1, rand=1.0) == 0.625
    assert all(0.375 <= backoff.delay(1) <= 0.625 for _ in range(100))
    with pytest.raises(InvalidInput, match="base > 0"):
        Backoff(base=0)
    with pytest.raises(InvalidInput, match="jitter"):
        Backoff(jitter=1.5)
