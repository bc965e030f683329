"""The campaigns database: a projection of what identity and points tell about each member, the
feedback members give, segments, campaigns with the awards they made, and the messages they
send."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UtcDateTime
from services.runtime.event_feed import FeedCursorColumns

# The schema's history, as Alembic migrations.
MIGRATIONS = Path(__file__).parent / "migrations"

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class FeedCursor(FeedCursorColumns, Base):
    """How far the projection has read one service's events; moved in the same transaction as
    the changes those events made."""

    __tablename__ = "feed_cursors"


class Member(Base):
    """One member as campaigns sees them, rebuilt from events alone."""

    __tablename__ = "members"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # A stable number in [0, 10000) from the member id: control groups are ranges of it.
    bucket: Mapped[int] = mapped_column(Integer)
    enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    enrolled_store_id: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(100), index=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    gender: Mapped[str | None] = mapped_column(String(20))
    interests: Mapped[str | None] = mapped_column(Text)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    tier: Mapped[str] = mapped_column(String(40), default="member")
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    purchase_count: Mapped[int] = mapped_column(Integer, default=0)
    total_spend_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    first_purchase_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_purchase_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    refund_count: Mapped[int] = mapped_column(Integer, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    last_refund_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The categories bought, as ",dairy,bakery,": matched within the row, so a rule over
    # categories needs no join, whatever else it is combined with.
    categories: Mapped[str] = mapped_column(Text, default="")
    last_rating: Mapped[int | None] = mapped_column(SmallInteger)
    last_feedback_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Complaints recorded at the support desk and not resolved yet (`cases`).
    open_complaints: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str] = mapped_column(String(20), default="potential", index=True)
    stage_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rfm_r: Mapped[int] = mapped_column(SmallInteger, default=0)
    rfm_f: Mapped[int] = mapped_column(SmallInteger, default=0)
    rfm_m: Mapped[int] = mapped_column(SmallInteger, default=0)
    merged_into: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
    # Coupons points issued to the member: not used yet (and not expired or cancelled), used.
    coupons_unused: Mapped[int] = mapped_column(Integer, default=0)
    coupons_used: Mapped[int] = mapped_column(Integer, default=0)


class MemberPurchase(Base):
    """Each purchase of a member, for windows (repeat buying, campaign reports)."""

    __tablename__ = "member_purchases"
    __table_args__ = (Index("ix_member_purchases_member", "member_id", "occurred_at"),)

    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    transaction_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class StageChange(Base):
    """A member moved from one lifecycle stage to another: what marketers are alerted to."""

    __tablename__ = "stage_changes"
    __table_args__ = (Index("ix_stage_changes_to", "to_stage", "changed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    from_stage: Mapped[str] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Feedback(Base):
    __tablename__ = "feedback"

    feedback_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Case(Base):
    """A contact recorded at the support desk: a complaint, a question or praise, open until
    an agent resolves it. Kept by the caller's `case_id`: a retry records it once."""

    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(60))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    opened_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    resolved_by: Mapped[str] = mapped_column(String(100), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolution: Mapped[str] = mapped_column(Text, default="")
    # What became of the request for a follow-up rating sent when a complaint was resolved.
    follow_up: Mapped[str] = mapped_column(String(40), default="")


class Segment(Base):
    __tablename__ = "segments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    # "rule" (evaluated on the projection) or "static" (an uploaded list of members).
    kind: Mapped[str] = mapped_column(String(10))
    rule: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SegmentMember(Base):
    __tablename__ = "segment_members"

    segment_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    # What the campaign is, as JSON: rules of its kind, targeting, schedule, message.
    definition: Mapped[str] = mapped_column(Text)
    # draft, launched, paused or ended; scheduled and active follow from launched + schedule.
    state: Mapped[str] = mapped_column(String(10), default="draft")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    stackable: Mapped[bool] = mapped_column(Boolean, default=True)
    budget_points: Mapped[int | None] = mapped_column(BigInteger)
    # The points of the awards counted so far (see `Award.counted`).
    awarded_points: Mapped[int] = mapped_column(BigInteger, default=0)
    per_member_limit: Mapped[int | None] = mapped_column(Integer)
    control_percent: Mapped[int] = mapped_column(SmallInteger, default=0)
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    launched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When its messages were put in the outbox (once, as it became active).
    messages_queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When a coupon campaign's coupons were put in its queue (once, as it became active).
    coupons_queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Evaluation(Base):
    """The answer given to one purchase, replayed when the same transaction is asked again."""

    __tablename__ = "evaluations"

    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    transaction_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    result: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The fingerprint of the request answered; only the same request gets the answer again
    # (empty on answers stored before fingerprints were kept: those match any request).
    request_hash: Mapped[str] = mapped_column(String(64), default="")


class Award(Base):
    __tablename__ = "awards"
    __table_args__ = (
        UniqueConstraint("store_id", "transaction_id", "campaign_id"),
        Index("ix_awards_campaign_member", "campaign_id", "member_id"),
        Index(
            "ix_awards_uncounted",
            "campaign_id",
            postgresql_where=text("NOT counted"),
            sqlite_where=text("NOT counted"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[str] = mapped_column(String(100))
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    points: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Whether the points are in the campaign's `awarded_points` yet. A campaign with a budget
    # counts each award as it makes it (the budget is checked on that row); the others leave
    # their awards to be counted in batches, so purchases never queue on the campaign's row.
    counted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class MemberAwards(Base):
    """How many awards a member has had from a campaign, for its per-member limit."""

    __tablename__ = "member_awards"

    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    awards: Mapped[int] = mapped_column(Integer, default=0)


class Message(Base):
    """One message to one member: the outbox the dispatcher sends from. Its id is the
    message_id identity de-duplicates on, so sending again after a crash sends nothing."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("campaign_id", "member_id", "channel"),
        Index("ix_messages_due", "status", "not_before"),
        # A member's inbox.
        Index("ix_messages_member", "member_id", "sent_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The campaign, or the draw whose winner it tells.
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    channel: Mapped[str] = mapped_column(String(10))
    # As sent; a draw's winner message is written when it is queued.
    body: Mapped[str] = mapped_column(Text)
    # pending, then what identity answered: sent, skipped-no-consent, ...
    status: Mapped[str] = mapped_column(String(30), default="pending")
    not_before: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CouponGrant(Base):
    """One coupon a coupon campaign gives one member. Its id is the issue id points
    de-duplicates on, so issuing again after a crash or a retry issues nothing more."""

    __tablename__ = "coupon_grants"
    __table_args__ = (
        UniqueConstraint("campaign_id", "member_id"),
        Index("ix_coupon_grants_due", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # pending, issued, or failed-<reason> when points refused it for good.
    status: Mapped[str] = mapped_column(String(40), default="pending")
    # The coupon points issued (its id, as its events name it).
    coupon_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MissionFact(Base):
    """One thing a member did that counts towards a mission in a period, keyed by what it was
    (a purchase's store and transaction, a feedback id, a friend): applying it again, or
    rebuilding the member view, adds nothing."""

    __tablename__ = "mission_facts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "member_id", "source"),
        Index("ix_mission_facts_period", "campaign_id", "member_id", "period"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # "once", "2026-W49" or "2026-12".
    period: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(200))
    # 1, or a purchase's amount in minor units for a spend goal; what is left of it once
    # refunded (0 for all of it).
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MissionReward(Base):
    """A mission a member completed in a period: paid by points once, its id the operation id
    points de-duplicates on."""

    __tablename__ = "mission_rewards"
    __table_args__ = (
        UniqueConstraint("campaign_id", "member_id", "period"),
        Index("ix_mission_rewards_due", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    period: Mapped[str] = mapped_column(String(10))
    points: Mapped[int] = mapped_column(BigInteger)
    # pending until points answered for all the completion gives; then paid (the points
    # credited, or none were due), or failed-<reason> when points refused them for good.
    status: Mapped[str] = mapped_column(String(40), default="pending")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The catalog reward the mission gave when completed, if any; its coupon the same id as
    # the operation id, and what points answered: granted, or failed-<reason>.
    reward_id: Mapped[str | None] = mapped_column(String(36))
    reward_status: Mapped[str | None] = mapped_column(String(40))


class Draw(Base):
    """A prize draw: its prizes, who may enter and how chances are earned, the secret seed
    (revealed only once closed) and, once closed, the entries it used and its winners, kept as
    published."""

    __tablename__ = "draws"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    closes_at: Mapped[datetime] = mapped_column(UtcDateTime)
    prizes: Mapped[str] = mapped_column(Text)
    per_purchase: Mapped[int] = mapped_column(Integer, default=0)
    per_amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    points_per_chance: Mapped[int] = mapped_column(BigInteger, default=0)
    max_per_member: Mapped[int] = mapped_column(Integer, default=0)
    # Who may enter, in campaigns' targeting vocabulary (JSON).
    targeting: Mapped[str] = mapped_column(Text, default='{"everyone": true}')
    seed: Mapped[str] = mapped_column(String(64))
    seed_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    entries: Mapped[str] = mapped_column(Text, default="")
    winners: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DrawChance(Base):
    """Chances a member holds in a draw, each row from one source (a purchase event, a
    purchase of chances with points): a rebuild or a retry finds its source and adds nothing."""

    __tablename__ = "draw_chances"
    __table_args__ = (UniqueConstraint("draw_id", "source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    draw_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("draws.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    source: Mapped[str] = mapped_column(String(150))
    chances: Mapped[int] = mapped_column(Integer)


class DrawPurchase(Base):
    """A member's request to buy chances with points, recorded before points are spent: its id
    is the spend's operation id, so a crash between the spend and the chances is finished (or
    the points returned) by the next pass."""

    __tablename__ = "draw_purchases"
    __table_args__ = (UniqueConstraint("draw_id", "member_id", "request_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    draw_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("draws.id"), index=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    request_id: Mapped[str] = mapped_column(String(100))
    chances: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)
    # pending (not yet spent), spent (chances written), returning, returned, refused
    status: Mapped[str] = mapped_column(String(10), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
