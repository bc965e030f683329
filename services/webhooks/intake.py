"""The other services' events, taken in: each one endpoints may receive is kept under a stable
id and queued for every active endpoint that wants it, in the transaction that moves the feed's
cursor (services/runtime/event_feed.py), so none is queued twice or lost."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from services.runtime.db import Database, utcnow
from services.runtime.event_feed import Feed, FeedReader
from services.runtime.event_types import MEMBER_ERASED
from services.runtime.outbox import Event
from services.webhooks import catalogue, repository
from services.webhooks.models import Delivery, FeedCursor, IntegrationEvent

PAGE = 500
CONSUMER = "webhooks"
# Event ids are UUIDs derived from where the event was read: the same on every delivery.
EVENT_IDS = uuid.UUID("5b0c8f52-6f0e-4a43-9d1b-3f3cf4a1e7a0")


def event_id(feed: str, sequence: int) -> str:
    return str(uuid.uuid5(EVENT_IDS, f"{feed}:{sequence}"))


class Intake:
    def __init__(
        self,
        database: Database,
        feeds: Sequence[Feed],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._clock = clock
        self._readers = [
            FeedReader(database, feed, FeedCursor, self._applier(feed.name), CONSUMER, PAGE, clock)
            for feed in feeds
        ]

    def catch_up(self) -> int:
        """Takes in every event the feeds have now; returns how many were read."""
        return sum(reader.catch_up() for reader in self._readers)

    def _applier(self, feed: str) -> Callable[[Session, list[Event]], None]:
        def apply(session: Session, events: list[Event]) -> None:
            take_in(session, feed, events, self._clock())

        return apply


def take_in(session: Session, feed: str, events: list[Event], now: datetime) -> None:
    endpoints = repository.active_endpoints(session)
    for event in events:
        if event.type == MEMBER_ERASED and event.member_id:
            repository.forget_personal_data(session, event.member_id)
        mapped = catalogue.mapped(event)
        if mapped is None:
            continue
        wanting = [e for e in endpoints if catalogue.wanted(e.event_types, mapped.type)]
        if not wanting:
            # Kept only for an endpoint: one registered later hears what happens from then on.
            continue
        kept = IntegrationEvent(
            id=event_id(feed, event.sequence),
            type=mapped.type,
            member_id=event.member_id,
            occurred_at=event.occurred_at,
            data=mapped.data,
            personal=mapped.personal,
        )
        session.add(kept)
        for endpoint in wanting:
            session.add(queued(endpoint.id, kept, now))


def queued(endpoint_id: uuid.UUID, event: IntegrationEvent, now: datetime) -> Delivery:
    return Delivery(
        endpoint_id=endpoint_id,
        event_id=event.id,
        member_id=event.member_id,
        status=repository.PENDING,
        attempts=0,
        next_attempt_at=now,
        last_status_code=0,
        last_error="",
        created_at=now,
    )
