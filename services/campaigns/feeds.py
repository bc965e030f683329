"""Reading other services' integration events into the member view.

The feeds are identity's and points' `ListEvents`, read with the shared feed reader
(services/runtime/event_feed.py): each page is applied in one transaction together with the
feed's cursor, so a crash between pages loses nothing and applies nothing twice.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from services.campaigns import lifecycle, projection, repository
from services.campaigns.draws import Draws
from services.campaigns.missions import Missions
from services.campaigns.models import FeedCursor
from services.campaigns.settings import Lifecycle
from services.runtime.db import Database, utcnow
from services.runtime.errors import Unavailable
from services.runtime.event_feed import Feed, FeedReader
from services.runtime.logs import log
from services.runtime.outbox import Event
from services.runtime.periodic import Periodic

logger = logging.getLogger(__name__)

# Events applied per transaction. A page's fixed cost (cursor lock, stage refresh, commit) is a
# few milliseconds and each event a few hundredths of one, so a full page stays well under the
# time EvaluatePurchase may wait on this process's CPU while its cost per event is near the floor.
PAGE = 500
# This consumer's name in `loyalty_consumer_last_sequence{consumer, source}`.
CONSUMER = "campaigns"


@dataclass(frozen=True)
class FeedStatus:
    feed: str
    events_applied: int
    last_event_at: datetime | None
    applied_at: datetime | None
    # Events waiting to be applied (counted up to one page).
    pending: int


class MemberView:
    """Keeps the member view up to date with its feeds."""

    def __init__(
        self,
        database: Database,
        feeds: Sequence[Feed],
        rules: Lifecycle,
        clock: Callable[[], datetime] = utcnow,
        missions: Missions | None = None,
        draws: Draws | None = None,
    ) -> None:
        self._db = database
        self.feeds = list(feeds)
        self._rules = rules
        self._clock = clock
        self._missions = missions
        self._draws = draws
        self._readers = [
            FeedReader(database, feed, FeedCursor, self._apply, CONSUMER, PAGE, clock)
            for feed in self.feeds
        ]

    def _apply(self, session: Session, events: list[Event]) -> None:
        page = projection.apply_page(session, events, self._rules, self._clock())
        if self._missions is None and self._draws is None:
            return
        # Most pages meet neither a mission nor a draw: one look says so.
        missions, draws = repository.missions_and_draws(session)
        refunds = projection.refunds_seen(page)
        if missions and self._missions is not None:
            self._missions.record_events(session, page)
            self._missions.take_back(session, refunds)
        if draws and self._draws is not None:
            self._draws.earn_chances(session, projection.purchases_seen(page))
            self._draws.take_back_chances(session, refunds)

    def catch_up(self) -> int:
        """Applies every event the feeds have; returns how many."""
        return sum(reader.catch_up() for reader in self._readers)

    def refresh(self) -> None:
        """What time alone changes: stages (members lapse) and RFM quintiles."""
        with self._db.write() as session:
            now = self._clock()
            lifecycle.refresh_stages(session, self._rules, now)
            lifecycle.refresh_rfm(session)

    def status(self) -> list[FeedStatus]:
        with self._db.read() as session:
            cursors = repository.feed_cursors(session)
        statuses = []
        for feed in self.feeds:
            row = cursors.get(feed.name)
            try:
                pending = len(feed.read(row.cursor if row else "", PAGE)[0])
            except Unavailable:
                pending = -1
            statuses.append(
                FeedStatus(
                    feed=feed.name,
                    events_applied=row.events_applied if row else 0,
                    last_event_at=row.last_event_at if row else None,
                    applied_at=row.applied_at if row else None,
                    pending=pending,
                )
            )
        return statuses

    def rebuild(self) -> None:
        """Drops the view and its cursors; the next catch-up replays every event."""
        with self._db.write() as session:
            projection.reset(session)


def feed_runner(view: MemberView, interval: float, refresh_seconds: float) -> Periodic:
    """Catches up with the feeds every `interval` seconds (less often while they bring nothing,
    see Periodic), and every `refresh_seconds` refreshes what time alone changes (stages, RFM),
    in a background thread of the service."""
    refreshed = -math.inf

    def work() -> int | None:
        nonlocal refreshed
        try:
            applied = view.catch_up()
            if time.monotonic() - refreshed >= refresh_seconds:
                view.refresh()
                refreshed = time.monotonic()
            return applied
        except Unavailable as error:
            log(logger, "feed unavailable", logging.WARNING, reason=error.detail)
            return None

    return Periodic(
        "member-view",
        interval,
        work,
        "member view update failed; it runs again next time",
        backs_off=True,
    )
