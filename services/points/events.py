"""Every integration event points emits, written to its outbox with the change it describes.

Each payload is a message of points.proto; the outbox keeps it as the JSON object of its fields
(int64 as numbers, as consumers and the events already written expect).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from loyalty.points.v1 import points_pb2 as pb
from services.points.models import OutboxEvent
from services.runtime import event_types, outbox
from services.runtime.db import Database
from services.runtime.event_types import (
    POINTS_CHANGED_PREFIX,
    PURCHASE_RECORDED,
    PURCHASE_REFUNDED,
    REWARD_REDEEMED,
    TIER_CHANGED,
)


def _write(
    session: Session, at: datetime, events: list[tuple[str, uuid.UUID | None, Message]]
) -> None:
    outbox.append(
        session,
        OutboxEvent,
        [(kind, member_id, event_types.payload_of(payload)) for kind, member_id, payload in events],
        at,
    )


def purchase_recorded(
    session: Session, at: datetime, member_id: uuid.UUID, payload: pb.PurchaseRecorded
) -> None:
    _write(session, at, [(PURCHASE_RECORDED, member_id, payload)])


def purchase_refunded(
    session: Session, at: datetime, member_id: uuid.UUID, payload: pb.PurchaseRefunded
) -> None:
    _write(session, at, [(PURCHASE_REFUNDED, member_id, payload)])


def points_changed(
    session: Session, at: datetime, kind: str, changes: dict[uuid.UUID, pb.PointsChanged]
) -> None:
    """`points.<kind>` for each member a posting moved."""
    _write(
        session,
        at,
        [(POINTS_CHANGED_PREFIX + kind, member, change) for member, change in changes.items()],
    )


def tier_changed(
    session: Session, at: datetime, member_id: uuid.UUID, before: str, after: str, spend: int
) -> None:
    tiers_changed(session, at, [(member_id, before, after, spend)])


def tiers_changed(
    session: Session, at: datetime, changes: list[tuple[uuid.UUID, str, str, int]]
) -> None:
    """`tier.changed` for each (member, before, after, qualifying spend), written together."""
    payloads = []
    for member_id, before, after, spend in changes:
        payload = pb.TierChanged(qualifying_spend_minor=spend, to=after)
        setattr(payload, "from", before)
        payloads.append((TIER_CHANGED, member_id, payload))
    _write(session, at, payloads)


def reward_redeemed(
    session: Session, at: datetime, member_id: uuid.UUID, payload: pb.RewardRedeemed
) -> None:
    _write(session, at, [(REWARD_REDEEMED, member_id, payload)])


def coupon_changed(
    session: Session, at: datetime, event_type: str, member_id: uuid.UUID, payload: pb.CouponChanged
) -> None:
    """`coupon.issued`, `coupon.used`, `coupon.released`, `coupon.cancelled` or
    `coupon.expired`."""
    _write(session, at, [(event_type, member_id, payload)])


def read(database: Database, cursor: str, limit: int) -> tuple[list[outbox.Event], str]:
    """A page of the events, in commit-safe order, and the cursor of the next."""
    with database.read() as session:
        return outbox.read(session, OutboxEvent, cursor, min(max(limit or 100, 1), 1000))
