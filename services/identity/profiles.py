"""Changes members make to their own record: profile, marketing consents and phone number."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.identity import events, identifiers, repository
from services.identity.codes import LoginCodes
from services.identity.directory import (
    CHANNELS,
    SOURCES,
    Directory,
    MemberView,
    birth_date,
    name,
    phone_taken,
)
from services.identity.models import Consent, Member
from services.runtime.db import Database, utcnow
from services.runtime.errors import InvalidArgument, NotFound

GENDERS = ("", "female", "male", "other")
MAX_INTERESTS = 20


@dataclass(frozen=True)
class ProfileChange:
    """Only the fields that are not None change."""

    first_name: str | None = None
    last_name: str | None = None
    birth_date: str | None = None
    city: str | None = None
    gender: str | None = None
    email: str | None = None
    interests: tuple[str, ...] | None = None


def _interests(values: tuple[str, ...]) -> list[str]:
    cleaned = sorted({name(v, "interest").lower() for v in values if v.strip()})
    if len(cleaned) > MAX_INTERESTS or any(len(v) > 40 for v in cleaned):
        raise InvalidArgument(f"at most {MAX_INTERESTS} interests of up to 40 characters")
    return cleaned


class Profiles:
    def __init__(self, database: Database, directory: Directory, codes: LoginCodes) -> None:
        self._db = database
        self._directory = directory
        self._codes = codes

    def _live_member(self, session: Session, member_id: str) -> Member:
        try:
            parsed = uuid.UUID(member_id)
        except ValueError:
            raise NotFound("member not found", code="member-not-found") from None
        member = repository.resolve_member(session, parsed)
        if member is None or member.erased_at is not None:
            raise NotFound("member not found", code="member-not-found")
        return repository.member_for_update(session, member.id) or member

    def update(self, member_id: str, change: ProfileChange) -> MemberView:
        stale: list[str] = []
        with self._db.write() as session:
            member = self._live_member(session, member_id)
            old = events.profile(member)
            if change.first_name is not None:
                member.first_name = name(change.first_name, "first_name")
            if change.last_name is not None:
                member.last_name = name(change.last_name, "last_name")
            if change.birth_date is not None:
                member.birth_date = birth_date(change.birth_date)
            if change.city is not None:
                member.city = name(change.city, "city")
            if change.gender is not None:
                if change.gender not in GENDERS:
                    raise InvalidArgument("gender must be female, male, other or empty")
                member.gender = change.gender
            if change.interests is not None:
                member.interests = _interests(change.interests)
            if change.email is not None:
                stale += self._directory.cache_keys(member)
                email = identifiers.normalize_email(change.email) if change.email else None
                member.email = email
                member.email_hash = self._directory.email_hash(email) if email else None
            member.updated_at = utcnow()
            if events.profile(member) != old:
                events.profile_changed(session, member)
            view = MemberView.of(member)
            stale += self._directory.cache_keys(member)
            self._directory.forget_keys(stale)
        self._directory.forget_keys(stale)
        return view

    def set_consent(self, member_id: str, channel: str, granted: bool, source: str) -> MemberView:
        if channel not in CHANNELS:
            raise InvalidArgument(f"consent channel must be one of {', '.join(CHANNELS)}")
        if source not in SOURCES:
            raise InvalidArgument(f"source must be one of {', '.join(SOURCES)}")
        with self._db.write() as session:
            member = self._live_member(session, member_id)
            now = utcnow()
            current = next((c for c in member.consents if c.channel == channel), None)
            if current is None:
                member.consents.append(
                    Consent(channel=channel, granted=granted, source=source, updated_at=now)
                )
                changed = True
            else:
                changed = current.granted != granted
                current.granted, current.source, current.updated_at = granted, source, now
            if changed:
                events.consent_changed(session, member, channel, granted, source)
            session.flush()
            view = MemberView.of(member)
            self._directory.forget(member)
        self._directory.forget(member)
        return view

    def start_phone_change(self, member_id: str, new_phone: str, client: str) -> int:
        """Sends a code to the current number and one to the new number."""
        phone, phone_hash = self._directory.phone_hash(new_phone)
        with self._db.read() as session:
            member = self._live_member(session, member_id)
            if repository.member_id_by_phone_hash(session, phone_hash):
                raise phone_taken()
            if not member.phone:
                raise InvalidArgument("the member has no phone number", code="no-phone")
            current = (member.phone, member.phone_hash or "")
        self._codes.send(current[0], current[1], "change-old", client, member.id)
        return self._codes.send(phone, phone_hash, "change-new", client, member.id)

    def confirm_phone_change(
        self, member_id: str, new_phone: str, old_code: str, new_code: str
    ) -> MemberView:
        phone, phone_hash = self._directory.phone_hash(new_phone)
        with self._db.read() as session:
            member = self._live_member(session, member_id)
            old_hash, parsed = member.phone_hash or "", member.id
        # Both codes are checked, and a wrong one costs a try, before either is spent.
        old_check = self._codes.check(old_hash, "change-old", old_code, parsed)
        new_check = self._codes.check(phone_hash, "change-new", new_code, parsed)
        for check in (old_check, new_check):
            check.raise_if_refused()
        with self._db.write() as session:
            member = self._live_member(session, member_id)
            if repository.member_id_by_phone_hash(session, phone_hash):
                raise phone_taken()
            self._codes.spend(session, old_check, new_check)
            stale = self._directory.cache_keys(member)
            self._directory.forget_keys(stale)
            member.phone, member.phone_hash = phone, phone_hash
            member.updated_at = utcnow()
            view = MemberView.of(member)
        self._directory.forget_keys(stale)
        return view
