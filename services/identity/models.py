"""The identity database: members and their identifiers, consents, stores, POS keys, staff
accounts and the sessions members and staff log in with."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Uuid, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.identity.names import search_keys
from services.runtime.db import UtcDateTime, utcnow
from services.runtime.outbox import OutboxColumns


class Base(DeclarativeBase):
    pass


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # A closed store's keys are revoked and it gets no new ones.
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ApiKey(Base):
    """A POS terminal's key, kept as its SHA-256 only: the key is random, so that is enough.

    Valid until revoked, or until `expires_at` when a rotation gave it a grace period.
    """

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Member(Base):
    """A club member. Phone and e-mail are found by their keyed hash, never by scanning.

    A member merged into another keeps its row, with `merged_into` set, so that its id, card
    and phone go on resolving to the survivor. An erased member keeps only its id and dates.
    """

    __tablename__ = "members"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    card_number: Mapped[str | None] = mapped_column(String(16), unique=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    city: Mapped[str] = mapped_column(String(100), default="")
    gender: Mapped[str] = mapped_column(String(20), default="")
    interests: Mapped[list[str]] = mapped_column(JSON, default=list)
    merged_into: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("members.id"), index=True)
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    enrolled_store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stores.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    # The name as the desk searches it (`names.search_keys`), set whenever the name is.
    name_key: Mapped[str] = mapped_column(String(201), default="")
    last_name_key: Mapped[str] = mapped_column(String(201), default="")

    consents: Mapped[list[Consent]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="Consent.channel"
    )

    __table_args__ = (
        Index("ix_members_name_key", "name_key", postgresql_ops={"name_key": "text_pattern_ops"}),
        Index(
            "ix_members_last_name_key",
            "last_name_key",
            postgresql_ops={"last_name_key": "text_pattern_ops"},
        ),
    )


@event.listens_for(Member, "before_insert")
@event.listens_for(Member, "before_update")
def _keep_name_keys(_mapper: object, _connection: object, member: Member) -> None:
    member.name_key, member.last_name_key = search_keys(
        member.first_name or "", member.last_name or ""
    )


class Consent(Base):
    """The member's current yes or no to marketing on one channel, with when and where."""

    __tablename__ = "consents"

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class LoginSession(Base):
    """A member's or a staff account's login, kept as its token's SHA-256 only."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_subject", "kind", "subject_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    role: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StaffAccount(Base):
    """Someone who works the console: an admin, a marketer or a support agent.

    The e-mail is kept normalised (trimmed, lower case) so that one address is one account; the
    password only as its Argon2 hash.
    """

    __tablename__ = "staff"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Merge(Base):
    """The audit trail of merges: who merged which duplicate into which survivor, and when.

    A merge is `started` before the points service moves the duplicate's points and `done`
    once identity has applied it; while started, neither member can be in another merge."""

    __tablename__ = "merges"

    duplicate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)
    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    merged_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="done", index=True)


class Erasure(Base):
    """That a member's personal data was erased, by whom and when; it holds none of it."""

    __tablename__ = "erasures"

    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("members.id"), primary_key=True)
    actor: Mapped[str] = mapped_column(String(100))
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OneTimeCode(Base):
    """A one-time code sent to a phone, kept as a keyed hash, with the tries spent on it."""

    __tablename__ = "one_time_codes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    # "login", or "change-old"/"change-new" with the member in `member_id`; or "email-change",
    # with the member, and the new e-mail address's hash in `phone_hash`.
    purpose: Mapped[str] = mapped_column(String(20))
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    code_hash: Mapped[str] = mapped_column(String(64))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LoginAttempts(Base):
    """Staff login attempts counted in the current window, for one account or one client
    address, found by its keyed hash."""

    __tablename__ = "login_attempts"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer)


class SentMessage(Base):
    """Every message handed to a sender, by the caller's id: a replay never sends again."""

    __tablename__ = "sent_messages"

    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    channel: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SmsDelivery(Base):
    """A text handed to the SMS provider, by the message's id: the provider's id for it and its
    delivery status as last reported. No phone and no text: the provider holds those."""

    __tablename__ = "sms_deliveries"

    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    # Empty until the provider accepted the message.
    provider_message_id: Mapped[str] = mapped_column(String(40), default="")
    # "sending", "refused", or the provider's word: queued, delivered, undelivered, ...
    status: Mapped[str] = mapped_column(String(30), index=True)
    error_status: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class StaffAction(Base):
    """One thing staff did through identity, for the audit trail: who, when, what (a name of
    `runtime.staff_actions`), to which member or store, key or account. Never personal data."""

    __tablename__ = "staff_actions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    subject: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[str] = mapped_column(String(200), default="")


class OutboxEvent(OutboxColumns, Base):
    pass
