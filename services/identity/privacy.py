"""A member's rights over their data: an export of everything held, and erasure.

Erasure keeps the member's id (the points ledger refers to it and must still balance) and
removes everything else: identifiers, profile, consents, codes, and the personal fields of the
member's past events. Members merged into this one are erased with it.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from services.identity import audit, events, repository
from services.identity.codes import LoginCodes
from services.identity.directory import Directory
from services.identity.merging import checked_actor
from services.identity.models import Erasure, Member
from services.identity.points_client import PointsLedger
from services.identity.sessions import Sessions
from services.runtime.db import Database, utcnow
from services.runtime.errors import DomainError, NotFound
from services.runtime.ids import parse_id
from services.runtime.logs import log
from services.runtime.staff_actions import MEMBER_ERASE, MEMBER_EXPORT, MEMBER_REVEAL

logger = logging.getLogger(__name__)


def _member_document(member: Member) -> dict[str, Any]:
    return {
        "id": str(member.id),
        "card_number": member.card_number,
        "phone": member.phone,
        "email": member.email,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "birth_date": member.birth_date.isoformat() if member.birth_date else None,
        "city": member.city,
        "gender": member.gender,
        "interests": list(member.interests or []),
        "enrolled_at": member.created_at.isoformat(),
        "enrolled_store_id": str(member.enrolled_store_id) if member.enrolled_store_id else None,
        "erased_at": member.erased_at.isoformat() if member.erased_at else None,
        "consents": [
            {
                "channel": c.channel,
                "granted": c.granted,
                "source": c.source,
                "updated_at": c.updated_at.isoformat(),
            }
            for c in member.consents
        ],
    }


class Privacy:
    def __init__(
        self,
        database: Database,
        directory: Directory,
        codes: LoginCodes,
        sessions: Sessions,
        points: PointsLedger,
    ) -> None:
        self._db = database
        self._directory = directory
        self._codes = codes
        self._sessions = sessions
        self._points = points

    def export(self, member_id: str, actor: str = "") -> dict[str, Any]:
        """The member's document; staff taking it (`actor`) is recorded, the member is not."""
        with self._db.write() if actor else self._db.read() as session:
            member = repository.resolve_member(session, parse_id(member_id, "member"))
            if member is None:
                raise NotFound("member not found", code="member-not-found")
            if actor:
                audit.record(session, actor, MEMBER_EXPORT, member.id)
            aliases = repository.aliases_of(session, member.id)
            ids = [member.id, *(a.id for a in aliases)]
            merges = repository.merges_into(session, member.id)
            messages = repository.messages_to(session, ids)
            return {
                "member": _member_document(member),
                "merged_members": [_member_document(a) for a in aliases],
                "merges": [
                    {
                        "duplicate_id": str(m.duplicate_id),
                        "actor": m.actor,
                        "merged_at": m.merged_at.isoformat(),
                    }
                    for m in merges
                ],
                "messages": [
                    {
                        "message_id": m.message_id,
                        "channel": m.channel,
                        "status": m.status,
                        "at": m.created_at.isoformat(),
                    }
                    for m in messages
                ],
            }

    def reveal(self, member_id: str, actor: str) -> tuple[str, str]:
        """The member's phone and e-mail in full, for a support agent; recorded."""
        actor = checked_actor(actor)
        with self._db.write() as session:
            member = repository.resolve_member(session, parse_id(member_id, "member"))
            if member is None:
                raise NotFound("member not found", code="member-not-found")
            audit.record(session, actor, MEMBER_REVEAL, member.id)
            return member.phone or "", member.email or ""

    def erase(self, member_id: str, actor: str) -> datetime:
        actor = checked_actor(actor)
        with self._db.write() as session:
            found = repository.resolve_member(session, parse_id(member_id, "member"))
            if found is None:
                raise NotFound("member not found", code="member-not-found")
            member = repository.member_for_update(session, found.id) or found
            everyone = [member, *repository.aliases_of(session, member.id)]
            ids = [person.id for person in everyone]
            if member.erased_at is not None:
                # Done before; what follows the commit may not have been, so it is done again.
                erased_at = member.erased_at
                stale = [f"member:{person_id}" for person_id in ids]
            else:
                now = utcnow()
                stale = [key for person in everyone for key in self._directory.cache_keys(person)]
                self._directory.forget_keys(stale)
                for person in everyone:
                    self._erase_row(session, person, now)
                session.add(Erasure(member_id=member.id, actor=actor, erased_at=now))
                audit.record(session, actor, MEMBER_ERASE, member.id)
                events.erased(session, member.id)
                erased_at = now
        self._directory.forget_keys(stale)
        for person_id in ids:
            self._sessions.revoke_all("member", person_id)
        try:
            # At once, so that not one more purchase is recorded for the member; points also
            # learns it from the `member.erased` event when this call cannot get through.
            self._points.forget(str(ids[0]))
        except DomainError as error:
            log(
                logger,
                "points not told of an erasure; it reads it from the events",
                code=error.code,
            )
        return erased_at

    def _erase_row(self, session: Session, member: Member, now: datetime) -> None:
        self._codes.forget(session, member.phone_hash, member.id)
        member.phone = member.phone_hash = None
        member.email = member.email_hash = None
        member.card_number = None
        member.first_name = member.last_name = member.city = member.gender = ""
        member.birth_date = None
        member.interests = []
        member.consents.clear()
        member.erased_at = now
        member.updated_at = now
        repository.replace_event_payloads(
            session, member.id, events.PERSONAL, json.dumps(events.ERASED_PAYLOAD)
        )
