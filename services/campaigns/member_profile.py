"""One member as the member view knows them, for the support desk: lifecycle stage and its
history, RFM scores and what they are scored on, feedback and open complaints."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.campaigns import repository
from services.campaigns.models import Feedback, StageChange
from services.runtime.db import Database
from services.runtime.errors import InvalidArgument, NotFound

LISTED = 50


@dataclass(frozen=True)
class MemberProfile:
    stage: str
    stage_since: datetime | None
    stage_history: Sequence[StageChange]
    rfm: tuple[int, int, int]
    last_purchase_at: datetime | None
    purchases: int
    spend_minor: int
    feedback: Sequence[Feedback]
    open_complaints: int


class MemberProfiles:
    def __init__(self, database: Database) -> None:
        self._db = database

    def profile(self, member_id: str) -> MemberProfile:
        try:
            key = uuid.UUID(member_id)
        except ValueError:
            raise InvalidArgument("member_id is not a member id", code="invalid-member") from None
        with self._db.read() as session:
            member = repository.member(session, key)
            if member is None:
                raise NotFound("the member view does not have this member yet", code="not-found")
            return MemberProfile(
                stage=member.stage,
                stage_since=member.stage_since,
                stage_history=repository.stage_history(session, key, LISTED),
                rfm=(member.rfm_r, member.rfm_f, member.rfm_m),
                last_purchase_at=member.last_purchase_at,
                purchases=member.purchase_count,
                spend_minor=member.total_spend_minor - member.refunded_minor,
                feedback=repository.member_feedback(session, key, LISTED),
                open_complaints=member.open_complaints,
            )
