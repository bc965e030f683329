"""The member events identity publishes, written to its outbox with the change they describe."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from services.identity.models import Member, OutboxEvent
from services.runtime import outbox
from services.runtime.db import utcnow


def profile(member: Member) -> dict[str, Any]:
    """The attributes campaigns may segment on; no phone, e-mail or last name."""
    return {
        "first_name": member.first_name,
        "city": member.city,
        "birth_date": member.birth_date.isoformat() if member.birth_date else "",
        "gender": member.gender,
        "interests": list(member.interests or []),
    }


def emit(session: Session, kind: str, member_id: uuid.UUID, payload: dict[str, Any]) -> None:
    outbox.append(session, OutboxEvent, [(kind, member_id, payload)], utcnow())


def enrolled(session: Session, member: Member, source: str) -> None:
    consents = {c.channel: c.granted for c in member.consents}
    emit(
        session,
        "member.enrolled",
        member.id,
        {
            "store_id": str(member.enrolled_store_id or ""),
            "source": source,
            **profile(member),
            "consents": {"sms": consents.get("sms", False), "email": consents.get("email", False)},
        },
    )


def profile_changed(session: Session, member: Member) -> None:
    emit(session, "member.profile_changed", member.id, profile(member))


def consent_changed(session: Session, member: Member, channel: str, granted: bool, source: str):
    emit(
        session,
        "member.consent_changed",
        member.id,
        {"channel": channel, "granted": granted, "source": source},
    )


def merged(session: Session, duplicate: uuid.UUID, survivor: uuid.UUID) -> None:
    emit(session, "member.merged", duplicate, {"survivor_id": str(survivor)})


def erased(session: Session, member_id: uuid.UUID) -> None:
    emit(session, "member.erased", member_id, {})
