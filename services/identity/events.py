"""Every event identity publishes, each with its payload as a proto message (identity.proto),
written to its outbox with the change it describes and served by ListEvents.

A payload is stored as a JSON object holding every field of its message under the field's proto
name, with proto types as JSON types (a default value is written too, and an integer stays a
number), so that consumers read the same keys and types whatever the payload's age.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from loyalty.identity.v1 import identity_pb2 as pb
from services.identity.models import Member, OutboxEvent
from services.runtime import event_types, outbox
from services.runtime.db import Database, utcnow

# Each event's type name, and its payload message, are defined once for publisher and consumers.
_TYPES = {payload: kind for kind, payload in event_types.PAYLOADS.items()}
# Events whose payload holds profile fields; erasure replaces it with ERASED_PAYLOAD. The others
# hold ids and yes-or-no consents only.
PERSONAL = (event_types.MEMBER_ENROLLED, event_types.MEMBER_PROFILE_CHANGED)
ERASED_PAYLOAD = {"erased": True}


def _event(member_id: uuid.UUID, payload: Message) -> tuple[str, uuid.UUID, dict]:
    return (_TYPES[type(payload)], member_id, event_types.payload_of(payload))


def emit(session: Session, member_id: uuid.UUID, payload: Message) -> None:
    """Writes the event whose payload this is, in the session's transaction."""
    outbox.append(session, OutboxEvent, [_event(member_id, payload)], utcnow())


def profile(member: Member | SimpleNamespace) -> pb.MemberProfileChanged:
    """The attributes campaigns may segment on; no phone, e-mail or last name."""
    return pb.MemberProfileChanged(
        first_name=member.first_name,
        city=member.city,
        birth_date=member.birth_date.isoformat() if member.birth_date else "",
        gender=member.gender,
        interests=list(member.interests or []),
    )


def enrolment(
    attributes: pb.MemberProfileChanged,
    consents: dict[str, bool],
    store_id: str,
    source: str,
    referrer_id: str = "",
) -> pb.MemberEnrolled:
    """The payload of `member.enrolled`: the profile's attributes (see `profile`), the consents
    given, where and how the member joined, and who referred them."""
    return pb.MemberEnrolled(
        store_id=store_id,
        source=source,
        first_name=attributes.first_name,
        city=attributes.city,
        birth_date=attributes.birth_date,
        gender=attributes.gender,
        interests=attributes.interests,
        consents=pb.EnrolledConsents(
            sms=consents.get("sms", False), email=consents.get("email", False)
        ),
        referrer_id=referrer_id,
    )


def enrolled(session: Session, member: Member, source: str) -> None:
    consents = {c.channel: c.granted for c in member.consents}
    store_id = str(member.enrolled_store_id or "")
    referrer_id = str(member.referrer_id or "")
    emit(session, member.id, enrolment(profile(member), consents, store_id, source, referrer_id))


def enrolled_many(session: Session, payloads: dict[uuid.UUID, pb.MemberEnrolled]) -> None:
    """One `member.enrolled` per member, written together."""
    events = [_event(member_id, payload) for member_id, payload in payloads.items()]
    outbox.append(session, OutboxEvent, events, utcnow())


def referred(session: Session, referrer_id: uuid.UUID, friend_id: uuid.UUID) -> None:
    emit(session, referrer_id, pb.MemberReferred(friend_id=str(friend_id)))


def profile_changed(session: Session, member: Member) -> None:
    emit(session, member.id, profile(member))


def consent_changed(
    session: Session, member: Member, channel: str, granted: bool, source: str
) -> None:
    emit(
        session,
        member.id,
        pb.MemberConsentChanged(channel=channel, granted=granted, source=source),
    )


def merged(session: Session, duplicate: uuid.UUID, survivor: uuid.UUID) -> None:
    emit(session, duplicate, pb.MemberMerged(survivor_id=str(survivor)))


def erased(session: Session, member_id: uuid.UUID) -> None:
    emit(session, member_id, pb.MemberErased())


class EventFeed:
    """The outbox as ListEvents serves it."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def page(self, cursor: str, limit: int) -> tuple[list[outbox.Event], str]:
        with self._db.read() as session:
            return outbox.read(session, OutboxEvent, cursor, min(max(limit or 100, 1), 1000))
