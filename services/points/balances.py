"""Members' points read back: balances, the points that expire next, tier, and history.

A merged duplicate's id reads its survivor's points.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from services.points import repository
from services.points.ledger import MAX_MERGE_HOPS
from services.points.policy import PointsPolicy
from services.runtime import cursors
from services.runtime.db import Database, utcnow
from services.runtime.ids import parse_id
from services.runtime.points_limits import LEDGER_PAGE_DEFAULT, LEDGER_PAGE_MAX


@dataclass(frozen=True)
class TierView:
    name: str
    multiplier: str
    # Purchases less refunds over the tier window, in minor units.
    qualifying_spend_minor: int
    review_at: datetime | None
    next_name: str
    # What is still to spend to reach the next tier; 0 at the top.
    next_needs_minor: int


@dataclass(frozen=True)
class PointsView:
    available: int
    pending: int
    held: int
    debt: int
    expiring: tuple[tuple[datetime, int], ...]
    tier: TierView
    # A merged duplicate's view says only whose points it now reads (its survivor's id).
    merged_into: str = ""
    # Points has learned of the member from identity (enrolled, merged or erased), so identity
    # knows the id. Once true, always true: a view cached before it was learned only says less.
    known: bool = False


@dataclass(frozen=True)
class LedgerLine:
    id: int
    kind: str
    points: int
    bucket: str
    reason: str
    source_type: str
    source_id: str
    created_at: datetime


class ViewCache(Protocol):
    def read(self, member_id: uuid.UUID, load: Callable[[], PointsView]) -> PointsView:
        """The member's view from the cache while it is current, else `load()`."""


Clock = Callable[[], datetime]


def whose_history(session: Session, member_id: uuid.UUID) -> uuid.UUID:
    """The member whose ledger `member_id` reads: itself, or the survivor of its merges."""
    for _hop in range(MAX_MERGE_HOPS):
        survivor = repository.survivor_of(session, member_id)
        if survivor is None:
            break
        member_id = survivor
    return member_id


class Balances:
    def __init__(
        self,
        database: Database,
        policy: PointsPolicy,
        clock: Clock = utcnow,
        cache: ViewCache | None = None,
    ) -> None:
        self._db = database
        self._policy = policy
        self._clock = clock
        self._cache = cache

    def points(self, member_id: str) -> PointsView:
        """The member's balances, the points that expire next by date, and their tier."""
        return self.standing(member_id)[1]

    def tier_titles(self, name: str) -> tuple[str, str]:
        """What members read for the tier `name`: (English, Persian)."""
        return self._policy.ladder.named(name).shown

    def worth(self, points: int) -> int:
        """What `points` are worth in money (minor units), at the program's point value."""
        return points * self._policy.point_value_minor

    def standing(self, member_id: str) -> tuple[uuid.UUID, PointsView]:
        """Whose points `member_id` reads (the survivor, for a merged duplicate) and their
        view (see `points`)."""
        parsed = parse_id(member_id, "member")
        for _hop in range(MAX_MERGE_HOPS):
            view = self._view(parsed)
            if not view.merged_into:
                return parsed, view
            # Merges are never undone, so a duplicate's cached view cannot go stale.
            parsed = uuid.UUID(view.merged_into)
        return parsed, view

    def _view(self, parsed: uuid.UUID) -> PointsView:
        if self._cache is None:
            return self._load_points(parsed)
        return self._cache.read(parsed, lambda: self._load_points(parsed))

    def _load_points(self, parsed: uuid.UUID, expiring_dates: int = 5) -> PointsView:
        now = self._clock()
        ladder = self._policy.ladder
        with self._db.read_core() as connection:
            row, expiring = repository.standing(
                connection, parsed, now, now - ladder.window, expiring_dates
            )
        tier = ladder.named(row.tier) if row.tier is not None else ladder.lowest
        above = ladder.above(tier)
        spend = int(row.spend)
        tier_view = TierView(
            name=tier.name,
            multiplier=str(tier.multiplier),
            qualifying_spend_minor=spend,
            review_at=row.review_at,
            next_name=above.name if above else "",
            next_needs_minor=max(above.min_spend_minor - spend, 0) if above else 0,
        )
        known = row.known is not None
        if row.merged_into is not None:
            merged_into = str(row.merged_into)
            return PointsView(0, 0, 0, 0, (), tier_view, merged_into=merged_into, known=known)
        if row.available is None:
            return PointsView(0, 0, 0, 0, (), tier_view, known=known)
        return PointsView(
            available=row.available,
            pending=row.pending,
            held=row.held,
            debt=-row.debt,
            expiring=tuple(expiring),
            tier=tier_view,
            known=known,
        )

    def history(self, member_id: str, limit: int, cursor: str) -> tuple[list[LedgerLine], str]:
        """A page of the member's entries (a merged duplicate's survivor's), newest first, and
        the cursor of the next page."""
        parsed = parse_id(member_id, "member")
        limit = min(max(limit or LEDGER_PAGE_DEFAULT, 1), LEDGER_PAGE_MAX)
        before = cursors.decode(cursor, 1)[0] if cursor else None
        with self._db.read() as session:
            parsed = whose_history(session, parsed)
            rows = repository.member_entries(session, parsed, limit + 1, before)
        lines = [
            LedgerLine(
                id=entry.id,
                kind=posting.kind,
                points=entry.amount,
                bucket=entry.bucket or "",
                reason=posting.reason,
                source_type=posting.source_type,
                source_id=posting.source_id,
                created_at=posting.created_at,
            )
            for entry, posting in rows[:limit]
        ]
        next_cursor = cursors.encode(lines[-1].id) if len(rows) > limit else ""
        return lines, next_cursor
