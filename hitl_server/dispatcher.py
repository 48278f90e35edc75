"""The webhook dispatcher: posts the audit trail to each endpoint, in order, at least once.

Each endpoint has a cursor in the store (the `WebhookDeliveries` capability). A pass reads
the audit events after it, posts the ones the endpoint subscribes to, records every
attempt, and moves the cursor once an event is delivered or given up, so a restart
resends at most the one event that was in flight. A failed attempt is retried after an
exponential back-off with jitter; while an endpoint backs off, the others carry on.
Run one dispatcher per store: two would each send every event.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from hitl_core.audit import AuditEvent
from hitl_core.clock import Clock, SystemClock
from hitl_core.errors import InvalidInput, MissingDependency, StoreError, UnknownRequest
from hitl_core.stores.base import ApprovalStore
from hitl_core.stores.deliveries import (
    DeliveryRecord,
    DeliveryStatus,
    WebhookDeliveries,
)
from hitl_server.webhook_config import WebhookEndpoint
from hitl_server.webhooks import WebhookPayload, delivery_id_for, webhook_headers

try:
    import httpx
except ModuleNotFoundError as error:  # pragma: no cover - the server extra installs it
    raise MissingDependency("httpx", "server") from error

__all__ = ["Backoff", "DispatchPass", "Dispatcher"]

log = logging.getLogger("hitl.webhooks")

BATCH = 100
"""Audit events read per query: a long backlog is worked off in short reads."""
USER_AGENT = "hitl-kit-webhooks/1"
ERROR_BODY_CHARS = 200
"""How much of a failed answer's body the delivery log keeps, to show why it failed."""


@dataclass(frozen=True)
class Backoff:
    """How long to wait before the next attempt at an event that failed.

    The n-th failure waits ``min(cap, base * factor**(n-1))``, scaled by a random factor
    in ``[1 - jitter, 1 + jitter]`` so that endpoints failing together do not retry in
    lockstep. With the defaults: about 0.5 s, 1 s, 2 s, 4 s, 8 s (15.5 s over 6 attempts).
    """

    base: float = 0.5
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.base <= 0 or self.factor < 1 or self.cap < self.base:
            raise InvalidInput(
                f"Backoff needs base > 0, factor >= 1 and cap >= base; got base={self.base}, "
                f"factor={self.factor}, cap={self.cap}."
            )
        if not 0 <= self.jitter < 1:
            raise InvalidInput(f"Backoff jitter must be in [0, 1), got {self.jitter}.")

    def delay(self, failures: int, rand: float | None = None) -> float:
        """Seconds to wait after the `failures`-th failed attempt (1 for the first)."""
        spread = random.random() if rand is None else rand
        raw = min(self.cap, self.base * self.factor ** (failures - 1))
        return min(self.cap, raw * (1 - self.jitter + 2 * self.jitter * spread))


@dataclass
class DispatchPass:
    """What one pass (or, summed, one run) did."""

    delivered: int = 0
    failed: int = 0
    """Attempts that failed and will be retried."""
    gave_up: int = 0
    """Events dropped after their last allowed attempt (or an answer not worth retrying)."""
    skipped: int = 0
    """Events passed over because the endpoint does not subscribe to their kind."""
    waiting: int = 0
    """Endpoints backing off before their next attempt."""

    @property
    def idle(self) -> bool:
        """Nothing was attempted or passed over: only waiting, if anything."""
        return not (self.delivered or self.failed or self.gave_up or self.skipped)

    def add(self, other: DispatchPass) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class _Retry:
    """The event an endpoint is retrying, with the body every retry must repeat."""

    seq: int
    delivery_id: str
    body: bytes
    attempts: int
    due: datetime
    signed_at: int = 0
    """The last signature's timestamp: each attempt gets a later one (see `_post`)."""


def _retryable(status: int | None) -> bool:
    """No answer, a timeout or throttling answer, or a server error: worth another try."""
    return status is None or status in (408, 429) or status >= 500


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isascii() and value.isdigit() else None


