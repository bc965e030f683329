"""What the club owes and what moved: points liability, coupons outstanding, and points
earned, reversed, redeemed (on rewards among them), expired, adjusted and opened (imported
members' opening balances) per day, with the points owed at each day's end. Read straight from
the ledger; nothing is kept twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from services.points import repository
from services.points.ledger import ADJUSTED, EARNED, EXPIRED, OPENING, REDEEMED
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
    def __init__(self, database: Database, policy: PointsPolicy) -> None:
        self._db = database
        self._policy = policy

    def liability(self) -> Liability:
        with self._db.read() as session:
            available, pending, held, debt = repository.balance_totals(session)
        outstanding = available + pending + held
        return Liability(
            available, pending, held, -debt, outstanding * self._policy.point_value_minor
        )

    def daily(self, first: date, last: date) -> list[Day]:
        """One row per day from `first` to `last` (UTC days), quiet days included."""
        start, end = _period(first, last)
        with self._db.read() as session:
            rows = repository.program_movements(session, start, end)
            owed = repository.owed_before(session, start)
            owed_moves = repository.owed_movements(session, start, end)
            on_rewards = repository.reward_spending(session, start, end)
        span = range((last - first).days + 1)
        days = {first + timedelta(days=n): dict.fromkeys(_COLUMNS, 0) for n in span}
        for day, account, outflow, inflow in rows:
            totals = days[day]
            if account == EARNED:
                totals["earned"] += outflow
                totals["reversed"] += inflow
            elif account == REDEEMED:
                totals["redeemed"] += inflow - outflow
            elif account == EXPIRED:
                totals["expired"] += inflow - outflow
            elif account == ADJUSTED:
                totals["adjusted"] += outflow - inflow
            elif account == OPENING:
                totals["opened"] += outflow - inflow
        for day, points in on_rewards:
            days[day]["rewards"] += points
        report = []
        for day, totals in sorted(days.items()):
            owed += owed_moves.get(day, 0)
            value = owed * self._policy.point_value_minor
            report.append(Day(day, **totals, outstanding=owed, outstanding_value_minor=value))
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
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    return start, datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)


_COLUMNS = ("earned", "reversed", "redeemed", "expired", "adjusted", "opened", "rewards")
