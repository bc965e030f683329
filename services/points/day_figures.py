"""The report's figures per UTC day: counted from the postings, and kept once a day is closed.

A posting is dated when it is written, so a past day's figures never change: they are counted
once (by the jobs, or by the first report that needs them) into `closed_days` and read from
there after. Days not yet closed are counted live, through the index on the postings' dates.
Nothing is written on the purchase path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from services.points import repository
from services.points.ledger import ADJUSTED, EARNED, EXPIRED, OPENING, REDEEMED
from services.runtime.db import Database, utcnow

FIGURES = ("earned", "reversed", "redeemed", "expired", "adjusted", "opened", "rewards", "owed")
# A day is closed this long after it ends: a posting dated just before midnight may commit a
# moment after it, and must still be counted in its day.
SETTLE = timedelta(hours=1)
# The days before the open ones the jobs make sure are closed.
JOB_DAYS = 7

Figures = dict[str, int]


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def count(session: Session, start: datetime, end: datetime) -> dict[date, Figures]:
    """The figures of the days with postings in [start, end), counted from the ledger."""
    days: dict[date, Figures] = {}

    def of(day: date) -> Figures:
        return days.setdefault(day, dict.fromkeys(FIGURES, 0))

    for day, account, outflow, inflow in repository.program_movements(session, start, end):
        figures = of(day)
        if account == EARNED:
            figures["earned"] += outflow
            figures["reversed"] += inflow
        elif account == REDEEMED:
            figures["redeemed"] += inflow - outflow
        elif account == EXPIRED:
            figures["expired"] += inflow - outflow
        elif account == ADJUSTED:
            figures["adjusted"] += outflow - inflow
        elif account == OPENING:
            figures["opened"] += outflow - inflow
    for day, points in repository.reward_spending(session, start, end):
        of(day)["rewards"] += points
    for day, points in repository.owed_movements(session, start, end).items():
        of(day)["owed"] += points
    return days


class DayFigures:
    def __init__(self, database: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = database
        self._clock = clock

    def first_open(self) -> date:
        """The first day not closed yet: its postings may still be coming."""
        return (self._clock() - SETTLE).date()

    def first_posting_day(self) -> date | None:
        with self._db.read() as session:
            written = repository.first_posting_at(session)
        return written.astimezone(UTC).date() if written is not None else None

    def close(self, first: date, last: date) -> int:
        """Count and keep the days from `first` to `last` not kept yet (they must be closed);
        how many were added. Safe to run from several processes at once."""
        if last < first:
            return 0
        with self._db.write() as session:
            kept = {row.day for row in repository.closed_days(session, first, last)}
            span = (first + timedelta(days=n) for n in range((last - first).days + 1))
            missing = [day for day in span if day not in kept]
            if not missing:
                return 0
            counted = count(
                session, day_start(missing[0]), day_start(missing[-1] + timedelta(days=1))
            )
            zero = dict.fromkeys(FIGURES, 0)
            repository.add_closed_days(
                session, [{"day": day, **counted.get(day, zero)} for day in missing]
            )
        return len(missing)

    def close_recent(self) -> int:
        """Close the last days before the open ones (the periodic jobs' share)."""
        first_open = self.first_open()
        return self.close(first_open - timedelta(days=JOB_DAYS), first_open - timedelta(days=1))
