"""What the admin does with endpoints: register one (its secret shown once), list them, change
the events wanted or switch one off and on, read its delivery log, send a delivery again."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from services.runtime.db import Database, utcnow
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from services.webhooks import catalogue, repository
from services.webhooks.delivery import DISABLED
from services.webhooks.intake import queued
from services.webhooks.models import Delivery, Endpoint
from services.webhooks.secret_box import SecretBox
from services.webhooks.signing import new_secret

BY_ADMIN = "by-admin"
MAX_URL = 500
MAX_DESCRIPTION = 200
DELIVERY_STATUSES = ("pending", "delivered", "failed")
MAX_PAGE = 200


@dataclass(frozen=True)
class Registered:
    endpoint: Endpoint
    secret: str


@dataclass(frozen=True)
class Changes:
    event_types: list[str] | None = None
    description: str | None = None
    personal_data: bool | None = None
    enabled: bool | None = None


def _url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(
            f"url must be an http(s) URL of at most {MAX_URL} characters", "invalid-url"
        )
    return url


def _event_types(names: list[str]) -> list[str]:
    chosen = sorted({name.strip() for name in names})
    unknown = [n for n in chosen if n != catalogue.ALL and n not in catalogue.INTEGRATION_TYPES]
    if not chosen or unknown:
        raise InvalidArgument(
            f"event_types must name one or more of {', '.join(catalogue.INTEGRATION_TYPES)}"
            " (or * for all)",
            "invalid-event-types",
        )
    return [catalogue.ALL] if catalogue.ALL in chosen else chosen


def _description(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_DESCRIPTION:
        raise InvalidArgument(
            f"description must be at most {MAX_DESCRIPTION} characters", "invalid-description"
        )
    return text


def _id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} not found", f"{what.replace(' ', '-')}-not-found") from None


class Endpoints:
    def __init__(
        self, database: Database, box: SecretBox, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = database
        self._box = box
        self._clock = clock

    def register(
        self, url: str, description: str, event_types: list[str], personal_data: bool
    ) -> Registered:
        secret = new_secret()
        endpoint = Endpoint(
            id=uuid.uuid4(),
            url=_url(url),
            description=_description(description),
            event_types=_event_types(event_types),
            personal_data=personal_data,
            secret_encrypted=self._box.seal(secret),
            status=repository.ACTIVE,
            disabled_reason="",
            created_at=self._clock(),
        )
        with self._db.write() as session:
            session.add(endpoint)
        return Registered(endpoint, secret)

    def all(self) -> list[Endpoint]:
        with self._db.read() as session:
            return repository.endpoints(session)

    def change(self, endpoint_id: str, changes: Changes) -> Endpoint:
        with self._db.write() as session:
            endpoint = repository.endpoint(session, _id(endpoint_id, "endpoint"), lock=True)
            if endpoint is None:
                raise NotFound("endpoint not found", "endpoint-not-found")
            if changes.event_types is not None:
                endpoint.event_types = _event_types(changes.event_types)
            if changes.description is not None:
                endpoint.description = _description(changes.description)
            if changes.personal_data is not None:
                endpoint.personal_data = changes.personal_data
            if changes.enabled is True:
                endpoint.status = repository.ACTIVE
                endpoint.disabled_reason = ""
                endpoint.failing_since = None
            elif changes.enabled is False and endpoint.status != DISABLED:
                endpoint.status = DISABLED
                endpoint.disabled_reason = BY_ADMIN
            return endpoint

    def deliveries(self, endpoint_id: str, status: str, before: str, limit: int) -> list[Delivery]:
        if status and status not in DELIVERY_STATUSES:
            raise InvalidArgument(
                f"status must be one of {', '.join(DELIVERY_STATUSES)}", "invalid-status"
            )
        if before and not (before.isascii() and before.isdigit() and len(before) <= 18):
            raise InvalidArgument("before must be a delivery id", "invalid-before")
        with self._db.read() as session:
            endpoint = repository.endpoint(session, _id(endpoint_id, "endpoint"))
            if endpoint is None:
                raise NotFound("endpoint not found", "endpoint-not-found")
            page = min(max(limit, 1), MAX_PAGE) if limit else 50
            return repository.deliveries_of(
                session, endpoint.id, status, int(before) if before else None, page
            )

    def forget_old(self, keep_days: int) -> int:
        """Drops finished deliveries older than `keep_days` from the log."""
        with self._db.write() as session:
            return repository.forget_finished(session, self._clock() - timedelta(days=keep_days))

    def event_types_of(self, event_ids: list[str]) -> dict[str, str]:
        with self._db.read() as session:
            return {i: e.type for i, e in repository.events(session, event_ids).items()}

    def redeliver(self, endpoint_id: str, delivery_id: str) -> Delivery:
        """The event again, under its own id, after the member's deliveries already queued;
        a delivery still pending is the answer itself (nothing is queued twice)."""
        endpoint_uuid = _id(endpoint_id, "endpoint")
        if not delivery_id.isdigit():
            raise NotFound("delivery not found", "delivery-not-found")
        with self._db.write() as session:
            # One redelivery at a time per endpoint: two at once queue the event once.
            if repository.endpoint(session, endpoint_uuid, lock=True) is None:
                raise NotFound("endpoint not found", "endpoint-not-found")
            earlier = repository.delivery(session, int(delivery_id))
            if earlier is None or earlier.endpoint_id != endpoint_uuid:
                raise NotFound("delivery not found", "delivery-not-found")
            waiting = repository.pending_delivery_of(session, endpoint_uuid, earlier.event_id)
            if waiting is not None:
                return waiting
            event = repository.event(session, earlier.event_id)
            if event is None:
                raise FailedPrecondition("the event is no longer kept", "event-gone")
            again = queued(endpoint_uuid, event, self._clock())
            session.add(again)
            session.flush()
            return again
