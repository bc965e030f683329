"""The points database: a double-entry ledger, derived balances and the purchases behind them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    # False when campaigns could not be asked; the bonus is then owed.
    campaigns_evaluated: Mapped[bool] = mapped_column(Boolean, default=True)
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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Entry(Base):
    """An immutable movement of points into (positive) or out of (negative) one account.

    Member accounts carry the member id and a bucket (available or pending); program accounts
    (`program:earned`, ...) carry neither.
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
    """A member's balances, derived from the entries and kept in step with them."""

    __tablename__ = "balances"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    available: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[int] = mapped_column(BigInteger, default=0)
