"""The member directory: enrolment and identification, with the cache in front of the database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.identity import events, identifiers, names, referrals, repository
from services.identity.member_cache import member_key
from services.identity.models import Consent, Member
from services.identity.qr import QrTokens
from services.identity.referrals import ReferralCodes
from services.identity.senders import CHANNELS
from services.runtime.cache import Cache
from services.runtime.db import Database, utcnow
from services.runtime.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from services.runtime.ids import parse_id
from services.runtime.jalali import typed_date

SOURCES = ("pos", "web", "admin", "sms")
# Short, so that an invalidation lost while Redis was unreachable cannot keep a view for long.
MEMBER_TTL = 300
MAX_NAME = 100
MIN_NAME_PREFIX = 2


@dataclass(frozen=True)
class ConsentView:
    channel: str
    granted: bool
    source: str
    updated_at: str


@dataclass(frozen=True)
class MemberView:
    """What callers see of a member: identifiers masked, safe to cache."""

    id: str
    card_number: str
    phone_masked: str
    email_masked: str
    first_name: str
    last_name: str
    birth_date: str
    city: str
    consents: tuple[ConsentView, ...]
    enrolled_at: str
    enrolled_store_id: str
    gender: str = ""
    interests: tuple[str, ...] = ()
    erased: bool = False
    referrer_id: str = ""

    @classmethod
    def of(cls, member: Member) -> MemberView:
        consents = [(c.channel, c.granted, c.source, c.updated_at) for c in member.consents]
        return cls._of(member, consents)

    @classmethod
    def of_rows(cls, rows: Sequence[Row]) -> MemberView:
        """From `repository.member_view_rows`: the member's columns, once per consent."""
        consents = [
            (r.channel, r.granted, r.source, r.consent_updated_at)
            for r in rows
            if r.channel is not None
        ]
        return cls._of(rows[0], consents)

    @classmethod
    def _of(
        cls, member: Member | Row, consents: list[tuple[str, bool, str, datetime]]
    ) -> MemberView:
        return cls(
            id=str(member.id),
            card_number=member.card_number,
            phone_masked=identifiers.mask_phone(member.phone) if member.phone else "",
            email_masked=identifiers.mask_email(member.email) if member.email else "",
            first_name=member.first_name,
            last_name=member.last_name,
            birth_date=member.birth_date.isoformat() if member.birth_date else "",
            city=member.city,
            consents=tuple(
                ConsentView(channel, granted, source, updated_at.isoformat())
                for channel, granted, source, updated_at in consents
            ),
            enrolled_at=member.created_at.isoformat(),
            enrolled_store_id=str(member.enrolled_store_id or ""),
            gender=member.gender,
            interests=tuple(member.interests or ()),
            erased=member.erased_at is not None,
            referrer_id=str(member.referrer_id or ""),
        )

    def to_cache(self) -> dict:
        """What `from_cache` reads back: `dataclasses.asdict` without its deep copies."""
        return {**vars(self), "consents": [vars(c) for c in self.consents]}

    @classmethod
    def from_cache(cls, data: dict) -> MemberView:
        consents = tuple(ConsentView(**c) for c in data.pop("consents"))
        interests = tuple(data.pop("interests", ()))
        return cls(consents=consents, interests=interests, **data)


class Profile(Protocol):
    first_name: str
    last_name: str
    birth_date: str
    city: str


@dataclass(frozen=True)
class Enrollment:
    phone: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    birth_date: str = ""
    city: str = ""
    consents: tuple[tuple[str, bool], ...] = ()
    store_id: str = ""
    source: str = "pos"
    referral_code: str = ""


def name(value: str, field: str) -> str:
    value = " ".join(value.split())
    if len(value) > MAX_NAME:
        raise InvalidArgument(f"{field} is longer than {MAX_NAME} characters")
    return value


def birth_date(value: str) -> date | None:
    if not value:
        return None
    try:
        parsed = typed_date(value)
    except ValueError:
        raise InvalidArgument(
            "birth_date must be a date YYYY-MM-DD (Gregorian or Jalali)", code="invalid-birth-date"
        ) from None
    if not date(1900, 1, 1) <= parsed <= utcnow().date():
        raise InvalidArgument("birth_date is out of range", code="invalid-birth-date")
    return parsed