class Dispatcher:
    """Delivers approval events from `store` to `endpoints`.

    Args:
        store: a store with the `WebhookDeliveries` capability (memory, SQLite, PostgreSQL).
        endpoints: the receivers; their names key the cursors, so keep them stable.
        poll_interval: seconds between passes that found nothing to send.
        backoff: the wait between attempts at one event.
        batch: audit events read per query.
        clock: the time stamped on signatures and delivery records, and retries are due by.
        sleep: how the loop waits; the default wakes at once on `stop()`.

    Raises:
        StoreError: the store cannot keep delivery cursors.
        InvalidInput: two endpoints share a name.
    """

    def __init__(
        self,
        store: ApprovalStore,
        endpoints: Sequence[WebhookEndpoint],
        *,
        poll_interval: float = 1.0,
        backoff: Backoff | None = None,
        batch: int = BATCH,
        clock: Clock | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        if not isinstance(store, WebhookDeliveries):  # as `supports_deliveries`, for mypy
            raise StoreError(
                f"The store {store.url} cannot keep webhook cursors and delivery records "
                "(it lacks the WebhookDeliveries capability), so webhooks cannot be sent "
                "from it. Use a memory://, sqlite:/// or postgresql:// store."
            )
        names = [e.name for e in endpoints]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidInput(
                f"Webhook endpoint names must be unique (they key the cursors); "
                f"repeated: {', '.join(twice)}."
            )
        self.store = store
        self.deliveries: WebhookDeliveries = store
        self.endpoints = list(endpoints)
        self.poll_interval = poll_interval
        self.backoff = backoff or Backoff()
        self.batch = batch
        self.clock: Clock = clock or SystemClock()
        self._sleep = sleep or self._stopping_wait
        self._stopping = threading.Event()
        self._retries: dict[str, _Retry] = {}
        self._client: httpx.Client | None = None

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections (reopened if the dispatcher is used again)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def stop(self) -> None:
        """Finish the attempt in flight and return from `run`."""
        self._stopping.set()

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread (e.g. inside the server); `stop()`, then join it."""
        thread = threading.Thread(target=self._run_and_close, name="hitl-webhooks", daemon=True)
        thread.start()
        return thread

    def run(self, *, until_idle: bool = False) -> DispatchPass:
        """Deliver until `stop()` (or, with `until_idle`, until nothing is left to try).

        A store that fails is retried after `poll_interval`. Returns the summed counts.
        """
        totals = DispatchPass()
        while not self._stopping.is_set():
            try:
                done = self.run_once()
            except StoreError as error:
                log.warning("store unavailable (%s); retrying in %.1f s", error, self.poll_interval)
                self._sleep(self.poll_interval)
                continue
            except Exception:
                if until_idle:
                    raise
                log.exception("webhook pass failed; retrying in %.1f s", self.poll_interval)
                self._sleep(self.poll_interval)
                continue
            totals.add(done)
            if done.idle:
                if until_idle and not self._retries:
                    break
                self._sleep(self._next_wait())
        return totals

    def run_once(self) -> DispatchPass:
        """One pass: up to `batch` events per endpoint; send what is due, schedule failures."""
        done = DispatchPass()
        for endpoint in self.endpoints:
            if self._stopping.is_set():
                break
            self._serve(endpoint, done)
        return done

    def _serve(self, endpoint: WebhookEndpoint, done: DispatchPass) -> None:
        """Work through `endpoint`'s events until it is caught up or must wait."""
        retry = self._retries.get(endpoint.name)
        if retry is not None and retry.due > self.clock.now():
            done.waiting += 1
            return
        cursor = self.deliveries.delivery_cursor(endpoint.name)
        if retry is not None and retry.seq <= cursor:
            del self._retries[endpoint.name]  # moved past elsewhere (e.g. by an operator)
        handled, advanced = self._walk(endpoint, cursor, done)
        if handled > advanced:  # events it passed over after the last one it sent
            self.deliveries.advance_delivery_cursor(endpoint.name, handled)

    def _walk(self, endpoint: WebhookEndpoint, cursor: int, done: DispatchPass) -> tuple[int, int]:
        """Send up to `batch` events after `cursor` in order; stop at one to be retried.

        One batch per endpoint per pass, so a long backlog at one endpoint does not hold
        up the others; `run` passes again at once while there is work.
        Returns the seq of the last event handled and the seq the cursor was moved to.
        """
        handled = advanced = cursor
        for event in self.store.audit(after=cursor, limit=self.batch):
            if self._stopping.is_set():
                break
            seq = _seq(event)
            if event.kind not in endpoint.events:
                handled = seq
                done.skipped += 1
                continue
            if not self._attempt(endpoint, event, done):
                break  # backing off: this event stays at the head
            self.deliveries.advance_delivery_cursor(endpoint.name, seq)
            handled = advanced = seq
        return handled, advanced

    def _attempt(self, endpoint: WebhookEndpoint, event: AuditEvent, done: DispatchPass) -> bool:
        """Post `event` once and record how it went; True when the cursor may pass it."""
        retry = self._retries.get(endpoint.name)
        if retry is None or retry.seq != event.seq:
            retry = self._prepare(endpoint, event)
            if retry is None:
                return True
        attempt = retry.attempts + 1
        at = self.clock.now()
        started = time.perf_counter()
        status, error, pause = self._post(endpoint, event, retry, at)
        elapsed = (time.perf_counter() - started) * 1000
        if error is None:
            outcome = DeliveryStatus.DELIVERED
        elif _retryable(status) and attempt < endpoint.max_attempts:
            outcome = DeliveryStatus.FAILED
        else:
            outcome = DeliveryStatus.GAVE_UP
        self.deliveries.record_delivery(
            DeliveryRecord(
                delivery_id=retry.delivery_id,
                endpoint=endpoint.name,
                url=endpoint.url,
                event_seq=retry.seq,
                event=event.kind.value,
                request_id=event.request_id,
                attempt=attempt,
                status=outcome,
                http_status=status,
                error=error,
                at=at,
                duration_ms=round(elapsed, 3),
            )
        )
        if outcome is DeliveryStatus.FAILED:
            wait = self.backoff.delay(attempt)
            if pause is not None:
                wait = max(wait, min(pause, self.backoff.cap))
            retry.attempts = attempt
            retry.due = self.clock.now() + timedelta(seconds=wait)
            self._retries[endpoint.name] = retry
            done.failed += 1
            log.warning(
                "webhook %s: event %d attempt %d failed (%s); next try in %.2f s",
                endpoint.name,
                retry.seq,
                attempt,
                error,
                wait,
            )
            return False
        self._retries.pop(endpoint.name, None)
        if outcome is DeliveryStatus.DELIVERED:
            done.delivered += 1
        else:
            done.gave_up += 1
            log.error(
                "webhook %s: gave up on event %d after %d attempt(s): %s",
                endpoint.name,
                retry.seq,
                attempt,
                error,
            )
        return True

    def _post(
        self, endpoint: WebhookEndpoint, event: AuditEvent, retry: _Retry, at: datetime
    ) -> tuple[int | None, str | None, float | None]:
        """One signed POST: the HTTP status, an error (None on 2xx), and any Retry-After.

        Receivers' replay guards remember (delivery id, timestamp), so two attempts signed
        in the same second would look like one request posted twice: a retry that comes
        quickly is stamped a second after the last attempt, well inside the window.
        """
        retry.signed_at = max(int(at.timestamp()), retry.signed_at + 1)
        headers = webhook_headers(
            endpoint.secrets,
            retry.body,
            delivery_id=retry.delivery_id,
            event=event.kind.value,
            timestamp=retry.signed_at,
        )
        try:
            response = self._http().post(
                endpoint.url,
                content=retry.body,
                headers=headers,
                timeout=endpoint.timeout.total_seconds(),
            )
        except httpx.HTTPError as failure:
            return None, f"{type(failure).__name__}: {failure}", None
        status = response.status_code
        if response.is_success:
            return status, None, None
        detail = response.text[:ERROR_BODY_CHARS]
        return (
            status,
            f"HTTP {status}: {detail}" if detail else f"HTTP {status}",
            _retry_after(response),
        )

    def _prepare(self, endpoint: WebhookEndpoint, event: AuditEvent) -> _Retry | None:
        """The state of a fresh event, counting attempts made before a restart.

        None when the log shows it already delivered or given up: the process stopped
        after recording that and before moving the cursor, so it is not sent again.
        """
        seq = _seq(event)
        earlier = self.deliveries.deliveries(endpoint=endpoint.name, event_seq=seq, limit=1000)
        if any(r.status is not DeliveryStatus.FAILED for r in earlier):
            return None
        request = None
        if event.request_id is not None:
            try:
                request = self.store.get(event.request_id)
            except UnknownRequest:
                request = None
        delivery_id = delivery_id_for(endpoint.name, event)
        payload = WebhookPayload(delivery_id=delivery_id, event=event, request=request)
        return _Retry(
            seq=seq,
            delivery_id=delivery_id,
            body=payload.model_dump_json().encode(),
            attempts=len(earlier),
            due=self.clock.now(),
            # At most one second per attempt ahead of its record's time (see `_post`).
            signed_at=int(earlier[-1].at.timestamp()) + len(earlier) if earlier else 0,
        )

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(headers={"User-Agent": USER_AGENT}, follow_redirects=False)
        return self._client

    def _next_wait(self) -> float:
        """Until the earliest retry is due, but no longer than `poll_interval`."""
        wait = self.poll_interval
        now = self.clock.now()
        for retry in self._retries.values():
            wait = min(wait, (retry.due - now).total_seconds())
        return max(wait, 0.0)

    def _stopping_wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _run_and_close(self) -> None:
        try:
            self.run()
        finally:
            self.close()


def _seq(event: AuditEvent) -> int:
    """A stored event's seq (stores assign one to every event they append)."""
    if event.seq is None:  # pragma: no cover - a store bug, not a caller's
        raise StoreError(f"The store returned an audit event without a seq: {event!r}")
    return event.seq
