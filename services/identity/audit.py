"""The audit trail of what staff did through identity: each action recorded in the transaction
of the change it describes, in the words of `runtime.staff_actions`, and listed newest first."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from services.identity import repository
from services.identity.models import StaffAction
from services.runtime.db import Database
from services.runtime.errors import NotFound
from services.runtime.ids import parse_id
from services.runtime.staff_actions import actor_or_unknown

MAX_LISTED = 500


def record(
    session: Session,
    actor: str,
    action: str,
    member_id: uuid.UUID | None = None,
    subject: str = "",
    detail: str = "",
    action_id: uuid.UUID | None = None,
) -> None:
    session.add(
        StaffAction(
            id=action_id or uuid.uuid4(),
            actor=actor_or_unknown(actor),
            action=action,
            member_id=member_id,
            subject=subject[:100],
            detail=detail[:200],
        )
    )


class AuditTrail:
    def __init__(self, database: Database) -> None:
        self._db = database

    def actions(self, member_id: str, limit: int) -> list[StaffAction]:
        """Of the member (and of the duplicates merged into them), or of everyone when
        `member_id` is empty."""
        limit = min(max(limit, 1), MAX_LISTED)
        with self._db.read() as session:
            if not member_id:
                return repository.staff_actions(session, [], limit)
            member = repository.resolve_member(session, parse_id(member_id, "member"))
            if member is None:
                raise NotFound("member not found", code="member-not-found")
            ids = [member.id, *(alias.id for alias in repository.aliases_of(session, member.id))]
            return repository.staff_actions(session, ids, limit)
