"""SQL for the identity service: every query it runs, on a session the caller owns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from services.identity.models import (
    ApiKey,
    Consent,
    LoginAttempts,
    LoginSession,
    Member,
    Merge,
    OneTimeCode,
    OutboxEvent,
    SentMessage,
    SmsDelivery,
    StaffAccount,
    StaffAction,
    Store,
)
from services.runtime import bulk

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
        _members.c.referrer_id,
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


def member_id_by_referral_code(session: Session, code: str) -> uuid.UUID | None:
    return session.scalar(select(Member.id).where(Member.referral_code == code))


def friends_referred(session: Session, member_id: uuid.UUID) -> int:
    """Members who enrolled with the code of this member or of a duplicate merged into it."""
    referrers = select(Member.id).where(
        or_(Member.id == member_id, Member.merged_into == member_id)
    )
    return session.scalar(select(func.count()).where(Member.referrer_id.in_(referrers)))


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


def stores_by_ids(session: Session, store_ids: Sequence[uuid.UUID]) -> list[Store]:
    return list(session.scalars(select(Store).where(Store.id.in_(store_ids))))


def active_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalar(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )


def api_keys_of_store(session: Session, store_id: uuid.UUID) -> list[ApiKey]:
    """The store's keys, newest first."""
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.store_id == store_id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id)
        )
    )


def api_key_for_update(session: Session, key_id: uuid.UUID) -> ApiKey | None:
    return session.get(ApiKey, key_id, with_for_update=True)


def merge_record(session: Session, duplicate_id: uuid.UUID, lock: bool = False) -> Merge | None:
    return session.get(Merge, duplicate_id, with_for_update=lock)


def merges_into(session: Session, survivor_id: uuid.UUID) -> list[Merge]:
    return list(session.scalars(select(Merge).where(Merge.survivor_id == survivor_id)))


def spend_code(session: Session, code_id: uuid.UUID | None, now: datetime) -> bool:
    """Marks the code used; False when it was used already."""
    spent = session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == code_id, OneTimeCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return spent.rowcount == 1


def delete_codes(session: Session, phone_hash: str | None, member_id: uuid.UUID) -> None:
    """The codes sent to the phone and those the member asked for."""
    session.query(OneTimeCode).filter(
        or_(OneTimeCode.phone_hash == phone_hash, OneTimeCode.member_id == member_id)
    ).delete(synchronize_session=False)


def sent_message(session: Session, message_id: str) -> SentMessage | None:
    return session.get(SentMessage, message_id)


def sms_delivery(session: Session, message_id: str, lock: bool = False) -> SmsDelivery | None:
    return session.get(SmsDelivery, message_id, with_for_update=lock)


def sms_deliveries_pending(session: Session, final: Sequence[str], limit: int) -> list[SmsDelivery]:
    """Accepted texts whose delivery is not known yet, the oldest first."""
    return list(
        session.scalars(
            select(SmsDelivery)
            .where(SmsDelivery.provider_message_id != "", SmsDelivery.status.not_in(final))
            .order_by(SmsDelivery.updated_at)
            .limit(limit)
        )
    )


def messages_to(session: Session, member_ids: Sequence[uuid.UUID]) -> list[SentMessage]:
    return list(
        session.scalars(
            select(SentMessage)
            .where(SentMessage.member_id.in_(member_ids))
            .order_by(SentMessage.created_at)
        )
    )


def replace_event_payloads(
    session: Session, member_id: uuid.UUID, types: Sequence[str], payload: str
) -> None:
    """Overwrites the payload of the member's events of these types."""
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.member_id == member_id, OutboxEvent.type.in_(types))
        .values(payload=payload)
        .execution_options(synchronize_session=False)
    )


def live_session(session: Session, token_hash: str, now: datetime) -> LoginSession | None:
    """The login session of this token hash, unless it expired or was revoked."""
    return session.scalar(
        select(LoginSession).where(
            LoginSession.token_hash == token_hash,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
        )
    )


def revoke_session(session: Session, token_hash: str, now: datetime) -> None:
    session.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == token_hash, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def live_sessions_of(
    session: Session, kind: str, subject_id: uuid.UUID, now: datetime
) -> list[LoginSession]:
    return list(
        session.scalars(
            select(LoginSession).where(
                LoginSession.kind == kind,
                LoginSession.subject_id == subject_id,
                LoginSession.revoked_at.is_(None),
                LoginSession.expires_at > now,
            )
        )
    )


def staff_id_by_email(session: Session, email: str) -> uuid.UUID | None:
    return session.scalar(select(StaffAccount.id).where(StaffAccount.email == email))


def staff_by_email(session: Session, email: str) -> StaffAccount | None:
    return session.scalar(select(StaffAccount).where(StaffAccount.email == email))


