"""Messages to a campaign's audience, and to a draw's winners, through an outbox that never
sends twice.

When a campaign with a message becomes active, one row per consenting member of its target
group (the control group gets nothing) goes into the `messages` table, once (unique per
campaign, member and channel). The dispatcher sends pending rows through identity's
`SendMessage` with the row's id as `message_id`, then records identity's answer. Identity keeps
each message_id's first answer and sends nothing for a repeat, so a crash between sending and
recording, or two dispatchers at once, still sends each message once. Identity checks consent
again at the moment of sending. Nothing is sent in the quiet hours. A campaign's message is
written from its template as it is sent; a winner's is queued written (services.campaigns.draws).

A message whose template cannot be rendered (one saved before templates were checked) is marked
`failed-template` and the dispatcher goes on with the next; a campaign whose audience cannot be
computed (a segment rule stored before rules were bounded) queues nothing and is logged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import true
from sqlalchemy.orm import Session

from services.campaigns import repository
from services.campaigns.campaigns import Campaigns, CampaignView
from services.campaigns.definitions import Definition
from services.campaigns.models import Member, Message
from services.campaigns.projection import MAX_MERGE_HOPS
from services.campaigns.settings import QuietHours
from services.campaigns.templates import Unrenderable, render
from services.runtime import cursors
from services.runtime.db import Database, utcnow
from services.runtime.errors import InvalidArgument, Unavailable
from services.runtime.ids import parse_id
from services.runtime.logs import log

logger = logging.getLogger(__name__)

BATCH = 200
# An inbox cursor holds a message's sent_at as microseconds since EPOCH.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
UNRENDERABLE = "failed-template"


class Sender(Protocol):
    def send(self, message_id: str, member_id: str, channel: str, body: str) -> str:
        """Identity's answer (sent, skipped-no-consent, ...); Unavailable when it cannot say."""
        ...

    def expiry(self, member_id: str) -> str:
        """The member's next expiring points, in words ("120 points on 2027-01-31"), or ""."""
        ...


@dataclass(frozen=True)
class SentMessage:
    id: str
    channel: str
    body: str
    sent_at: datetime
    # The campaign's or the prize draw's name.
    subject: str


class Messages:
    def __init__(
        self,
        database: Database,
        campaigns: Campaigns,
        sender: Sender,
        quiet_hours: QuietHours | None,
        timezone: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._campaigns = campaigns
        self._sender = sender
        self._quiet = quiet_hours
        self._zone = ZoneInfo(timezone)
        self._clock = clock

    def of_member(self, member_id: str, limit: int, cursor: str) -> tuple[list[SentMessage], str]:
        """A page of what was sent to the member and to the members merged into them (however
        many merges back), newest first, and the cursor of the next page ("" at the end)."""
        parsed = parse_id(member_id, "member")
        limit = min(max(limit or cursors.MESSAGES_PAGE_DEFAULT, 1), cursors.MESSAGES_PAGE_MAX)
        before = None
        if cursor:
            micros, message_id = cursors.decode(cursor, 2)
            try:
                before = (EPOCH + micros * MICROSECOND, uuid.UUID(int=message_id))
            except (ValueError, OverflowError):
                raise InvalidArgument("cursor is not valid", code="invalid-cursor") from None
        with self._db.read() as session:
            members = {parsed}
            # Members merged into the member, and those merged into them before.
            for _hop in range(MAX_MERGE_HOPS):
                more = repository.merged_into(session, members) - members
                if not more:
                    break
                members |= more
            rows = repository.member_messages(session, members, limit + 1, before)
        page = [SentMessage(str(r.id), r.channel, r.body, r.sent_at, r.subject) for r in rows]
        if len(page) <= limit:
            return page, ""
        last = rows[limit - 1]
        micros = (last.sent_at - EPOCH) // MICROSECOND
        return page[:limit], cursors.encode(micros, last.id.int)

    def run(self) -> int:
        """Queues the messages of campaigns that have become active, then sends what is due;
        returns how many were sent or skipped."""
        self.queue_due()
        if self._quiet and self._quiet.contains(self._clock().astimezone(self._zone).time()):
            return 0
        return self.send_pending()

    def queue_due(self) -> int:
        queued = 0
        with self._db.read() as session:
            waiting = repository.campaigns_to_queue(session)
        for session, _row, view in self._campaigns.newly_active(waiting, "messages_queued_at"):
            if view.definition.message is None:
                continue
            queued += self._queue(session, view)
        return queued

    def _queue(self, session: Session, view: CampaignView) -> int:
        definition, campaign_id = view.definition, view.id
        assert definition.message is not None
        channel = definition.message.channel
        consent = Member.consent_sms if channel == "sms" else Member.consent_email
        condition = self._campaigns.target_group_for(session, view, "messages not queued")
        if condition is None:
            return 0
        condition = condition & consent.is_(true())
        now = self._clock()
        members = repository.member_ids(session, condition)
        repository.add_rows(
            session,
            [
                Message(
                    id=uuid.uuid4(),
                    campaign_id=campaign_id,
                    member_id=member_id,
                    channel=channel,
                    body="",
                    status="pending",
                    not_before=now,
                    created_at=now,
                )
                for member_id in members
            ],
        )
        log(logger, "messages queued", campaign=str(campaign_id), count=len(members))
        return len(members)

    def send_pending(self) -> int:
        done = 0
        while True:
            with self._db.read() as session:
                due = repository.due_messages(session, self._clock(), BATCH)
            if not due:
                return done
            for message_id, campaign_id, member_id, channel, written in due:
                try:
                    body = written or self._render(campaign_id, member_id)
                except Unrenderable as error:
                    done += self._fail_campaign(campaign_id, str(error))
                    break
                try:
                    status = self._sender.send(str(message_id), str(member_id), channel, body)
                except Unavailable as error:
                    log(logger, "messages paused", logging.WARNING, reason=error.detail)
                    return done
                with self._db.write() as session:
                    repository.record_sent(session, message_id, status, body, self._clock())
                done += 1

    def _fail_campaign(self, campaign_id: uuid.UUID, reason: str) -> int:
        """Marks every pending message of a campaign whose template cannot be rendered failed:
        the template is the same for all of them."""
        with self._db.write() as session:
            failed = repository.fail_pending(session, campaign_id, UNRENDERABLE, self._clock())
        log(
            logger,
            "messages not sent: the template cannot be rendered",
            logging.ERROR,
            campaign=str(campaign_id),
            count=failed,
            reason=reason,
        )
        return failed

    def _render(self, campaign_id: uuid.UUID, member_id: uuid.UUID) -> str:
        with self._db.read() as session:
            row = repository.campaign(session, campaign_id)
            assert row is not None
            definition = self._campaigns.view(row).definition
            member = repository.member(session, member_id)
        assert definition.message is not None
        return personal(definition.message.template, definition, member_id, member, self._sender)


def personal(
    template: str,
    definition: Definition,
    member_id: uuid.UUID,
    member: Member | None,
    sender: Sender,
) -> str:
    """A campaign's template rendered for one member; Unrenderable when it cannot be."""
    values: dict[str, object] = {
        "first_name": (member.first_name if member else None) or "",
        "points": member.points if member else 0,
        "offer": definition.offer.shown() if definition.offer else "",
        "expiry": sender.expiry(str(member_id)) if "{expiry}" in template else "",
    }
    return render(template, values)
