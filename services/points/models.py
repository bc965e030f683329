"""The points database: a double-entry ledger, the lots points are earned in, derived balances,
and the POS purchases, refunds and redemption holds behind them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UtcDateTime, utcnow
from services.runtime.event_feed import FeedCursorColumns
from services.runtime.outbox import OutboxColumns

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Purchase(Base):
    """A POS transaction as recorded, and the answer given to it, replayed to retries.

    The unique (store_id, transaction_id) is the idempotency guard: it is written in the same
    database transaction as the ledger posting, so a purchase is applied exactly once.
    """

    __tablename__ = "purchases"
    __table_args__ = (UniqueConstraint("store_id", "transaction_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    transaction_id: Mapped[str] = mapped_column(String(100))
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    request_hash: Mapped[str] = mapped_column(String(64))
    # False when campaigns could not be asked; the bonus is then owed, and `owed_request` keeps
    # what to ask them (the purchase with its items and base points) until a job can.
    campaigns_evaluated: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    owed_request: Mapped[str | None] = mapped_column(Text)
    points_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    # What refunds have taken back so far, in money and in points.
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    points_reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    lot_id: Mapped[int | None] = mapped_column(BigId)
    result: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Posting(Base):
    """One business event that moves points; its entries sum to zero."""

    __tablename__ = "postings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(200))
    source_type: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class Entry(Base):
    """An immutable movement of points into (positive) or out of (negative) one account.

    Member accounts carry the member id and a bucket (available, pending, held or debt);
    program accounts (`program:earned`, `program:redeemed`, ...) carry neither.
    """

    __tablename__ = "entries"
    __table_args__ = (Index("ix_entries_member_id_id", "member_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), index=True)
    account: Mapped[str] = mapped_column(String(40))
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    bucket: Mapped[str | None] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)


class Balance(Base):
    """A member's balances, derived from the entries and kept in step with them.

    Every change to a member's points locks this row first, so one member's changes are
    serialised; the checks make a negative balance impossible whatever the code does. A merged
    duplicate's row names its survivor, and the database refuses any point left on it.
    """

    __tablename__ = "balances"
    __table_args__ = (
        CheckConstraint("available >= 0", name="available_not_negative"),
        CheckConstraint("pending >= 0", name="pending_not_negative"),
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("debt <= 0", name="debt_not_positive"),
        CheckConstraint(
            "merged_into IS NULL OR (available = 0 AND pending = 0 AND held = 0 AND debt = 0)",
            name="merged_holds_nothing",
        ),
    )

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    available: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    # Points owed by the member (negative): a refund took back points already spent.
    debt: Mapped[int] = mapped_column(BigInteger, default=0)
    # Set once this member was merged into another: every later change goes to that one.
    merged_into: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class Lot(Base):
    """Points earned together: pending until `available_at`, spendable until `expires_at`.

    `remaining` is what is left to spend; the member's pending and available balances are the
    sums of `remaining` over their lots in each state.
    """

    __tablename__ = "lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_range"),
        Index("ix_lots_member_spend", "member_id", "status", "expires_at"),
        Index("ix_lots_status_available_at", "status", "available_at"),
        Index("ix_lots_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(10))  # pending | available
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Hold(Base):
    """Points reserved for a redemption at the till until it is captured, voided or expires."""

    __tablename__ = "holds"
    __table_args__ = (
        UniqueConstraint("store_id", "redemption_id"),
        Index("ix_holds_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    redemption_id: Mapped[str] = mapped_column(String(100))
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))  # held | captured | voided | expired
    request_hash: Mapped[str] = mapped_column(String(64))
    # The answer to the request that made the hold, replayed to its retries.
    result: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class HoldAllocation(Base):
    """Which lots a hold took its points from, so a void can give them back."""

    __tablename__ = "hold_allocations"

    hold_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("holds.id"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger)


class Refund(Base):
    """A refund of (part of) a purchase, idempotent on the POS's refund_id."""

    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("store_id", "refund_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    refund_id: Mapped[str] = mapped_column(String(100))
    purchase_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("purchases.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Adjustment(Base):
    """A change made by staff or the system rather than a till: a manual credit or debit, a
    transfer between members, or the merge of a duplicate member. Idempotent on its id."""

    __tablename__ = "adjustments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    operation_id: Mapped[str] = mapped_column(String(100), unique=True)
    # adjust | transfer | merge (staff), mission | draw | draw-back (campaigns)
    kind: Mapped[str] = mapped_column(String(10))
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    other_member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    points: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MemberTier(Base):
    """A member's tier, kept until `review_at` unless their spend lifts them higher first."""

    __tablename__ = "member_tiers"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tier: Mapped[str] = mapped_column(String(40))
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    review_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Set while the tier is an upgrade since the last review: the tier that review gave (or
    # the lowest, for a member who had none) and its own review date. A refund that takes
    # back the spend behind the upgrade brings the member back down, never below this.
    floor_tier: Mapped[str | None] = mapped_column(String(40))
    floor_review_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OutboxEvent(OutboxColumns, Base):
    """Events for other services: purchases, points moved, tiers changed."""


class SpendDay(Base):
    """A member's qualifying spend on one (UTC) day: purchases less refunds. Tier windows sum
    at most a window's days of these, however long the member's history."""

    __tablename__ = "spend_days"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class KnownMember(Base):
    """A member as points knows them from identity: learned from its event feed, or from its
    answer about a member the feed had not brought yet. `merged` (into `survivor_id`) and
    `erased` are final."""

    __tablename__ = "members"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # member | merged | erased
    status: Mapped[str] = mapped_column(String(10))
    survivor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    learned_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReferralProgramRow(Base):
    """The referral program as marketing set it: one row, `id` 1."""

    __tablename__ = "referral_program"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    referrer_points: Mapped[int] = mapped_column(BigInteger)
    referee_points: Mapped[int] = mapped_column(BigInteger)
    min_purchase_minor: Mapped[int] = mapped_column(BigInteger)
    monthly_cap: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Referral(Base):
    """A friend who enrolled with a member's referral code, learned from identity. `waiting`
    until the friend's first qualifying purchase `rewarded` both sides (the referrer's part is
    0 when the monthly cap was reached); `refused` when friend and referrer turned out to be one
    member. A refund that takes the reward back sets it `waiting` again."""

    __tablename__ = "referrals"

    friend_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    referrer_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    status: Mapped[str] = mapped_column(String(10))  # waiting | rewarded | refused
    purchase_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    # Of the rewarding purchase: the minimum it met, who got what, and into which lots.
    min_purchase_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    rewarded_referrer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    referrer_points: Mapped[int] = mapped_column(BigInteger, default=0)
    friend_points: Mapped[int] = mapped_column(BigInteger, default=0)
    referrer_lot_id: Mapped[int | None] = mapped_column(BigId)
    friend_lot_id: Mapped[int | None] = mapped_column(BigId)
    referred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rewarded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ReferralMonth(Base):
    """How many friends earned the referrer their part in a calendar month (UTC): the row is
    locked while a reward is decided, so the monthly cap holds under concurrency."""

    __tablename__ = "referral_months"

    referrer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    rewarded: Mapped[int] = mapped_column(Integer)


class FeedCursor(FeedCursorColumns, Base):
    """How far points has read identity's events; moved with what they changed."""

    __tablename__ = "feed_cursors"


class Reward(Base):
    """A reward of the catalog: a club coupon, a partner code from a pool, or a store gift.

    `stock` (None: unlimited) is taken by a conditional update inside the redemption's
    transaction, so it is never oversold.
    """

    __tablename__ = "rewards"
    __table_args__ = (CheckConstraint("stock >= 0", name="ck_rewards_stock_not_negative"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(20))  # coupon | partner_code | gift
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    name_fa: Mapped[str] = mapped_column(String(200), default="")
    description_fa: Mapped[str] = mapped_column(Text, default="")
    points_cost: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int | None] = mapped_column(BigInteger)
    per_member_limit: Mapped[int] = mapped_column(Integer, default=0)
    valid_days: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # {"tiers": [...], "segment_ids": [...], "stages": [...]}; all empty: everyone.
    visibility: Mapped[str] = mapped_column(Text, default="{}")
    # The discount of a club coupon, as JSON (see coupon_terms.Terms); empty for other kinds.
    terms: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | paused
    refund_on_cancel: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Coupon(Base):
    """A coupon issued to a member, by a redemption (points spent) or without points (a
    campaign's). Its terms are copied at issue: editing the reward later changes no coupon.

    The unique (member_id, request_id) is the idempotency guard of the redemption or issue
    that made it, written in the same transaction as its points, stock and event. Its use at a
    till is a conditional update from `issued`, so it is used once across every store.
    """

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("member_id", "request_id"),
        Index("ix_coupons_reward_id_status", "reward_id", "status"),
        Index("ix_coupons_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    reward_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # issued | used | expired | cancelled
    status: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    name_fa: Mapped[str] = mapped_column(String(200), default="")
    terms: Mapped[str] = mapped_column(Text, default="")
    partner_code: Mapped[str | None] = mapped_column(String(200))
    points_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    campaign_id: Mapped[str | None] = mapped_column(String(100))
    request_id: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    # The answer to the request that issued it, replayed to its retries.
    result: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The use (or a gift's collection): where, in which sale, for how much, what it took off.
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    store_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    transaction_id: Mapped[str | None] = mapped_column(String(100))
    use_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    use_currency: Mapped[str | None] = mapped_column(String(3))
    discount_minor: Mapped[int | None] = mapped_column(BigInteger)
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    points_returned: Mapped[int] = mapped_column(BigInteger, default=0)


class CouponAllocation(Base):
    """Which lots a redemption took its points from, so a cancellation that returns them puts
    them back with their own expiry."""

    __tablename__ = "coupon_allocations"

    coupon_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("coupons.id"), primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger)


class PartnerCode(Base):
    """A partner's code in a reward's pool, handed out to one coupon at most. The code is kept
    as the partner wrote it, for the member to use at the partner; its key (`normalise`) is what
    makes two uploads of one code the same."""

    __tablename__ = "partner_codes"
    __table_args__ = (
        UniqueConstraint("reward_id", "code_key"),
        Index("ix_partner_codes_free", "reward_id", "coupon_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    reward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rewards.id"))
    code: Mapped[str] = mapped_column(String(200))
    code_key: Mapped[str] = mapped_column(String(200))
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OpeningBalance(Base):
    """The opening balance an import gave a member, posted once: a second import of the member
    finds this row and posts nothing, whatever points its file says."""

    __tablename__ = "opening_balances"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger)
    tier: Mapped[str] = mapped_column(String(40), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ClosedDay(Base):
    """A past UTC day's report figures, counted once from its postings (a posting is dated
    when it is written, so a closed day never changes). `owed` is the day's net change of the
    points owed to members."""

    __tablename__ = "closed_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    earned: Mapped[int] = mapped_column(BigInteger)
    reversed: Mapped[int] = mapped_column(BigInteger)
    redeemed: Mapped[int] = mapped_column(BigInteger)
    expired: Mapped[int] = mapped_column(BigInteger)
    adjusted: Mapped[int] = mapped_column(BigInteger)
    opened: Mapped[int] = mapped_column(BigInteger)
    rewards: Mapped[int] = mapped_column(BigInteger)
    owed: Mapped[int] = mapped_column(BigInteger)