def staff_by_id(session: Session, staff_id: uuid.UUID) -> StaffAccount | None:
    return session.get(StaffAccount, staff_id)


_attempts = LoginAttempts.__table__
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def take_login_attempt(
    session: Session, key: str, now: datetime, window_over: datetime, limit: int
) -> datetime | None:
    """Counts one attempt under `key`, in one statement: the start of the window it counted in,
    or None (and nothing counted) when the count is at `limit`. A window that started at or
    before `window_over` is over: the count starts again."""
    insert: Any = _INSERTS[session.get_bind().dialect.name]
    statement = insert(_attempts).values(key_hash=key, window_start=now, attempts=1)
    over = _attempts.c.window_start <= window_over
    return session.execute(
        statement.on_conflict_do_update(
            index_elements=[_attempts.c.key_hash],
            set_={
                "attempts": case((over, 1), else_=_attempts.c.attempts + 1),
                "window_start": case(
                    (over, statement.excluded.window_start), else_=_attempts.c.window_start
                ),
            },
            where=over | (_attempts.c.attempts < limit),
        ).returning(_attempts.c.window_start)
    ).scalar_one_or_none()


def give_back_login_attempt(session: Session, key: str, window_start: datetime) -> None:
    session.execute(
        update(_attempts)
        .where(
            _attempts.c.key_hash == key,
            _attempts.c.window_start == window_start,
            _attempts.c.attempts > 0,
        )
        .values(attempts=_attempts.c.attempts - 1)
    )


def login_window_start(session: Session, key: str) -> datetime | None:
    return session.scalar(select(_attempts.c.window_start).where(_attempts.c.key_hash == key))


def delete_login_windows(session: Session, started_before: datetime) -> int:
    """Deletes the counts of windows that started at or before the moment; how many."""
    result = session.execute(delete(_attempts).where(_attempts.c.window_start <= started_before))
    return result.rowcount or 0


def stores(session: Session) -> list[Store]:
    return list(session.scalars(select(Store).order_by(Store.name, Store.id)))


def staff_accounts(session: Session) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).order_by(StaffAccount.email)))


def consented_contacts(
    session: Session, member_ids: Sequence[uuid.UUID], channel: str
) -> list[Row]:
    """(id, first_name, address) of the members given who are not erased, consented to the
    channel and have its address (the phone for sms, the e-mail otherwise), in id order."""
    address = Member.phone if channel == "sms" else Member.email
    query = (
        select(Member.id, Member.first_name, address.label("address"))
        .join(Consent, and_(Consent.member_id == Member.id, Consent.channel == channel))
        .where(
            Member.id.in_(member_ids),
            Member.erased_at.is_(None),
            Consent.granted.is_(True),
            address.is_not(None),
            address != "",
        )
        .order_by(Member.id)
    )
    return list(session.execute(query))


def staff_action(session: Session, action_id: uuid.UUID) -> StaffAction | None:
    return session.get(StaffAction, action_id)


def staff_actions(session: Session, member_ids: list[uuid.UUID], limit: int) -> list[StaffAction]:
    """Newest first: those about the members given (a member and their merged duplicates), or
    every action when none is given."""
    query = select(StaffAction).order_by(StaffAction.at.desc(), StaffAction.id).limit(limit)
    if member_ids:
        query = query.where(StaffAction.member_id.in_(member_ids))
    return list(session.scalars(query))


def members_named(session: Session, prefix: str, limit: int) -> list[Member]:
    """Live members whose name key ("first last" or "last first") starts with `prefix`, a
    folded name (`names.folded`)."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(
        session.scalars(
            select(Member)
            .where(
                or_(
                    Member.name_key.like(pattern, escape="\\"),
                    Member.last_name_key.like(pattern, escape="\\"),
                ),
                Member.merged_into.is_(None),
                Member.erased_at.is_(None),
            )
            .order_by(Member.name_key, Member.id)
            .limit(limit)
        )
    )


def members_matching_import(
    session: Session, external_ids: Sequence[str], phone_hashes: Sequence[str]
) -> list[Row]:
    """The members (`id`, `external_id`, `phone_hash`) an import's rows name already, by their
    external id or their phone."""
    return list(
        session.execute(
            select(Member.id, Member.external_id, Member.phone_hash).where(
                or_(Member.external_id.in_(external_ids), Member.phone_hash.in_(phone_hashes))
            )
        )
    )


def add_members(session: Session, members: list[dict], consents: list[dict]) -> None:
    """New members and their consents, each in one statement; IntegrityError when a phone,
    card or external id was taken meanwhile."""
    bulk.insert_rows(session, Member.__table__, members)
    bulk.insert_rows(session, Consent.__table__, consents)


def cards_taken(session: Session, card_numbers: Sequence[str]) -> set[str]:
    return set(
        session.scalars(select(Member.card_number).where(Member.card_number.in_(card_numbers)))
    )
