"""Feedback members give (a rating of 1 to 5 and a comment): campaigns keeps it, and a low
rating makes the member dissatisfied at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.campaigns.lifecycle import refresh_stages
from services.campaigns.models import Feedback, Member
from services.campaigns.projection import record_feedback
from services.campaigns.settings import Lifecycle
from services.runtime.db import Database, utcnow
from services.runtime.errors import FailedPrecondition, InvalidArgument
from services.runtime.ids import parse_id


class FeedbackBook:
    def __init__(
        self, database: Database, rules: Lifecycle, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = database
        self._rules = rules
        self._clock = clock

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
        try:
            with self._db.write() as session:
                earlier = session.get(Feedback, feedback_id)
                if earlier is None:
                    now = self._clock()
                    session.add(
                        Feedback(
                            feedback_id=feedback_id,
                            member_id=member,
                            rating=rating,
                            comment=comment,
                            created_at=now,
                        )
                    )
                    session.flush()
                    record_feedback(session, member, rating, now)
                    session.flush()
                    refresh_stages(session, self._rules, now, [member])
                    return session.execute(
                        select(Member.stage).where(Member.member_id == member)
                    ).scalar_one()
        except IntegrityError:
            pass  # a concurrent copy stored it first
        with self._db.read() as session:
            earlier = session.get(Feedback, feedback_id)
            assert earlier is not None
            if (earlier.member_id, earlier.rating, earlier.comment) != (member, rating, comment):
                raise FailedPrecondition(
                    "this feedback_id was already used for other feedback",
                    code="idempotency-mismatch",
                )
            row = session.get(Member, member)
            return row.stage if row else "potential"
