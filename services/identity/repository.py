"""SQL for the identity service: every query it runs, on a session the caller owns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Row, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from services.identity.models import ApiKey, Consent, Member, Merge, OneTimeCode, Store

# Merges are flattened (a member merged into one that is later merged points at the last
# survivor), so one hop is the rule; the bound only guards against a damaged row.
MAX_MERGE_HOPS = 5


def member_by_id(session: Session, member_id: uuid.UUID) -> Member | None:
    return session.get(Member, member_id)


_members = Member.__table__
_consents = Consent.__table__
# What a member view shows, with one row per consent (one row of nulls for none). Built once:
# the hottest read of the service.
_MEMBER_VIEW = (
    select(
        _members.c.id,
        _members.c.card_number,
        _members.c.phone,
        _members.c.email,
        _members.c.first_name,
        _members.c.last_name,
        _members.c.birth_date,
        _members.c.city,
        _members.c.gender,
        _members.c.interests,
        _members.c.merged_into,
        _members.c.erased_at,
        _members.c.enrolled_store_id,
        _members.c.created_at,
        _consents.c.channel,
        _consents.c.granted,
        _consents.c.source,
        _consents.c.updated_at.label("consent_updated_at"),
    )
    .select_from(_members.outerjoin(_consents, _consents.c.member_id == _members.c.id))
    .where(_members.c.id == bindparam("member_id"))
    .order_by(_consents.c.channel)
)


def member_view_rows(connection: Connection, member_id: uuid.UUID) -> list[Row]:
    """The member's row joined with its consents in one statement; empty if no such member."""
    return list(connection.execute(_MEMBER_VIEW, {"member_id": member_id}))


def resolve_member(session: Session, member_id: uuid.UUID) -> Member | None:
    """The member, or the survivor it was merged into."""
    member = session.get(Member, member_id)
    for _hop in range(MAX_MERGE_HOPS):
        if member is None or member.merged_into is None:
            return member
        member = session.get(Member, member.merged_into)
    return None


def member_for_update(session: Session, member_id: uuid.UUID) -> Member | None:
    return session.get(Member, member_id, with_for_update=True)


def member_id_by_phone_hash(session: Session, phone_hash: str) -> uuid.UUID | None:
    return session.scalar(select(Member.id).where(Member.phone_hash == phone_hash))


def member_id_by_card(session: Session, card_number: str) -> uuid.UUID | None:
    return session.scalar(select(Member.id).where(Member.card_number == card_number))


def member_ids_by_email_hash(session: Session, email_hash: str) -> list[uuid.UUID]:
    return list(session.scalars(select(Member.id).where(Member.email_hash == email_hash)))


def aliases_of(session: Session, member_id: uuid.UUID) -> list[Member]:
    """The members merged into this one."""
    return list(session.scalars(select(Member).where(Member.merged_into == member_id)))


def merges_under_way(session: Session, member_ids: Sequence[uuid.UUID]) -> list[Merge]:
    """Started merges that either member takes part in, as duplicate or as survivor."""
    return list(
        session.scalars(
            select(Merge).where(
                Merge.status == "started",
                or_(Merge.duplicate_id.in_(member_ids), Merge.survivor_id.in_(member_ids)),
            )
        )
    )


def merges_started_before(session: Session, before: datetime, limit: int) -> list[Merge]:
    return list(
        session.scalars(
            select(Merge)
            .where(Merge.status == "started", Merge.merged_at < before)
            .order_by(Merge.merged_at)
            .limit(limit)
        )
    )


def merge_aliases(session: Session, duplicate: uuid.UUID, survivor: uuid.UUID) -> None:
    session.execute(
        update(Member)
        .where(Member.merged_into == duplicate)
        .values(merged_into=survivor)
        .execution_options(synchronize_session=False)
    )


def duplicate_pairs(session: Session, limit: int) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """Pairs of live members sharing an e-mail, or a full name and a birth date."""
    first, second = aliased(Member), aliased(Member)
    live = and_(
        first.merged_into.is_(None),
        second.merged_into.is_(None),
        first.erased_at.is_(None),
        second.erased_at.is_(None),
        first.id < second.id,
    )
    same_email = select(first.id, second.id).join(
        second, and_(first.email_hash == second.email_hash, live)
    )
    same_person = select(first.id, second.id).join(
        second,
        and_(
            first.birth_date == second.birth_date,
            func.lower(first.first_name) == func.lower(second.first_name),
            func.lower(first.last_name) == func.lower(second.last_name),
            first.last_name != "",
            live,
        ),
    )
    pairs: dict[tuple[uuid.UUID, uuid.UUID], str] = {}
    for a, b in session.execute(same_email.limit(limit)):
        pairs[(a, b)] = "email"
    for a, b in session.execute(same_person.limit(limit)):
        pairs.setdefault((a, b), "name-and-birth-date")
    return [(a, b, reason) for (a, b), reason in list(pairs.items())[:limit]]


def latest_open_code(
    session: Session, phone_hash: str, purpose: str, member_id: uuid.UUID | None, now: datetime
) -> OneTimeCode | None:
    return session.scalar(
        select(OneTimeCode)
        .where(
            OneTimeCode.phone_hash == phone_hash,
            OneTimeCode.purpose == purpose,
            OneTimeCode.member_id.is_(None)
            if member_id is None
            else OneTimeCode.member_id == member_id,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.expires_at > now,
        )
        .order_by(OneTimeCode.created_at.desc())
        .limit(1)
        .with_for_update()
    )


def codes_sent_since(session: Session, phone_hash: str, since: datetime) -> int:
    return session.scalar(
        select(func.count())
        .select_from(OneTimeCode)
        .where(OneTimeCode.phone_hash == phone_hash, OneTimeCode.created_at >= since)
    )


def close_open_codes(session: Session, phone_hash: str, purpose: str, now: datetime) -> None:
    session.execute(
        update(OneTimeCode)
        .where(
            OneTimeCode.phone_hash == phone_hash,
            OneTimeCode.purpose == purpose,
            OneTimeCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def store_by_id(session: Session, store_id: uuid.UUID) -> Store | None:
    return session.get(Store, store_id)


def active_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalar(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
