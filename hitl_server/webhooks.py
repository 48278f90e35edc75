"""The webhook wire contract: the payload, its headers, and how a receiver verifies them.

Senders and receivers both import this module, so it imports no web framework: a
receiver pays for `hmac`, `json` and Pydantic, nothing more.

Every delivery is a JSON `WebhookPayload` posted with three headers:

- ``X-HITL-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``,
  with one ``v1=`` per secret while a secret is being rotated;
- ``X-HITL-Delivery: <delivery id>``, the same for every retry of one event;
- ``X-HITL-Event: <kind>`` (created, decided, expired, ...).

Errors raised by `verify_signature`:

    HITLError
    └── WebhookRejected                 a delivery the receiver must not act on
        ├── InvalidSignature            no v1 matches: wrong secret, tampered body, bad header
        ├── StaleSignature              signed outside the tolerance window (an old capture)
        └── ReplayedDelivery            this exact signed delivery was already received
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from hitl_core.audit import AuditEvent
from hitl_core.errors import HITLError, InvalidInput
from hitl_core.requests import ApprovalRequest

__all__ = [
    "DEFAULT_TOLERANCE",
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "InvalidSignature",
    "ReplayGuard",
    "ReplayedDelivery",
    "Secret",
    "StaleSignature",
    "WebhookPayload",
    "WebhookRejected",
    "delivery_id_for",
    "sign",
    "verify_signature",
    "webhook_headers",
]

SIGNATURE_HEADER = "X-HITL-Signature"
DELIVERY_HEADER = "X-HITL-Delivery"
EVENT_HEADER = "X-HITL-Event"
DEFAULT_TOLERANCE = timedelta(minutes=5)
"""How far a signature's timestamp may be from the receiver's clock, either way."""

Secret = str | bytes
"""A shared secret; text is encoded as UTF-8."""


class WebhookPayload(BaseModel):
    """The JSON body of every webhook delivery."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery_id: str
    """Stable for (endpoint, event): a retry carries the same id, so dedupe on it."""
    event: AuditEvent
    """The audit event being delivered (its `kind` is also in ``X-HITL-Event``)."""
    request: ApprovalRequest | None = None
    """The request the event is about, as it stood when the event was first sent (so a
    late ``created`` may already show a decision); None when the event names no request."""


def delivery_id_for(endpoint: str, event: AuditEvent) -> str:
    """The delivery id of `event` at `endpoint`: the same on every retry and restart.

    It hashes the event's time and request as well as its `seq`, so a store recreated
    from scratch (whose seqs start again at 1) does not reuse ids a receiver has seen.
    """
    key = json.dumps(
        [endpoint, event.seq, event.kind.value, event.at.isoformat(), event.request_id]
    )
    return "dlv_" + hashlib.sha256(key.encode()).hexdigest()[:32]


class WebhookRejected(HITLError):
    """A delivery that failed verification; the receiver should not act on it."""


class InvalidSignature(WebhookRejected):
    """No signature matches: a wrong secret, a changed body or a malformed header."""

    reason: str

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Invalid webhook signature: {reason}. Check that the receiver uses the "
            "endpoint's secret and verifies the raw body exactly as received.",
            reason=reason,
        )


class StaleSignature(WebhookRejected):
    """A signature made outside the tolerance window: a replayed capture or a skewed clock."""

    timestamp: int
    age_seconds: float
    tolerance_seconds: float

    def __init__(self, timestamp: int, age_seconds: float, tolerance_seconds: float) -> None:
        when = "ago" if age_seconds >= 0 else "in the future"
        super().__init__(
            f"The webhook was signed at t={timestamp}, {abs(age_seconds):.0f} s {when}, "
            f"outside the {tolerance_seconds:.0f} s window. Reject it; if genuine deliveries "
            "land here, synchronise the sender's and receiver's clocks.",
            timestamp=timestamp,
            age_seconds=age_seconds,
            tolerance_seconds=tolerance_seconds,
        )


class ReplayedDelivery(WebhookRejected):
    """The same signed delivery (delivery id and timestamp) arrived a second time."""

    delivery_id: str
    timestamp: int

    def __init__(self, delivery_id: str, timestamp: int) -> None:
        super().__init__(
            f"Delivery {delivery_id} signed at t={timestamp} was already received; this "
            "copy is a replay. (A genuine retry is signed afresh and passes.)",
            delivery_id=delivery_id,
            timestamp=timestamp,
        )


def _key(secret: Secret) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _secrets(secret: Secret | Sequence[Secret]) -> list[bytes]:
    keys = [_key(secret)] if isinstance(secret, str | bytes) else [_key(s) for s in secret]
    if not keys or not all(keys):
        raise InvalidInput("A webhook secret must be a non-empty string; pass one or a list.")
    return keys


def _unix(moment: int | datetime) -> int:
    return int(moment.timestamp()) if isinstance(moment, datetime) else int(moment)