class Directory:
    def __init__(
        self,
        database: Database,
        cache: Cache,
        hasher: identifiers.PiiHasher,
        region: str,
        qr_tokens: QrTokens,
        referral_codes: ReferralCodes,
    ) -> None:
        self._db = database
        self._cache = cache
        self._hash = hasher
        self._region = region
        self._qr = qr_tokens
        self._referrals = referral_codes

    def check_referral(self, referral_code: str) -> None:
        """Refuses a referral code that cannot refer anyone now, before anything is spent."""
        with self._db.read() as session:
            referrals.referrer_of(session, referral_code)
        self._referrals.check_open()

    def phone_hash(self, raw: str) -> tuple[str, str]:
        """The phone in E.164 and its keyed hash."""
        phone = identifiers.normalize_phone(raw, self._region)
        return phone, self._hash("phone", phone)

    def email_hash(self, email: str) -> str:
        return self._hash("email", email)

    def member_fields(
        self, phone: str, phone_hash: str, email: str | None, profile: Profile, now: datetime
    ) -> dict[str, object]:
        """A new member's columns, from its normalised phone (and its hash) and e-mail and the
        profile's names, birth date and city, checked."""
        return dict(
            phone=phone,
            phone_hash=phone_hash,
            email=email,
            email_hash=self._hash("email", email) if email else None,
            first_name=name(profile.first_name, "first_name"),
            last_name=name(profile.last_name, "last_name"),
            birth_date=birth_date(profile.birth_date),
            city=name(profile.city, "city"),
            created_at=now,
            updated_at=now,
        )

    def enroll(self, request: Enrollment) -> MemberView:
        phone, phone_hash = self.phone_hash(request.phone)
        email = identifiers.normalize_email(request.email) if request.email else None
        if request.source not in SOURCES:
            raise InvalidArgument(f"source must be one of {', '.join(SOURCES)}")
        store_id = parse_id(request.store_id, "store") if request.store_id else None
        now = utcnow()
        consents = dict(request.consents)
        if len(consents) != len(request.consents):
            raise InvalidArgument("a consent channel is given twice")
        if not set(consents) <= set(CHANNELS):
            raise InvalidArgument(f"consent channel must be one of {', '.join(CHANNELS)}")
        if request.referral_code:
            self.check_referral(request.referral_code)
        fields = self.member_fields(phone, phone_hash, email, request, now)
        fields["enrolled_store_id"] = store_id
        # A clash on the card number (one in 10^14) is retried; a clash on the phone is final.
        for _attempt in range(3):
            try:
                with self._db.write() as session:
                    if repository.member_id_by_phone_hash(session, phone_hash):
                        raise phone_taken()
                    if store_id and not repository.store_by_id(session, store_id):
                        raise NotFound("store not found", code="store-not-found")
                    referrer_id = None
                    if request.referral_code:
                        referrer_id = referrals.referrer_of(session, request.referral_code)
                    member = Member(
                        referrer_id=referrer_id,
                        card_number=identifiers.new_card_number(),
                        consents=[
                            Consent(channel=c, granted=g, source=request.source, updated_at=now)
                            for c, g in consents.items()
                        ],
                        **fields,
                    )
                    session.add(member)
                    session.flush()
                    events.enrolled(session, member, request.source)
                    if referrer_id is not None:
                        events.referred(session, referrer_id, member.id)
                    view = MemberView.of(member)
                # An e-mail may be shared: a lookup cached before this member must ask again.
                self.forget(member)
                return view
            except IntegrityError:
                with self._db.read() as session:
                    if repository.member_id_by_phone_hash(session, phone_hash):
                        raise phone_taken() from None
        raise AlreadyExists("could not issue a card number, try again", code="card-clash")

    def get(self, member_id: str) -> MemberView:
        try:
            parsed = uuid.UUID(member_id)
        except ValueError:
            raise NotFound("member not found", code="member-not-found") from None
        key = member_key(parsed)
        cached = self._cache.get_json(key)
        if cached is not None:
            return MemberView.from_cache(cached)
        with self._db.read_core() as connection:
            rows = repository.member_view_rows(connection, parsed)
        if not rows:
            raise NotFound("member not found", code="member-not-found")
        if rows[0].merged_into is not None:
            with self._db.read() as session:
                survivor = repository.resolve_member(session, parsed)
                if survivor is None:
                    raise NotFound("member not found", code="member-not-found")
                survivor_id = str(survivor.id)
            # Not cached under the duplicate's id: the survivor's entry is the one that changes
            # invalidate.
            return self.get(survivor_id)
        view = MemberView.of_rows(rows)
        self._cache.set_json(key, view.to_cache(), MEMBER_TTL)
        return view

    @staticmethod
    def cache_keys(member: Member) -> list[str]:
        """The cache entries that hold the member's view or lead to it."""
        keys = [member_key(member.id)]
        if member.card_number:
            keys.append(f"card:{member.card_number}")
        if member.phone_hash:
            keys.append(f"phone:{member.phone_hash}")
        if member.email_hash:
            keys.append(email_key(member.email_hash))
        return keys

    def forget_keys(self, keys: list[str]) -> None:
        """Drops cache entries of members whose data changed. Writers call it before and after
        their commit: a reader that loaded the old row just before the commit may have put it
        back in between."""
        self._cache.delete(*keys)

    def forget(self, member: Member) -> None:
        self.forget_keys(self.cache_keys(member))

    def identify_by_phone(self, raw: str) -> MemberView:
        phone_hash = self._hash("phone", identifiers.normalize_phone(raw, self._region))
        return self._identify(f"phone:{phone_hash}", repository.member_id_by_phone_hash, phone_hash)

    def identify_by_card(self, raw: str) -> MemberView:
        card = identifiers.normalize_card_number(raw)
        return self._identify(f"card:{card}", repository.member_id_by_card, card)

    def identify_by_email(self, raw: str) -> MemberView:
        email_hash = self._hash("email", identifiers.normalize_email(raw))
        return self._identify(email_key(email_hash), self._only_member_with_email, email_hash)

    def search_by_name(self, prefix: str, limit: int) -> list[MemberView]:
        """Live members whose first or last name starts with `prefix` (Persian and Arabic forms
        of a letter alike, see `names`), by name; at most `limit` (1 to 50)."""
        folded = names.folded(prefix)
        if len(folded) < MIN_NAME_PREFIX:
            raise InvalidArgument(
                f"type at least {MIN_NAME_PREFIX} letters of the name", code="name-too-short"
            )
        with self._db.read() as session:
            found = repository.members_named(session, folded, min(max(limit, 1), 50))
            return [MemberView.of(member) for member in found]

    def identify_by_qr(self, token: str) -> MemberView:
        member_id = self._qr.verify(token)
        view = self.get(member_id)
        if view.erased:
            raise NotFound("no member with this identifier", code="member-not-found")
        return view

    def issue_qr(self, member_id: str) -> tuple[str, str]:
        """A fresh QR token for the member and when it stops working."""
        view = self.get(member_id)
        if view.erased:
            raise NotFound("member not found", code="member-not-found")
        return self._qr.issue(view.id)

    @staticmethod
    def _only_member_with_email(session: Session, email_hash: str) -> uuid.UUID | None:
        found = set()
        for member_id in repository.member_ids_by_email_hash(session, email_hash):
            survivor = repository.resolve_member(session, member_id)
            if survivor is not None and survivor.erased_at is None:
                found.add(survivor.id)
        if len(found) > 1:
            raise Conflict(
                "several members share this e-mail: identify by phone or card",
                code="ambiguous-identifier",
            )
        return found.pop() if found else None

    def _identify(
        self, key: str, find: Callable[[Session, str], uuid.UUID | None], value: str
    ) -> MemberView:
        cached = self._cache.get(key)
        if cached is not None:
            return self.get(cached.decode())
        with self._db.read() as session:
            member_id = find(session, value)
        if member_id is None:
            raise NotFound("no member with this identifier", code="member-not-found")
        self._cache.set(key, str(member_id), MEMBER_TTL)
        return self.get(str(member_id))


def email_key(email_hash: str) -> str:
    """The cache entry of a lookup by e-mail."""
    return f"email:{email_hash}"


def phone_taken() -> AlreadyExists:
    return AlreadyExists("a member with this phone number exists", code="member-exists")
