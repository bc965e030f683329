"""Feedback members give (a rating of 1 to 5 and a comment): campaigns keeps it, and a low
rating makes the member dissatisfied at once."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from services.campaigns import repository
from services.campaigns.lifecycle import refresh_stages
from services.campaigns.missions import Fact, Missions
from services.campaigns.models import Feedback
from services.campaigns.projection import record_feedback
from services.campaigns.settings import Lifecycle
from services.runtime.db import Database, utcnow
from services.runtime.errors import InvalidArgument
from services.runtime.idempotency import Once
from services.runtime.ids import parse_id


def _fingerprint(member_id: uuid.UUID, rating: int, comment: str) -> str:
    return hashlib.sha256(json.dumps([str(member_id), rating, comment]).encode()).hexdigest()


@dataclass(frozen=True)
class _Kept:
    """Stored feedback as the idempotency rule reads it: what it said, and (as its answer)
    the member's stage now."""

    request_hash: str
    result: str


def _kept(session: Session, feedback_id: str) -> _Kept | None:
    earlier = repository.feedback(session, feedback_id)
    if earlier is None:
        return None
    return _Kept(
        _fingerprint(earlier.member_id, earlier.rating, earlier.comment),
        repository.member_stage(session, earlier.member_id) or "potential",
    )


@dataclass(frozen=True)
class FeedbackView:
    feedback_id: str
    member_id: str
    first_name: str
    rating: int
    comment: str
    created_at: datetime


MAX_LISTED = 500


class FeedbackBook:
    def __init__(
        self,
        database: Database,
        rules: Lifecycle,
        clock: Callable[[], datetime] = utcnow,
        missions: Missions | None = None,
    ) -> None:
        self._db = database
        self._rules = rules
        self._clock = clock
        self._missions = missions

    def recent(self, limit: int, member_id: str = "") -> list[FeedbackView]:
        """Feedback newest first with its comment: every member's (at most `limit`), or the
        whole of one member's."""
        member = parse_id(member_id, "member") if member_id else None
        limit = min(max(limit or 100, 1), MAX_LISTED)
        with self._db.read() as session:
            rows = repository.recent_feedback(session, limit, member)
        return [
            FeedbackView(
                feedback_id=row.feedback_id,
                member_id=str(row.member_id),
                first_name=row.first_name or "",
                rating=row.rating,
                comment=row.comment or "",
                created_at=row.created_at,
            )
            for row in rows
        ]

    def submit(self, feedback_id: str, member_id: str, rating: int, comment: str) -> str:
        """Stores the feedback once (a retry with the same id and content changes nothing);
        returns the member's lifecycle stage after it."""
        member = parse_id(member_id, "member")
        if not feedback_id or len(feedback_id) > 100:
            raise InvalidArgument("feedback_id: 1 to 100 characters", code="invalid-feedback")
        if not 1 <= rating <= 5:
            raise InvalidArgument("rating must be 1 to 5", code="invalid-rating")
        if len(comment) > 2000:
            raise InvalidArgument("comment: at most 2000 characters", code="invalid-feedback")

        def store(session: Session) -> str:
            now = self._clock()
            repository.add(
                session,
                Feedback(
                    feedback_id=feedback_id,
                    member_id=member,
                    rating=rating,
                    comment=comment,
                    created_at=now,
                ),
            )
            record_feedback(session, member, rating, now)
            session.flush()
            if self._missions is not None:
                fact = Fact(member, "feedback", f"feedback:{feedback_id}", now)
                self._missions.record(session, [fact])
            refresh_stages(session, self._rules, now, [member])
            stage = repository.member_stage(session, member)
            assert stage is not None
            return stage

        once = Once(
            database=self._db,
            lookup=lambda session: _kept(session, feedback_id),
            fingerprint=_fingerprint(member, rating, comment),
            decode=str,
            id_name="feedback_id",
        )
        return once.run(store)
