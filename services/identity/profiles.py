"""Changes members make to their own record: profile, marketing consents, phone number and
e-mail address.

A new phone number needs a code from the current and from the new number; a new e-mail address
needs a code sent to it, so that no one can put another person's address on their record (and so
appear as that person's duplicate, or be found by it). Removing the address needs no code.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.identity import events, identifiers, repository
from services.identity.codes import LoginCodes
from services.identity.directory import (
    SOURCES,
    Directory,
    MemberView,
    birth_date,
    name,
    phone_taken,
)
from services.identity.models import Consent, Member
from services.identity.senders import CHANNELS
from services.runtime.db import Database, utcnow
from services.runtime.errors import InvalidArgument, NotFound

GENDERS = ("", "female", "male", "other")
MAX_INTERESTS = 20
EMAIL_CHANGE = "email-change"


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


@dataclass(frozen=True)
class ProfileUpdate:
    view: MemberView
    # The new e-mail address a code was sent to, and how long it works; "" and 0 for none.
    email_code_sent_to: str = ""
    email_code_expires_in: int = 0


def _interests(values: tuple[str, ...]) -> list[str]:
    cleaned = sorted({name(v, "interest").lower() for v in values if v.strip()})
    if len(cleaned) > MAX_INTERESTS or any(len(v) > 40 for v in cleaned):
        raise InvalidArgument(f"at most {MAX_INTERESTS} interests of up to 40 characters")
    return cleaned


def _checked_fields(change: ProfileChange) -> dict[str, Any]:
    """The member's attributes to set, from the fields given, each checked."""
    fields: dict[str, Any] = {}
    if change.first_name is not None:
        fields["first_name"] = name(change.first_name, "first_name")
    if change.last_name is not None:
        fields["last_name"] = name(change.last_name, "last_name")
    if change.birth_date is not None:
        fields["birth_date"] = birth_date(change.birth_date)
    if change.city is not None:
        fields["city"] = name(change.city, "city")
    if change.gender is not None:
        if change.gender not in GENDERS:
            raise InvalidArgument("gender must be female, male, other or empty")
        fields["gender"] = change.gender
    if change.interests is not None:
        fields["interests"] = _interests(change.interests)
    return fields


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

    def update(self, member_id: str, change: ProfileChange, client: str = "") -> ProfileUpdate:
        """Sets the fields given, all checked first; a new e-mail address is only sent a code
        (`confirm_email_change` sets it), an empty one removes the address."""
        fields = _checked_fields(change)
        email = identifiers.normalize_email(change.email) if change.email else change.email
        # The code goes first: when it cannot be sent, nothing else has changed either.
        expires_in = self._send_email_code(member_id, email, client) if email else 0
        sent_to = (email or "") if expires_in else ""
        stale: list[str] = []
        with self._db.write() as session:
            member = self._live_member(session, member_id)
            old = events.profile(member)
            for field, value in fields.items():
                setattr(member, field, value)
            if email == "":
                stale += self._set_email(member, None)
            member.updated_at = utcnow()
            if events.profile(member) != old:
                events.profile_changed(session, member)
            view = MemberView.of(member)
            stale += self._directory.cache_keys(member)
            self._directory.forget_keys(stale)
        self._directory.forget_keys(stale)
        return ProfileUpdate(view, sent_to, expires_in)

    def _send_email_code(self, member_id: str, email: str, client: str) -> int:
        """Sends a code to a new address; 0 (and nothing sent) when it is the member's already."""
        with self._db.read() as session:
            member = self._live_member(session, member_id)
            if member.email == email:
                return 0
            parsed = member.id
        email_hash = self._directory.email_hash(email)
        return self._codes.send(email, email_hash, EMAIL_CHANGE, client, parsed, channel="email")

    def confirm_email_change(self, member_id: str, new_email: str, code: str) -> MemberView:
        email = identifiers.normalize_email(new_email)
        email_hash = self._directory.email_hash(email)
        with self._db.read() as session:
            parsed = self._live_member(session, member_id).id
        check = self._codes.check(email_hash, EMAIL_CHANGE, code, parsed)
        check.raise_if_refused()
        with self._db.write() as session:
            member = self._live_member(session, member_id)
            self._codes.spend(session, check)
            old = events.profile(member)
            stale = self._set_email(member, email)
            member.updated_at = utcnow()
            if events.profile(member) != old:
                events.profile_changed(session, member)
            view = MemberView.of(member)
            self._directory.forget_keys(stale)
        self._directory.forget_keys(stale)
        return view

    def _set_email(self, member: Member, email: str | None) -> list[str]:
        """Sets (or removes) the address; answers the cache entries to drop, old and new."""
        stale = self._directory.cache_keys(member)
        member.email = email
        member.email_hash = self._directory.email_hash(email) if email else None
        return stale + self._directory.cache_keys(member)

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
