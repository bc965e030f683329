"""What the club owes and what moved: points liability, coupons outstanding, and points
earned, reversed, redeemed (on rewards among them), expired, adjusted and opened (imported
members' opening balances) per day, with the points owed at each day's end. Read from the
ledger; past days from their figures kept once they closed (see day_figures.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.points import repository
from services.points.day_figures import FIGURES, DayFigures, count, day_start
from services.points.policy import PointsPolicy
from services.runtime.db import Database, utcnow
from services.runtime.errors import InvalidArgument

MAX_DAYS = 366
EXPORT_PAGE = 5000


@dataclass(frozen=True)
class Liability:
    available: int
    pending: int
    held: int
    debt: int
    # Money value of the points the club may still have to honour (available, pending, held).
    value_minor: int


@dataclass(frozen=True)
class Day:
    day: date
    earned: int
    reversed: int
    redeemed: int
    expired: int
    adjusted: int
    opened: int
    # Of redeemed, spent on rewards (less points given back by cancelled coupons).
    rewards: int = 0
    # Points owed to members at the end of the day (available, pending and held).
    outstanding: int = 0
    outstanding_value_minor: int = 0


@dataclass(frozen=True)
class BookEntry:
    entry_id: int
    posting_id: int
    posted_at: datetime
    kind: str
    reason: str
    source_type: str
    source_id: str
    account: str
    member_id: str
    bucket: str
    points: int


class Reports:
    def __init__(
        self,
        database: Database,
        policy: PointsPolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._policy = policy
        self._days = DayFigures(database, clock)

    def liability(self) -> Liability:
        with self._db.read() as session:
            available, pending, held, debt = repository.balance_totals(session)
        outstanding = available + pending + held
        return Liability(
            available, pending, held, -debt, outstanding * self._policy.point_value_minor
        )

    def daily(self, first: date, last: date) -> list[Day]:
        """One row per day from `first` to `last` (UTC days), quiet days included. Closed days
        are read as kept (every day since the first posting is kept once closed); the open
        ones are counted live. The points owed before `first` are the sum of the days' owed
        changes before it."""
        end = _period(first, last)[1]
        first_open = self._days.first_open()
        origin = min(first, self._days.first_posting_day() or first)
        self._days.close(origin, first_open - timedelta(days=1))
        with self._db.read() as session:
            kept = repository.closed_days(session, origin, first_open - timedelta(days=1))
            live = count(session, day_start(first_open), end) if first_open <= last else {}
        days = {row.day: {name: getattr(row, name) for name in FIGURES} for row in kept}
        days.update(live)
        owed = sum(figures["owed"] for day, figures in days.items() if day < first)
        report = []
        zero = dict.fromkeys(FIGURES, 0)
        for n in range((last - first).days + 1):
            day = first + timedelta(days=n)
            figures = dict(days.get(day, zero))
            owed += figures.pop("owed")
            value = owed * self._policy.point_value_minor
            report.append(Day(day, **figures, outstanding=owed, outstanding_value_minor=value))
        return report

    def book_entries(
        self, first: date, last: date, after: int, limit: int
    ) -> tuple[list[BookEntry], int]:
        """A page of the entries of the postings made over the period, in the order written,
        and the `after` of the next page (0: none)."""
        start, end = _period(first, last)
        limit = min(max(limit or EXPORT_PAGE, 1), EXPORT_PAGE)
        with self._db.read() as session:
            rows = repository.book_entries(session, start, end, max(after, 0), limit)
        entries = [
            BookEntry(
                entry_id=row[0],
                posting_id=row[1],
                posted_at=row[2],
                kind=row[3],
                reason=row[4],
                source_type=row[5],
                source_id=row[6],
                account=row[7],
                member_id=str(row[8] or ""),
                bucket=row[9] or "",
                points=int(row[10]),
            )
            for row in rows
        ]
        return entries, entries[-1].entry_id if len(entries) == limit else 0

    def coupons_outstanding(self) -> int:
        """Coupons issued and neither used, expired nor cancelled now."""
        with self._db.read() as session:
            return repository.coupons_outstanding(session, utcnow())


def _period(first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC instants the days from `first` to `last` run between."""
    if last < first or (last - first).days >= MAX_DAYS:
        raise InvalidArgument(
            f"the period must run forwards and span at most {MAX_DAYS} days",
            code="invalid-period",
        )
    return day_start(first), day_start(last) + timedelta(days=1)
