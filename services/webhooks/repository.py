"""Every query of the webhooks service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.orm import Session, aliased

from services.webhooks.models import Delivery, Endpoint, IntegrationEvent

ACTIVE = "active"
PENDING = "pending"


def endpoint(session: Session, endpoint_id: uuid.UUID, lock: bool = False) -> Endpoint | None:
    return session.get(Endpoint, endpoint_id, with_for_update=lock)


def endpoints(session: Session) -> list[Endpoint]:
    return list(session.scalars(select(Endpoint).order_by(Endpoint.created_at, Endpoint.id)))


def active_endpoints(session: Session) -> list[Endpoint]:
    return list(session.scalars(select(Endpoint).where(Endpoint.status == ACTIVE)))


def event(session: Session, event_id: str) -> IntegrationEvent | None:
    return session.get(IntegrationEvent, event_id)


def events(session: Session, event_ids: Sequence[str]) -> dict[str, IntegrationEvent]:
    rows = session.scalars(select(IntegrationEvent).where(IntegrationEvent.id.in_(event_ids)))
    return {row.id: row for row in rows}


def forget_personal_data(session: Session, member_id: str) -> None:
    """An erased member's personal fields, gone from every event kept of them."""
    session.execute(
        update(IntegrationEvent).where(IntegrationEvent.member_id == member_id).values(personal={})
    )


def delivery(session: Session, delivery_id: int, lock: bool = False) -> Delivery | None:
    return session.get(Delivery, delivery_id, with_for_update=lock)


def due_deliveries(
    session: Session, now: datetime, skip: Sequence[int], limit: int
) -> list[Delivery]:
    """Pending deliveries due now to active endpoints, each the first of its member's line."""
    earlier = aliased(Delivery)
    query = (
        select(Delivery)
        .join(Endpoint, Endpoint.id == Delivery.endpoint_id)
        .where(
            Delivery.status == PENDING,
            Delivery.next_attempt_at <= now,
            Endpoint.status == ACTIVE,
            ~and_(
                Delivery.member_id != "",
                exists().where(
                    earlier.endpoint_id == Delivery.endpoint_id,
                    earlier.member_id == Delivery.member_id,
                    earlier.status == PENDING,
                    earlier.id < Delivery.id,
                ),
            ),
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    if skip:
        query = query.where(Delivery.id.not_in(skip))
    return list(session.scalars(query))


def claim(session: Session, delivery_id: int, seen_at: datetime, until: datetime) -> bool:
    """Takes a due delivery for one attempt, unless another process took it first: its next
    attempt moves to `until`, so it is not taken again while this one is under way."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == PENDING,
            Delivery.next_attempt_at == seen_at,
        )
        .values(next_attempt_at=until, attempts=Delivery.attempts + 1)
    )
    return result.rowcount == 1


def deliveries_of(
    session: Session, endpoint_id: uuid.UUID, status: str, before: int | None, limit: int
) -> list[Delivery]:
    query = select(Delivery).where(Delivery.endpoint_id == endpoint_id)
    if status:
        query = query.where(Delivery.status == status)
    if before is not None:
        query = query.where(Delivery.id < before)
    return list(session.scalars(query.order_by(Delivery.id.desc()).limit(limit)))


def pending_delivery_of(session: Session, endpoint_id: uuid.UUID, event_id: str) -> Delivery | None:
    return session.scalar(
        select(Delivery).where(
            Delivery.endpoint_id == endpoint_id,
            Delivery.event_id == event_id,
            Delivery.status == PENDING,
        )
    )


def forget_finished(session: Session, before: datetime) -> int:
    """Deliveries done (delivered or given up) before `before`, and the events no delivery
    needs any more; returns how many deliveries went."""
    gone = session.execute(
        delete(Delivery).where(Delivery.status != PENDING, Delivery.created_at < before)
    ).rowcount
    session.execute(
        delete(IntegrationEvent).where(~exists().where(Delivery.event_id == IntegrationEvent.id))
    )
    return gone
