"""Referrals: a friend's first qualifying purchase rewards both sides, once.

Who referred whom points learns from identity (`member.enrolled` carries the referrer). The
reward is booked in the purchase's own transaction, with the friend's balance locked and then
the referral row: a retried or concurrent copy of the purchase, or another purchase of the
friend, finds it rewarded. The friend always gets their part; the referrer's part counts
against a monthly cap kept in a row locked while it is decided. Both parts are pending for the
return window like the purchase's own points, and a refund within the window that leaves the
purchase under the minimum takes both back (the friend may qualify again later). Friend and
referrer who turn out to be one member (a merge) get nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.points import repository
from services.points.ledger import Book, Operations
from services.points.models import Purchase, Referral, ReferralProgramRow
from services.runtime.errors import InvalidArgument
from services.runtime.ids import parse_id
from services.runtime.money import MAX_MINOR
from services.runtime.points_limits import MAX_POINTS

KIND = "referral"
TAKEN_BACK = "referral_revoked"
MAX_MONTHLY_CAP = 10_000
FOR_REFERRER = "referral: a friend's first purchase"
FOR_FRIEND = "referral: joined through a friend"


@dataclass(frozen=True)
class ReferralProgram:
    referrer_points: int = 0
    referee_points: int = 0
    min_purchase_minor: int = 0
    monthly_cap: int = 0
    active: bool = False
    updated_at: datetime | None = None

    @classmethod
    def of(cls, row: ReferralProgramRow | None) -> ReferralProgram:
        if row is None:
            return cls()
        return cls(
            row.referrer_points,
            row.referee_points,
            row.min_purchase_minor,
            row.monthly_cap,
            row.active,
            row.updated_at,
        )

    def check(self) -> None:
        for name in ("referrer_points", "referee_points"):
            if not 0 <= getattr(self, name) <= MAX_POINTS:
                raise InvalidArgument(f"{name} must be 0 to {MAX_POINTS}", code="invalid-points")
        if not 0 <= self.min_purchase_minor <= MAX_MINOR:
            raise InvalidArgument("min_purchase must not be negative", code="invalid-amount")
        if not 0 <= self.monthly_cap <= MAX_MONTHLY_CAP:
            raise InvalidArgument(
                f"monthly_cap must be 0 to {MAX_MONTHLY_CAP}", code="invalid-monthly-cap"
            )


class Referrals(Operations):
    def set_program(self, program: ReferralProgram, actor: str) -> ReferralProgram:
        program.check()
        now = self._clock()
        with self._db.write() as session:
            row = repository.referral_program(session)
            if row is None:
                row = ReferralProgramRow(id=1)
                session.add(row)
            row.referrer_points = program.referrer_points
            row.referee_points = program.referee_points
            row.min_purchase_minor = program.min_purchase_minor
            row.monthly_cap = program.monthly_cap
            row.active = program.active
            row.updated_by = actor[:100]
            row.updated_at = now
            session.flush()
            return ReferralProgram.of(row)

    def program(self) -> ReferralProgram:
        with self._db.read() as session:
            return ReferralProgram.of(repository.referral_program(session))

    def rewarded(self, member_id: str) -> int:
        """Friends whose purchase rewarded the referral, of the member and the duplicates
        merged into it."""
        parsed = parse_id(member_id, "member")
        with self._db.read() as session:
            members = [parsed, *repository.merged_into(session, parsed)]
            return repository.referrals_rewarded(session, members)


def reward_first_purchase(
    book: Book, friend_id: uuid.UUID, purchase_id: uuid.UUID, amount_minor: int, at: datetime
) -> None:
    """In the purchase's transaction, the friend's balance locked: rewards the referral if this
    is the friend's first purchase to qualify."""
    if not book.balance(friend_id).referral_waiting:
        return  # the usual case, known from the lock without another statement
    session = book.session
    referral = repository.referral_for_update(session, friend_id)
    if referral is None or referral.status != "waiting":
        return
    program = ReferralProgram.of(repository.referral_program(session))
    if not program.active or amount_minor < program.min_purchase_minor:
        return
    # Locked after the friend: a referrer was enrolled before their friend, never the other
    # way round, so two rewards never wait on each other.
    (referrer,) = book.lock(referral.referrer_id)
    if referrer == friend_id:
        referral.status = "refused"
        return
    month = repository.referral_month_for_update(session, referrer, book.now.strftime("%Y-%m"))
    referrer_points = 0
    if month.rewarded < program.monthly_cap:
        month.rewarded += 1
        referrer_points = program.referrer_points
    source_id = str(friend_id)
    referral.referrer_lot_id = book.earn(
        referrer,
        referrer_points,
        at,
        kind=KIND,
        reason=FOR_REFERRER,
        source_type="referral",
        source_id=source_id,
        source=f"referral:{friend_id.hex[:30]}",
    )
    referral.friend_lot_id = book.earn(
        friend_id,
        program.referee_points,
        at,
        kind=KIND,
        reason=FOR_FRIEND,
        source_type="referral",
        source_id=source_id,
        source=f"referral:{friend_id.hex[:30]}",
    )
    referral.status = "rewarded"
    referral.purchase_id = purchase_id
    referral.min_purchase_minor = program.min_purchase_minor
    referral.rewarded_referrer_id = referrer
    referral.referrer_points = referrer_points
    referral.friend_points = program.referee_points
    referral.rewarded_at = book.now


def take_back_on_refund(book: Book, purchase: Purchase, refund_id: str) -> None:
    """In a refund's transaction, the purchase's member locked: a refund within the return
    window that leaves the rewarding purchase under the minimum takes the rewards back."""
    session = book.session
    referral = repository.referral_of_purchase(session, purchase.id)
    if referral is None:
        return
    if purchase.amount_minor - purchase.refunded_minor >= referral.min_purchase_minor:
        return
    if book.now >= purchase.occurred_at + book.policy.pending:
        return
    _take_back(book, referral, refund_id)


def _take_back(book: Book, referral: Referral, refund_id: str) -> None:
    session = book.session
    referrer = referral.rewarded_referrer_id
    friend = referral.friend_id
    book.lock(referrer, follow_merges=False)
    for member_id, points, lot_id, reason in (
        (friend, referral.friend_points, referral.friend_lot_id, FOR_FRIEND),
        (referrer, referral.referrer_points, referral.referrer_lot_id, FOR_REFERRER),
    ):
        if points:
            lot = repository.lot_by_id(session, lot_id) if lot_id else None
            book.take_back(member_id, points, lot, TAKEN_BACK, f"{reason}, refunded", refund_id)
    if referral.referrer_points and referral.rewarded_at is not None:
        month = repository.referral_month_for_update(
            session, referrer, referral.rewarded_at.strftime("%Y-%m")
        )
        month.rewarded -= 1
    referral.status = "waiting"
    referral.purchase_id = None
    referral.rewarded_referrer_id = None
    referral.referrer_points = referral.friend_points = 0
    referral.referrer_lot_id = referral.friend_lot_id = None
    referral.rewarded_at = None
