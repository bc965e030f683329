"""The points service's own classes on a real database, with a clock the test moves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.points import events
from services.points.activity import Activity
from services.points.adjustments import Adjustments
from services.points.audit import audit
from services.points.balances import Balances
from services.points.catalog import Catalog
from services.points.coupons import Coupons
from services.points.jobs import Jobs
from services.points.members import IdentityAnswer, Members
from services.points.policy import Expiry, PointsPolicy
from services.points.purchases import PurchaseInput, Purchases
from services.points.redemptions import Redemptions
from services.points.referrals import Referrals
from services.points.refunds import Refunds
from services.points.rewards import Rewards
from services.points.server import MIGRATIONS
from services.runtime.db import Database
from services.runtime.outbox import Event

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


class Identity:
    """Identity as points asks it: every member id is an enrolled member unless the test says
    otherwise. Counts the questions."""

    def __init__(self) -> None:
        self.unknown: set[uuid.UUID] = set()
        self.erased: set[uuid.UUID] = set()
        self.survivors: dict[uuid.UUID, uuid.UUID] = {}
        self.asked: list[uuid.UUID] = []

    def lookup(self, member_id: uuid.UUID) -> IdentityAnswer | None:
        self.asked.append(member_id)
        if member_id in self.unknown:
            return None
        while member_id in self.survivors:
            member_id = self.survivors[member_id]
        return IdentityAnswer(member_id, member_id in self.erased)


class Audiences:
    """Campaigns as points asks it who may see a reward: the segments and stages the test puts
    members in."""

    def __init__(self) -> None:
        self.segments: dict[str, set[uuid.UUID]] = {}
        self.stages: dict[uuid.UUID, str] = {}

    def match(
        self, member_id: uuid.UUID, segment_ids: set[str], stages: set[str]
    ) -> tuple[set[str], set[str]]:
        segments = {s for s in segment_ids if member_id in self.segments.get(s, set())}
        stage = self.stages.get(member_id)
        return segments, {stage} & stages if stage else set()


class PointsWorld:
    """Purchases, balances, redemptions, refunds, adjustments and jobs on one database, sharing
    one clock, with an identity the test tells who its members are."""

    def __init__(self, url: str, policy: PointsPolicy | None = None) -> None:
        self.database = Database(url)
        self.database.migrate(MIGRATIONS, "points")
        self.clock = Clock()
        self.policy = policy or PointsPolicy(currency="IRR", per_minor=10000 * 100)
        self.identity = Identity()
        self.members = Members(self.database, self.identity, self.clock)
        self.purchases = Purchases(
            self.database, self.policy, NoBonuses(), self.members, self.clock
        )
        self.balances = Balances(self.database, self.policy, self.clock)
        self.activity = Activity(self.database)
        self.redemptions = Redemptions(self.database, self.policy, self.members, self.clock)
        self.refunds = Refunds(self.database, self.policy, self.clock)
        self.adjustments = Adjustments(self.database, self.policy, self.members, self.clock)
        self.referrals = Referrals(self.database, self.policy, self.clock)
        self.audiences = Audiences()
        self.coupons = Coupons(self.database, self.policy, self.members, self.clock)
        self.catalog = Catalog(self.database, self.policy, self.members, self.audiences, self.clock)
        self.rewards = Rewards(
            self.database, self.policy, self.members, self.catalog, self.coupons, self.clock
        )
        self.jobs = Jobs(
            self.database, self.policy, self.clock, batch_members=7, coupons=self.coupons
        )

    def buy(self, member: str, points: int, transaction_id: str | None = None) -> str:
        """A purchase that earns exactly `points` at the base rate; returns its transaction id."""
        transaction_id = transaction_id or f"T-{uuid.uuid4().hex[:12]}"
        self.purchases.record_purchase(
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
        view = self.balances.points(member)
        return view.available, view.pending, view.held, view.debt

    def events(self, cursor: str, limit: int) -> tuple[list[Event], str]:
        """A page of the outbox, as ListEvents answers it."""
        return events.read(self.database, cursor, limit)

    def check_books(self) -> None:
        """The ledger's invariants, straight from the tables."""
        with self.database.engine.connect() as connection:
            assert audit(connection) == []

    def close(self) -> None:
        self.database.dispose()


def sqlite_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'points.db'}"


__all__ = ["STORE", "Clock", "Expiry", "PointsWorld", "sqlite_url"]
