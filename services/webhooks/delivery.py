"""Delivering queued events to their endpoints: signed JSON POSTs, at least once, in order per
member, retried with growing pauses for a day, an endpoint switched off after a day of failures.

A loop in its own thread looks for due deliveries (each the first pending one of its member's
line to its endpoint), claims each in the database (so a second replica does not take it too)
and hands it to a pool of workers; the feed reader never waits on an endpoint. An attempt's
answer is recorded in one transaction: delivered, or its next attempt (the pause doubling from
`retry_base` up to `retry_max`), or given up once the delivery is `retry_for` old. A 2xx answer
is a delivery; anything else, no answer within `timeout` included, is a failure.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.runtime.db import Database, utcnow
from services.runtime.logs import log
from services.webhooks import repository
from services.webhooks.models import IntegrationEvent
from services.webhooks.secret_box import SecretBox
from services.webhooks.settings import DeliveryPolicy
from services.webhooks.signing import SIGNATURE_HEADER, signature

logger = logging.getLogger(__name__)

DELIVERED = "delivered"
FAILED = "failed"
DISABLED = "disabled"
FAILING = "failing"
# Beyond the timeout, how long a claimed delivery is left to the worker that claimed it.
CLAIM_MARGIN = 30.0


@dataclass(frozen=True)
class Outcome:
    # The HTTP status; 0 when there was no answer.
    status: int
    error: str = ""

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    endpoint_id: uuid.UUID
    url: str
    headers: dict[str, str]
    body: bytes


Post = Callable[[str, bytes, dict[str, str], float], Outcome]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    """POSTs once; a redirect is a failure (the endpoint's URL is what the admin registered)."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(4096)
            return Outcome(response.status)
    except urllib.error.HTTPError as error:
        return Outcome(error.code, f"HTTP {error.code}")
    except urllib.error.URLError as error:
        return Outcome(0, type(error.reason).__name__ if error.reason else "URLError")
    except (TimeoutError, OSError) as error:
        return Outcome(0, type(error).__name__)


def body_of(event: IntegrationEvent, personal_data: bool) -> bytes:
    """What an endpoint receives: the event's id, type, time, member and data (with the
    member's personal fields only when the endpoint is allowed them)."""
    data = {**event.data, **(event.personal if personal_data else {})}
    document = {
        "id": event.id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "member_id": event.member_id or None,
        "data": data,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def retry_pause(policy: DeliveryPolicy, attempts: int) -> float:
    return min(policy.retry_base * 2 ** max(attempts - 1, 0), policy.retry_max)


class Dispatcher:
    def __init__(
        self,
        database: Database,
        box: SecretBox,
        policy: DeliveryPolicy,
        send: Post = post,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._box = box
        self._policy = policy
        self._send = send
        self._clock = clock
        self._pool = ThreadPoolExecutor(policy.workers, thread_name_prefix="webhook")
        self._lock = threading.Lock()
        self._in_flight: dict[int, uuid.UUID] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval: float) -> None:
        if interval <= 0:
            return

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.dispatch()
                except Exception:
                    logger.exception("looking for due deliveries failed; it runs again next time")
                self._wake.wait(interval)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="webhook-dispatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def dispatch(self) -> list[Future]:
        """Starts an attempt for each due delivery a worker is free for; returns them."""
        with self._lock:
            free = self._policy.workers - len(self._in_flight)
            busy = Counter(self._in_flight.values())
            skip = list(self._in_flight)
        if free <= 0:
            return []
        attempts = self._claim(free, busy, skip)
        return [self._pool.submit(self._attempt, attempt) for attempt in attempts]

    def _claim(self, free: int, busy: Counter, skip: list[int]) -> list[Attempt]:
        now = self._clock()
        until = now + timedelta(seconds=self._policy.timeout + CLAIM_MARGIN)
        attempts: list[Attempt] = []
        with self._db.write() as session:
            due = repository.due_deliveries(session, now, skip, free * 4)
            events = repository.events(session, sorted({d.event_id for d in due}))
            endpoints = {e.id: e for e in repository.active_endpoints(session)}
            for delivery in due:
                if len(attempts) == free:
                    break
                endpoint = endpoints.get(delivery.endpoint_id)
                event = events.get(delivery.event_id)
                if endpoint is None or event is None:
                    continue
                if busy[endpoint.id] >= self._policy.per_endpoint:
                    continue
                if not repository.claim(session, delivery.id, delivery.next_attempt_at, until):
                    continue
                busy[endpoint.id] += 1
                body = body_of(event, endpoint.personal_data)
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "loyalty-webhooks/1",
                    "Loyalty-Event-Id": event.id,
                    "Loyalty-Event-Type": event.type,
                    SIGNATURE_HEADER: signature(
                        self._box.open(endpoint.secret_encrypted), int(time.time()), body
                    ),
                }
                attempts.append(Attempt(delivery.id, endpoint.id, endpoint.url, headers, body))
        with self._lock:
            self._in_flight.update({a.delivery_id: a.endpoint_id for a in attempts})
        return attempts

    def _attempt(self, attempt: Attempt) -> None:
        try:
            outcome = self._send(attempt.url, attempt.body, attempt.headers, self._policy.timeout)
            self._record(attempt, outcome)
        except Exception:
            logger.exception("recording a delivery failed; it is tried again once its claim ends")
        finally:
            with self._lock:
                self._in_flight.pop(attempt.delivery_id, None)
            self._wake.set()

    def _record(self, attempt: Attempt, outcome: Outcome) -> None:
        now = self._clock()
        policy = self._policy
        with self._db.write() as session:
            delivery = repository.delivery(session, attempt.delivery_id, lock=True)
            endpoint = repository.endpoint(session, attempt.endpoint_id, lock=True)
            if delivery is None or endpoint is None or delivery.status != repository.PENDING:
                return
            delivery.last_attempt_at = now
            delivery.last_status_code = outcome.status
            delivery.last_error = outcome.error[:200]
            if outcome.delivered:
                delivery.status = DELIVERED
                delivery.delivered_at = now
                endpoint.failing_since = None
                return
            if (now - delivery.created_at).total_seconds() >= policy.retry_for:
                delivery.status = FAILED
                log(logger, "delivery given up", logging.WARNING, delivery=delivery.id)
            else:
                pause = retry_pause(policy, delivery.attempts)
                delivery.next_attempt_at = now + timedelta(seconds=pause)
            if endpoint.failing_since is None:
                endpoint.failing_since = now
            elif (
                endpoint.status == repository.ACTIVE
                and (now - endpoint.failing_since).total_seconds() >= policy.disable_after
            ):
                endpoint.status = DISABLED
                endpoint.disabled_reason = FAILING
                log(logger, "endpoint switched off", logging.WARNING, endpoint=str(endpoint.id))
