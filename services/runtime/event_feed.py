"""Reading another service's integration events, each exactly once.

A feed is a named source whose `ListEvents(cursor, limit)` answers events in commit-safe order
with a next cursor. The consumer keeps one cursor row per feed in its own database; each page
is applied in one transaction together with its cursor, so a crash between pages loses nothing
and applies nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import grpc
from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from loyalty.common.v1 import common_pb2
from services.runtime import metrics
from services.runtime.convert import from_timestamp
from services.runtime.db import Database, UtcDateTime, utcnow
from services.runtime.errors import Unavailable
from services.runtime.outbox import Event

Reader = Callable[[str, int], tuple[list[Event], str]]


@dataclass(frozen=True)
class Feed:
    """One source of events: its name and how to read a page after a cursor."""

    name: str
    read: Reader


def grpc_feed(name: str, list_events: Callable[..., Any], timeout: float = 10.0) -> Feed:
    """A feed read through a service's `ListEvents` RPC (a stub's method)."""

    def read(cursor: str, limit: int) -> tuple[list[Event], str]:
        try:
            request = common_pb2.ListEventsRequest(cursor=cursor, limit=limit)
            response = list_events(request, timeout=timeout)
        except grpc.RpcError as error:
            raise Unavailable(f"{name} events: {error.code().name}") from None
        events = [
            Event(
                sequence=item.sequence,
                type=item.type,
                member_id=item.member_id,
                payload=json.loads(item.payload_json or "{}"),
                occurred_at=from_timestamp(item.occurred_at) or utcnow(),
            )
            for item in response.events
        ]
        return events, response.next_cursor

    return Feed(name, read)


class FeedCursorColumns:
    """The columns of a consumer's cursor table (one row per feed); mix into a mapped class."""

    feed: Mapped[str] = mapped_column(String(40), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(200), default="")
    events_applied: Mapped[int] = mapped_column(BigInteger, default=0)
    last_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CursorRow(Protocol):
    cursor: str
    events_applied: int
    last_event_at: datetime | None
    applied_at: datetime | None


def locked_cursor(session: Session, model: type, feed: str) -> Any:
    """The feed's cursor row, created if new and locked so two processes never apply one page."""
    cursor = session.get(model, feed, with_for_update=True)
    if cursor is None:
        session.add(model(feed=feed, cursor="", events_applied=0))
        session.flush()
        cursor = session.get(model, feed, with_for_update=True)
        assert cursor is not None
    return cursor


def advance(cursor: CursorRow, events: list[Event], next_cursor: str, now: datetime) -> None:
    """Moves the cursor past a page just applied, in the same transaction."""
    cursor.cursor = next_cursor
    cursor.events_applied += len(events)
    if events:
        cursor.last_event_at = events[-1].occurred_at
    cursor.applied_at = now


Apply = Callable[[Session, list[Event]], None]


class FeedReader:
    """Applies a feed's events with `apply(session, page)`, a page per transaction, recording
    in `consumer`'s metrics the sequence of the last event applied."""

    def __init__(
        self,
        database: Database,
        feed: Feed,
        cursor_model: type,
        apply: Apply,
        consumer: str,
        page: int = 500,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._feed = feed
        self._model = cursor_model
        self._apply = apply
        self._consumer = consumer
        self._page = page
        self._clock = clock

    def catch_up(self) -> int:
        """Applies every event the feed has now; returns how many. Raises Unavailable when
        the feed cannot be read (what was applied before stays applied)."""
        applied = 0
        while True:
            with self._db.write() as session:
                cursor = locked_cursor(session, self._model, self._feed.name)
                events, next_cursor = self._feed.read(cursor.cursor, self._page)
                if not events:
                    return applied
                self._apply(session, events)
                advance(cursor, events, next_cursor, self._clock())
            applied += len(events)
            metrics.consumer_applied(self._consumer, self._feed.name, events[-1].sequence)
            # A short page is the end of what the feed has now: asking again would cost both
            # services an empty round trip on every run under steady traffic.
            if len(events) < self._page:
                return applied
