"""SQL for the identity service: every query it runs, on a session the caller owns."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.identity.models import ApiKey, Member, Store


def member_by_id(session: Session, member_id: uuid.UUID) -> Member | None:
    return session.get(Member, member_id)


def member_id_by_phone_hash(session: Session, phone_hash: str) -> uuid.UUID | None:
    return session.scalar(select(Member.id).where(Member.phone_hash == phone_hash))


def member_id_by_card(session: Session, card_number: str) -> uuid.UUID | None:
    return session.scalar(select(Member.id).where(Member.card_number == card_number))


def store_by_id(session: Session, store_id: uuid.UUID) -> Store | None:
    return session.get(Store, store_id)


def active_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalar(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
