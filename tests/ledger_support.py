"""The points service's own classes on a real database, with a clock the test moves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.points.adjustments import Adjustments
from services.points.audit import audit
from services.points.jobs import Jobs
from services.points.ledger import Ledger, PurchaseInput
from services.points.policy import Expiry, PointsPolicy
from services.points.redemptions import Redemptions
from services.points.refunds import Refunds
from services.points.server import MIGRATIONS
from services.runtime.db import Database

STORE = str(uuid.UUID(int=1))


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 10, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class NoBonuses:
    def evaluate(
        self, purchase: object, base_points: int, fingerprint: str, recorded: bool = False
    ) -> list:
        return []


class PointsWorld:
    """Ledger, redemptions, refunds and jobs on one database, sharing one clock."""

    def __init__(self, url: str, policy: PointsPolicy | None = None) -> None:
        self.database = Database(url)
        self.database.migrate(MIGRATIONS, "points")
        self.clock = Clock()
        self.policy = policy or PointsPolicy(currency="IRR", per_minor=10000 * 100)
        self.ledger = Ledger(self.database, self.policy, NoBonuses(), self.clock)
        self.redemptions = Redemptions(self.database, self.policy, self.clock)
        self.refunds = Refunds(self.database, self.policy, self.clock)
        self.adjustments = Adjustments(self.database, self.policy, self.clock)
        self.jobs = Jobs(self.database, self.policy, self.clock, batch_members=7)

    def buy(self, member: str, points: int, transaction_id: str | None = None) -> str:
        """A purchase that earns exactly `points` at the base rate; returns its transaction id."""
        transaction_id = transaction_id or f"T-{uuid.uuid4().hex[:12]}"
        self.ledger.record_purchase(
            PurchaseInput(
                store_id=STORE,
                transaction_id=transaction_id,
                member_id=member,
                amount_minor=points * self.policy.per_minor,
                currency="IRR",
            )
        )
        return transaction_id

    def points(self, member: str) -> tuple[int, int, int, int]:
        view = self.ledger.points(member)
        return view.available, view.pending, view.held, view.debt

    def check_books(self) -> None:
        """The ledger's invariants, straight from the tables."""
        with self.database.engine.connect() as connection:
            assert audit(connection) == []

    def close(self) -> None:
        self.database.dispose()


def sqlite_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'points.db'}"


__all__ = ["STORE", "Clock", "Expiry", "PointsWorld", "sqlite_url"]