def _digest(key: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: Secret | Sequence[Secret], body: bytes, timestamp: int | datetime) -> str:
    """The ``X-HITL-Signature`` value for `body` at `timestamp` (unix seconds or a datetime).

    Several secrets give several ``v1=`` entries: during a rotation, receivers holding
    either the old or the new secret accept the delivery.
    """
    t = _unix(timestamp)
    return ",".join([f"t={t}", *(f"v1={_digest(key, t, body)}" for key in _secrets(secret))])


def webhook_headers(
    secret: Secret | Sequence[Secret],
    body: bytes,
    *,
    delivery_id: str,
    event: str,
    timestamp: int | datetime,
) -> dict[str, str]:
    """Every header a delivery carries, signature included."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body, timestamp),
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: event,
    }


def _parse(header: str) -> tuple[int, list[str]]:
    """The timestamp and the v1 signatures in a signature header; other schemes ignored."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            timestamps.append(value)
        elif name == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not (timestamps[0].isascii() and timestamps[0].isdigit()):
        raise InvalidSignature(f"the header needs exactly one t=<unix seconds>, got {header!r}")
    if not signatures:
        raise InvalidSignature(f"the header has no v1= signature, got {header!r}")
    return int(timestamps[0]), signatures


def _signed_delivery_id(body: bytes) -> str | None:
    """The `delivery_id` inside the (signed) body, when the body is a payload."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    found = data.get("delivery_id") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None


def verify_signature(
    secret: Secret | Sequence[Secret],
    header: str | None,
    body: bytes,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    now: datetime | None = None,
    replay_guard: ReplayGuard | None = None,
    delivery_id: str | None = None,
) -> None:
    """Check that `body` was signed by a holder of `secret`, recently, and only once.

    Pass the raw body as received (not re-serialised JSON) and the ``X-HITL-Signature``
    header. `secret` may be a list: during a rotation, accept the old and the new.
    With `replay_guard`, a second copy of the same signed delivery is refused; the id
    remembered is the one inside the signed body (the ``X-HITL-Delivery`` header, passed
    as `delivery_id`, is not signed, so it must match the body's when both are present).

    Raises:
        InvalidSignature: no ``v1`` matches any secret, the header is malformed, or the
            delivery-id header disagrees with the signed body.
        StaleSignature: the timestamp is further than `tolerance` from `now`.
        ReplayedDelivery: `replay_guard` has already seen this signed delivery.
    """
    keys = _secrets(secret)
    if not header:
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header is missing")
    timestamp, signatures = _parse(header)
    expected = [_digest(key, timestamp, body) for key in keys]
    matched = False
    for candidate in signatures:
        for digest in expected:
            matched |= hmac.compare_digest(candidate.encode(), digest.encode())
    if not matched:
        raise InvalidSignature("no v1 signature matches the body with any of the secrets")
    current = (now or datetime.now(UTC)).timestamp()
    age = current - timestamp
    window = tolerance.total_seconds()
    if abs(age) > window:
        raise StaleSignature(timestamp, age, window)
    signed_id = _signed_delivery_id(body)
    if delivery_id is not None and signed_id is not None and delivery_id != signed_id:
        raise InvalidSignature(
            f"the {DELIVERY_HEADER} header {delivery_id!r} differs from the signed "
            f"delivery_id {signed_id!r}"
        )
    if replay_guard is not None:
        remembered = signed_id or delivery_id
        if remembered is None:
            raise InvalidSignature(
                f"no delivery id to check for replays: the body has none and no "
                f"{DELIVERY_HEADER} header was passed"
            )
        replay_guard.check(remembered, timestamp, until=timestamp + window, now=current)


class ReplayGuard:
    """Remembers the signed deliveries a receiver accepted, for as long as they could replay.

    A delivery is remembered by (delivery id, signature timestamp) until its timestamp
    leaves the tolerance window, after which `verify_signature` refuses it as stale
    anyway. A genuine retry is signed afresh with a new timestamp, so it passes the
    guard: dedupe processed deliveries by delivery id in your own storage.

    Memory is bounded by `max_entries`; past that the entries closest to expiry are
    dropped first. Thread-safe. One guard per process: it is not shared between workers.
    """

    def __init__(self, *, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int], float] = {}
        self._expiries: list[tuple[float, tuple[str, int]]] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def check(
        self, delivery_id: str, timestamp: int, *, until: float, now: float | None = None
    ) -> None:
        """Remember this signed delivery until `until` (unix seconds).

        Raises:
            ReplayedDelivery: it is already remembered.
        """
        current = time.time() if now is None else now
        key = (delivery_id, timestamp)
        with self._lock:
            self._forget(current)
            if key in self._seen:
                raise ReplayedDelivery(delivery_id, timestamp)
            while len(self._seen) >= self.max_entries:
                _, oldest = heapq.heappop(self._expiries)
                self._seen.pop(oldest, None)
            self._seen[key] = until
            heapq.heappush(self._expiries, (until, key))

    def _forget(self, now: float) -> None:
        """Drop what can no longer be replayed (it would be stale)."""
        while self._expiries and self._expiries[0][0] < now:
            _, key = heapq.heappop(self._expiries)
            self._seen.pop(key, None)
