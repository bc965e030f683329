"""Cases: the contacts a support agent records for a member (a complaint, a question, praise),
with the channel it came by, a category and what was said.

Cases belong to campaigns because they are about the member's relation with the club, as
feedback is: an open complaint makes the member dissatisfied at once in the member view (the
`open_complaints` of their row, which segments can use too), and resolving it puts them back
where their purchases and ratings place them and asks them for a follow-up rating.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from services.campaigns import repository
from services.campaigns.lifecycle import refresh_stages
from services.campaigns.models import Case
from services.campaigns.projection import member_row
from services.campaigns.settings import Lifecycle
from services.runtime.db import Database, utcnow
from services.runtime.errors import DomainError, InvalidArgument, NotFound
from services.runtime.idempotency import Once
from services.runtime.ids import parse_id
from services.runtime.staff_actions import actor_or_unknown

KINDS = ("complaint", "question", "praise")
CHANNELS = ("phone", "store", "email", "web", "social")
MAX_CATEGORY = 60
MAX_TEXT = 2000
MAX_LISTED = 500
FOLLOW_UP = (
    "Your complaint has been resolved. How did we do? Rate us in the club portal.\n"
    "شکایت شما رسیدگی شد. لطفاً در پرتال باشگاه به ما امتیاز دهید."
)


class Sender(Protocol):
    def send(self, message_id: str, member_id: str, channel: str, body: str) -> str: ...


@dataclass(frozen=True)
class _Kept:
    request_hash: str
    result: str


def _fingerprint(member_id: uuid.UUID, kind: str, channel: str, category: str, text: str) -> str:
    fields = [str(member_id), kind, channel, category, text]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def _kept(session: Session, case_id: str) -> _Kept | None:
    earlier = repository.case(session, case_id)
    if earlier is None:
        return None
    fingerprint = _fingerprint(
        earlier.member_id, earlier.kind, earlier.channel, earlier.category, earlier.text
    )
    return _Kept(fingerprint, earlier.case_id)


def _one_of(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise InvalidArgument(f"{name} must be one of {', '.join(allowed)}", code=f"invalid-{name}")
    return value


class CaseBook:
    def __init__(
        self,
        database: Database,
        rules: Lifecycle,
        sender: Sender,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._rules = rules
        self._sender = sender
        self._clock = clock

    def open(
        self,
        case_id: str,
        member_id: str,
        kind: str,
        channel: str,
        category: str,
        text: str,
        actor: str,
    ) -> Case:
        """Records the case once (a retry with the same id and content changes nothing); a
        complaint makes the member dissatisfied in the same transaction."""
        member = parse_id(member_id, "member")
        if not case_id or len(case_id) > 100:
            raise InvalidArgument("case_id: 1 to 100 characters", code="invalid-case")
        _one_of(kind, KINDS, "kind")
        _one_of(channel, CHANNELS, "channel")
        category = " ".join(category.split()).casefold()
        if not category or len(category) > MAX_CATEGORY:
            raise InvalidArgument(
                f"category: 1 to {MAX_CATEGORY} characters", code="invalid-category"
            )
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            raise InvalidArgument(f"text: 1 to {MAX_TEXT} characters", code="invalid-case")

        def store(session: Session) -> str:
            now = self._clock()
            member_row(session, member)
            repository.add(
                session,
                Case(
                    case_id=case_id,
                    member_id=member,
                    kind=kind,
                    channel=channel,
                    category=category,
                    text=text,
                    status="open",
                    opened_by=actor_or_unknown(actor),
                    opened_at=now,
                    resolved_by="",
                    resolution="",
                    follow_up="",
                ),
            )
            self._restage(session, member, now)
            return case_id

        Once(
            database=self._db,
            lookup=lambda session: _kept(session, case_id),
            fingerprint=_fingerprint(member, kind, channel, category, text),
            decode=str,
            id_name="case_id",
        ).run(store)
        return self.get(case_id)

    def resolve(self, case_id: str, resolution: str, actor: str) -> Case:
        """Closes the case (resolving it again changes nothing); a resolved complaint no
        longer counts against the member, and they are asked for a follow-up rating."""
        resolution = resolution.strip()[:MAX_TEXT]
        with self._db.write() as session:
            found = repository.case(session, case_id, lock=True)
            if found is None:
                raise NotFound("no such case", code="case-not-found")
            if found.status == "open":
                now = self._clock()
                found.status = "resolved"
                found.resolved_at = now
                found.resolved_by = actor_or_unknown(actor)
                found.resolution = resolution
                session.flush()
                self._restage(session, found.member_id, now)
            ask = found.kind == "complaint" and found.follow_up in ("", "unavailable")
            member_id = str(found.member_id)
        if ask:
            self._ask_for_rating(case_id, member_id)
        return self.get(case_id)

    def _ask_for_rating(self, case_id: str, member_id: str) -> None:
        """One SMS per case (identity keeps it by its id and checks consent); a sender that
        cannot be reached is tried again when the case is resolved again."""
        try:
            status = self._sender.send(f"case-follow-up:{case_id}", member_id, "sms", FOLLOW_UP)
        except DomainError:
            status = "unavailable"
        with self._db.write() as session:
            found = repository.case(session, case_id, lock=True)
            if found is not None:
                found.follow_up = status[:40]

    def _restage(self, session: Session, member: uuid.UUID, now: datetime) -> None:
        repository.count_open_complaints(session, member)
        session.flush()
        refresh_stages(session, self._rules, now, [member])

    def get(self, case_id: str) -> Case:
        with self._db.read() as session:
            found = repository.case(session, case_id)
            if found is None:
                raise NotFound("no such case", code="case-not-found")
            return found

    def listed(self, member_id: str, status: str, limit: int) -> list[Case]:
        """A member's cases newest first, or everyone's oldest first (the desk's queue)."""
        member = parse_id(member_id, "member") if member_id else None
        if status:
            _one_of(status, ("open", "resolved"), "status")
        with self._db.read() as session:
            return repository.cases(session, member, status, min(max(limit, 1), MAX_LISTED))

    def complaints_by_category(self, days: int) -> list[tuple[str, int, int]]:
        """Per category, complaints of the last `days` days and those still open, most first."""
        if not 1 <= days <= 3660:
            raise InvalidArgument("days: 1 to 3660", code="invalid-days")
        with self._db.read() as session:
            return repository.complaint_counts(session, self._clock() - timedelta(days=days))
