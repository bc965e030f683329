"""Coupon campaigns: a coupon from points for each member of the audience, never two.

When a coupon campaign becomes active, one grant per member of its target group (the control
group gets nothing) goes into the `coupon_grants` table, once (unique per campaign and member).
The issuer then asks points to issue each pending grant's coupon with the grant's id as the
issue id, and records points' answer. Points keeps each issue id's first coupon and answers it
again for a repeat, so a crash between issuing and recording, a retry, or two issuers at once
still give each member one coupon.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.campaigns import repository
from services.campaigns.campaigns import Campaigns
from services.campaigns.definitions import CouponTerms
from services.campaigns.models import CouponGrant
from services.runtime.db import Database, utcnow
from services.runtime.errors import Unavailable
from services.runtime.logs import log

logger = logging.getLogger(__name__)

BATCH = 200
ISSUED = "issued"


@dataclass(frozen=True)
class Issued:
    """Points' answer: `issued` with the coupon's id, or `failed-<reason>` when it refused for
    good (an unknown member, say)."""

    status: str
    coupon_id: str | None = None


class Issuer(Protocol):
    def issue(
        self, issue_id: str, member_id: str, campaign_id: str, name: str, terms: CouponTerms
    ) -> Issued:
        """Issues the coupon once per issue_id; Unavailable when points cannot say."""
        ...


class CouponGrants:
    def __init__(
        self,
        database: Database,
        campaigns: Campaigns,
        issuer: Issuer,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._campaigns = campaigns
        self._issuer = issuer
        self._clock = clock

    def run(self) -> int:
        """Queues the coupons of campaigns that have become active, then issues what is
        pending; returns how many grants points answered."""
        self.queue_due()
        return self.issue_pending()

    def queue_due(self) -> int:
        queued = 0
        with self._db.read() as session:
            waiting = repository.coupon_campaigns_to_queue(session)
        for session, row, view in self._campaigns.newly_active(waiting, "coupons_queued_at"):
            condition = self._campaigns.target_group_for(session, view, "coupons not queued")
            if condition is None:
                continue
            members = repository.member_ids(session, condition)
            now = self._clock()
            repository.add_rows(
                session,
                [
                    CouponGrant(
                        id=uuid.uuid4(),
                        campaign_id=row.id,
                        member_id=member_id,
                        status="pending",
                        created_at=now,
                    )
                    for member_id in members
                ],
            )
            log(logger, "coupons queued", campaign=str(row.id), count=len(members))
            queued += len(members)
        return queued

    def issue_pending(self) -> int:
        done = 0
        terms: dict[uuid.UUID, tuple[str, CouponTerms | None]] = {}
        while True:
            with self._db.read() as session:
                due = repository.due_grants(session, BATCH)
                for campaign_id in {row.campaign_id for row in due} - set(terms):
                    found = repository.campaign(session, campaign_id)
                    assert found is not None
                    definition = self._campaigns.view(found).definition
                    terms[campaign_id] = (definition.name, definition.coupon)
            if not due:
                return done
            for grant_id, campaign_id, member_id in due:
                name, coupon = terms[campaign_id]
                if coupon is None:  # not a coupon campaign any more: nothing to give
                    answer = Issued("failed-no-coupon")
                else:
                    try:
                        answer = self._issuer.issue(
                            str(grant_id), str(member_id), str(campaign_id), name, coupon
                        )
                    except Unavailable as error:
                        log(logger, "coupons paused", logging.WARNING, reason=error.detail)
                        return done
                with self._db.write() as session:
                    repository.record_grant(
                        session, grant_id, answer.status, answer.coupon_id, self._clock()
                    )
                done += 1
