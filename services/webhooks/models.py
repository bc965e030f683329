"""The webhooks database: endpoints, the integration events read from the other services, one
delivery per event and endpoint, and how far each feed has been read."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UtcDateTime, utcnow
from services.runtime.event_feed import FeedCursorColumns

MIGRATIONS = Path(__file__).parent / "migrations"

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Endpoint(Base):
    __tablename__ = "endpoints"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    # Integration event types, or ["*"].
    event_types: Mapped[list[str]] = mapped_column(JSON)
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    # The signing secret, encrypted with the service's key: never answered again.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="active")
    disabled_reason: Mapped[str] = mapped_column(String(20), default="")
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IntegrationEvent(Base):
    """An event as endpoints receive it, under the id every delivery of it carries."""

    __tablename__ = "integration_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(60))
    member_id: Mapped[str] = mapped_column(String(40), default="", index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    data: Mapped[dict] = mapped_column(JSON)
    # The member's personal fields, sent only to endpoints allowed them; emptied on erasure.
    personal: Mapped[dict] = mapped_column(JSON)


class Delivery(Base):
    """One event to one endpoint. A member's deliveries to an endpoint go in id order: one
    waits while an earlier one is pending."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_line", "endpoint_id", "member_id", "status", "id"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_log", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_id: Mapped[str] = mapped_column(String(40))
    # Empty for an event of no member: it waits for nothing.
    member_id: Mapped[str] = mapped_column(String(40), default="")
    # "pending", "delivered" or "failed".
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status_code: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(200), default="")
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FeedCursor(FeedCursorColumns, Base):
    """How far one service's events have been read; moved in the transaction that records
    their deliveries."""

    __tablename__ = "feed_cursors"
