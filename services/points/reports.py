"""What the club owes and what moved: points liability, coupons outstanding, and points
earned, reversed, redeemed (on rewards among them), expired and adjusted per day. Read
straight from the ledger; nothing is kept twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from services.points import repository
from services.points.policy import PointsPolicy
from services.runtime.db import Database, utcnow
from services.runtime.errors import InvalidArgument

MAX_DAYS = 366


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
    # Of redeemed, spent on rewards (less points given back by cancelled coupons).
    rewards: int = 0


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
        if last < first or (last - first).days >= MAX_DAYS:
            raise InvalidArgument(
                f"the period must run forwards and span at most {MAX_DAYS} days",
                code="invalid-period",
            )
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
        with self._db.read() as session:
            rows = repository.program_movements(session, start, end)
            on_rewards = repository.reward_spending(session, start, end)
        span = range((last - first).days + 1)
        days = {first + timedelta(days=n): dict.fromkeys(_COLUMNS, 0) for n in span}
        for day, account, outflow, inflow in rows:
            totals = days[day]
            if account == "program:earned":
                totals["earned"] += outflow
                totals["reversed"] += inflow
            elif account == "program:redeemed":
                totals["redeemed"] += inflow - outflow
            elif account == "program:expired":
                totals["expired"] += inflow - outflow
            elif account == "program:adjustments":
                totals["adjusted"] += outflow - inflow
        for day, points in on_rewards:
            days[day]["rewards"] += points
        return [Day(day, **totals) for day, totals in sorted(days.items())]

    def coupons_outstanding(self) -> int:
        """Coupons issued and neither used, expired nor cancelled now."""
        with self._db.read() as session:
            return repository.coupons_outstanding(session, utcnow())


_COLUMNS = ("earned", "reversed", "redeemed", "expired", "adjusted", "rewards")
