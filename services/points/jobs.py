"""Bulk maintenance of the ledger: pending points become available, due points expire, holds
left open expire, coupons past their date are marked expired, the report's past days are
closed (day_figures.py). Set-based, in batches of members, each batch one transaction.

Safe to run from several processes at once: a batch locks its members' balances like any other
change, and only what is still due when a batch runs is moved.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.points import repository
from services.points.coupons import Coupons
from services.points.day_figures import DayFigures
from services.points.ledger import Book
from services.points.policy import PointsPolicy
from services.points.purchases import BonusSource, PurchaseInput
from services.points.redemptions import release
from services.runtime.db import Database, utcnow
from services.runtime.logs import log

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobReport:
    activated: int = 0
    expired: int = 0
    holds_expired: int = 0
    tiers_reviewed: int = 0
    bonuses_applied: int = 0
    coupons_expired: int = 0
    days_closed: int = 0


class Jobs:
    def __init__(
        self,
        database: Database,
        policy: PointsPolicy,
        clock: Callable[[], datetime] = utcnow,
        batch_members: int = 5000,
        bonuses: BonusSource | None = None,
        coupons: Coupons | None = None,
    ) -> None:
        self._db = database
        self._policy = policy
        self._clock = clock
        self._batch = batch_members
        self._bonuses = bonuses
        self._coupons = coupons
        self._days = DayFigures(database, clock)

    def run(self) -> JobReport:
        now = self._clock()
        report = JobReport(
            activated=self._settle("activate", now),
            expired=self._settle("expire", now),
            holds_expired=self._expire_holds(now),
            tiers_reviewed=self._review_tiers(now),
            bonuses_applied=self._apply_owed_bonuses(now),
            coupons_expired=self._coupons.expire_due() if self._coupons else 0,
            days_closed=self._days.close_recent(),
        )
        if report != JobReport():
            log(logger, "ledger jobs", **report.__dict__)
        return report

    def _settle(self, kind: str, now: datetime) -> int:
        total = 0
        while True:
            with self._db.write() as session:
                member_ids = repository.members_with_due_lots(session, kind, now, self._batch)
                if not member_ids:
                    return total
                repository.lock_existing_balances(session, member_ids)
                book = Book(session, self._policy, now)
                total += book.settle_due(kind, member_ids, f"job:{kind}:{now.isoformat()}")

    def _expire_holds(self, now: datetime) -> int:
        count = 0
        while True:
            with self._db.read() as session:
                due = repository.due_holds(session, now, self._batch)
            if not due:
                return count
            for redemption_id, store_id in due:
                with self._db.write() as session:
                    hold = repository.hold_by_redemption(session, store_id, redemption_id)
                    assert hold is not None
                    book = Book(session, self._policy, now)
                    book.lock(hold.member_id)
                    hold = repository.hold_by_redemption(session, store_id, redemption_id)
                    if hold is not None and hold.status == "held":
                        release(book, hold, "expired")
                        count += 1

    def _review_tiers(self, now: datetime) -> int:
        """Tiers whose review date has come take the level their last window's spend earns."""
        count = 0
        while True:
            with self._db.write() as session:
                due = repository.tiers_due_for_review(session, now, self._batch)
                if not due:
                    return count
                repository.lock_existing_balances(session, due)
                for member_id in due:
                    Book(session, self._policy, now).review_tier(member_id, upgrade_only=False)
                count += len(due)

    def _apply_owed_bonuses(self, now: datetime) -> int:
        """Asks campaigns again about purchases made while it was down; applies what they
        award, once. Stops at the first purchase campaigns still cannot answer."""
        if self._bonuses is None:
            return 0
        applied = 0
        with self._db.read() as session:
            owed = repository.purchases_owing_bonus(session, self._batch)
        for purchase_id, member_id, request, fingerprint in owed:
            asked = json.loads(request)
            purchase = PurchaseInput.from_json(asked["purchase"])
            bonuses = self._bonuses.evaluate(
                purchase, asked["base_points"], fingerprint, recorded=True
            )
            if bonuses is None:
                break
            with self._db.write() as session:
                book = Book(session, self._policy, now)
                (owner,) = book.lock(member_id)
                record = repository.purchase_as_it_stands(session, purchase_id)
                if record is None or record.campaigns_evaluated:
                    continue  # another runner got here first
                points = sum(bonus.points for bonus in bonuses)
                # The part of the purchase refunded meanwhile earns no bonus: it counts as
                # already taken back, as if the bonus had been there at the refund.
                withheld = points * record.refunded_minor // record.amount_minor
                if points - withheld > 0:
                    book.earn(
                        owner,
                        points - withheld,
                        record.occurred_at,
                        kind="earn",
                        reason="campaign bonus, applied late: "
                        + "; ".join(b.reason for b in bonuses),
                        source_type="campaign",
                        source_id=record.transaction_id,
                        source=f"bonus:{record.id}",
                    )
                record.points_earned += points
                record.points_reversed += withheld
                record.campaigns_evaluated = True
                record.owed_request = None
                applied += 1
        return applied
