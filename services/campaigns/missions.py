"""Missions: goals over what members do (purchases, spend, purchases in a category, feedback,
friends referred, a completed profile), reached within a period and paid in points once.

Progress is made of facts, each keyed by what it was (a purchase's store and transaction, a
feedback id, a friend): the member view records them in the same transaction as the events
they come from, so a repeated event, or the member view rebuilt from the first event, adds
nothing. Facts and completions are campaigns' own record and survive a rebuild. When a
member's facts in a period reach the target, one completion row is written (unique per
mission, member and period), and the payer asks points to credit it with the completion's id
as the operation id, which points keeps once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from loyalty.identity.v1 import identity_pb2
from loyalty.points.v1 import points_pb2
from services.campaigns import repository
from services.campaigns.campaigns import Campaigns, CampaignView
from services.campaigns.definitions import Mission
from services.campaigns.messages import Sender, personal
from services.campaigns.projection import Page, RefundSeen, category_name, purchase_source
from services.campaigns.templates import Unrenderable
from services.runtime.db import Database, utcnow
from services.runtime.errors import Unavailable
from services.runtime.ids import parse_id
from services.runtime.logs import log
from services.runtime.outbox import Event

logger = logging.getLogger(__name__)

BATCH = 200
PAID = "paid"
GRANTED = "granted"
# Which goals each kind of fact counts towards.
METRICS_OF = {
    "purchase": ("purchases", "spend", "category_purchases"),
    "feedback": ("feedback",),
    "referral": ("referrals",),
    "profile": ("profile_complete",),
}


@dataclass(frozen=True)
class Fact:
    """Something a member did: `kind` is purchase, feedback, referral or profile."""

    member_id: uuid.UUID
    kind: str
    source: str
    at: datetime
    amount_minor: int = 0
    categories: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MemberMission:
    id: str
    name: str
    target: int
    progress: int
    completed: bool
    period_ends_at: datetime | None
    reward_points: int = 0
    reward_id: str = ""
    metric: str = "purchases"


def _profile_complete(
    profile: identity_pb2.MemberEnrolled | identity_pb2.MemberProfileChanged,
) -> bool:
    return all((profile.first_name, profile.city, profile.birth_date, profile.gender))


def facts_of(event: Event, payload: Message | None) -> list[Fact]:
    """What one of the member view's events counts for missions."""
    if not event.member_id:
        return []
    member_id = uuid.UUID(event.member_id)
    at = event.occurred_at
    match payload:
        case points_pb2.PurchaseRecorded():
            if payload.occurred_at:
                moment = datetime.fromisoformat(payload.occurred_at)
                at = moment if moment.tzinfo else moment.replace(tzinfo=at.tzinfo)
            return [
                Fact(
                    member_id,
                    "purchase",
                    purchase_source(payload),
                    at,
                    payload.amount_minor,
                    frozenset(category_name(item.category) for item in payload.items),
                )
            ]
        case identity_pb2.MemberReferred():
            return [Fact(member_id, "referral", f"referral:{payload.friend_id}", at)]
        case identity_pb2.MemberEnrolled() | identity_pb2.MemberProfileChanged():
            if _profile_complete(payload):
                return [Fact(member_id, "profile", "profile", at)]
    return []


def period_key(period: str, moment: datetime, zone: str) -> str:
    """The period a moment falls in, in the mission's time zone: once, 2026-W49, 2026-12."""
    if period == "once":
        return "once"
    local = moment.astimezone(ZoneInfo(zone))
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{local.year}-{local.month:02d}"


def period_end(period: str, moment: datetime, zone: str) -> datetime | None:
    """When the period holding `moment` ends (weeks start on Monday); None for once."""
    if period == "once":
        return None
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz).date()
    if period == "week":
        end = local + timedelta(days=7 - local.weekday())
    else:
        end = date(local.year + local.month // 12, local.month % 12 + 1, 1)
    return datetime(end.year, end.month, end.day, tzinfo=tz)


def counted(mission: Mission, fact: Fact) -> int:
    """How much a fact moves a mission towards its target (0: not at all)."""
    if mission.metric not in METRICS_OF[fact.kind]:
        return 0
    if mission.metric == "spend":
        return max(fact.amount_minor, 0)
    if mission.metric == "category_purchases":
        return 1 if mission.category in fact.categories else 0
    return 1


class Missions:
    def __init__(
        self, database: Database, campaigns: Campaigns, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = database
        self._campaigns = campaigns
        self._clock = clock

    def _running(self, session: Session) -> list[CampaignView]:
        views = (self._campaigns.view(row) for row in repository.launched_missions(session))
        return [view for view in views if view.definition.mission is not None]

    def _reaches(self, session: Session, view: CampaignView, member_id: uuid.UUID) -> bool:
        condition = self._campaigns.target_group_for(session, view, "mission skipped")
        return condition is not None and repository.in_group(session, member_id, condition)

    def record(self, session: Session, facts: Iterable[Fact]) -> None:
        """Counts facts towards the missions running when they happened, in the caller's
        transaction; a mission reached is queued for payment once per period."""
        facts = list(facts)
        if not facts:
            return
        running = self._running(session)
        if not running:
            return
        now = self._clock()
        # Each mission's group is built once per page of facts, not once per fact.
        groups = {
            view.id: self._campaigns.target_group_for(session, view, "mission skipped")
            for view in running
        }
        for fact in facts:
            for view in running:
                mission = view.definition.mission
                assert mission is not None
                amount = counted(mission, fact)
                launched = view.launched_at
                if not amount or launched is None or fact.at < launched:
                    continue  # what a member did before the mission was launched
                if not view.definition.schedule.allows(fact.at):
                    continue
                group = groups[view.id]
                if group is None or not repository.in_group(session, fact.member_id, group):
                    continue
                zone = view.definition.schedule.timezone
                period = period_key(mission.period, fact.at, zone)
                if not repository.add_mission_fact(
                    session, view.id, fact.member_id, period, fact.source, amount, now
                ):
                    continue
                progress = repository.mission_progress(session, view.id, fact.member_id, period)
                if progress >= mission.target:
                    repository.add_mission_reward(
                        session,
                        view.id,
                        fact.member_id,
                        period,
                        mission.reward_points,
                        mission.reward_id,
                        now,
                    )

    def take_back(self, session: Session, refunds: list[RefundSeen]) -> None:
        """What refunded purchases counted towards running missions, counted again on what is
        left of each, in the caller's transaction: a spend goal keeps the part not refunded, a
        count goal loses a purchase refunded in full. A completion whose period falls short of
        the target again is withdrawn while points has not paid it (its id is the operation
        id, so one completed again is still paid once); once paid it stands."""
        running = {view.id: view for view in self._running(session)} if refunds else {}
        if not running:
            return
        for refund in refunds:
            for fact in repository.mission_facts_of(
                session, list(running), refund.member_id, refund.source
            ):
                mission = running[fact.campaign_id].definition.mission
                assert mission is not None
                left = refund.remaining_minor
                if mission.metric != "spend":
                    left = 1 if left > 0 else 0
                if left >= fact.amount:
                    continue
                # Kept at 0 when nothing is left: the purchase's event, read again by a
                # rebuild, then finds its source counted and adds nothing.
                fact.amount = left
                session.flush()
                where = (fact.campaign_id, fact.member_id, fact.period)
                if repository.mission_progress(session, *where) < mission.target:
                    repository.withdraw_mission_reward(session, *where)

    def record_events(self, session: Session, page: Page) -> None:
        """Counts what a page of the member view's events did, each for whom it counts now."""
        facts = (fact for event, payload in page.events for fact in facts_of(event, payload))
        self.record(session, (replace(f, member_id=page.owner(f.member_id)) for f in facts))

    def of_member(self, member_id: str) -> list[MemberMission]:
        """The active missions the member is in, with their progress in the current period."""
        member = parse_id(member_id, "member")
        now = self._clock()
        found = []
        with self._db.read() as session:
            for view in self._running(session):
                mission = view.definition.mission
                assert mission is not None
                if view.status != "active" or not self._reaches(session, view, member):
                    continue
                zone = view.definition.schedule.timezone
                period = period_key(mission.period, now, zone)
                progress = repository.mission_progress(session, view.id, member, period)
                found.append(
                    MemberMission(
                        id=str(view.id),
                        name=view.name,
                        target=mission.target,
                        progress=min(progress, mission.target),
                        completed=repository.mission_completed(session, view.id, member, period),
                        period_ends_at=period_end(mission.period, now, zone),
                        reward_points=mission.reward_points,
                        reward_id=mission.reward_id,
                        metric=mission.metric,
                    )
                )
        return found


class Payer(Protocol):
    def pay(self, operation_id: str, member_id: str, points: int, name: str) -> str:
        """Credits the points of the mission `name` once per operation_id; returns `paid` or
        `failed-<reason>`; Unavailable when points cannot say."""
        ...

    def grant(self, operation_id: str, member_id: str, reward_id: str, campaign_id: str) -> str:
        """Gives the catalog reward once per operation_id; returns `granted` or
        `failed-<reason>`; Unavailable when points cannot say."""
        ...


@dataclass(frozen=True)
class _Due:
    id: str
    campaign_id: uuid.UUID
    member_id: uuid.UUID
    points: int
    reward_id: str | None


class MissionRewards:
    """Pays completed missions through points (their points, their catalog reward) and
    congratulates the member through identity, retrying what either could not answer. Each
    step is kept once by the service that takes it (the completion's id the operation id,
    the congratulation's id derived from it), so a completion tried again gives nothing twice;
    it stays pending until every step has been answered."""

    def __init__(
        self,
        database: Database,
        payer: Payer,
        sender: Sender,
        campaigns: Campaigns,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._payer = payer
        self._sender = sender
        self._campaigns = campaigns
        self._clock = clock

    def run(self) -> int:
        """Pays what is pending; returns how many completions points answered."""
        done = 0
        while True:
            with self._db.read() as session:
                due = [
                    _Due(row.id, row.campaign_id, row.member_id, row.points, row.reward_id)
                    for row in repository.due_mission_rewards(session, BATCH)
                ]
                views = {item.campaign_id: self._view(session, item.campaign_id) for item in due}
            if not due:
                return done
            for item in due:
                view = views[item.campaign_id]
                try:
                    status, reward_status = self._give(item, view)
                    if status == PAID and reward_status in (None, GRANTED):
                        self._congratulate(item, view)
                except Unavailable as error:
                    log(logger, "mission rewards paused", logging.WARNING, reason=error.detail)
                    return done
                with self._db.write() as session:
                    repository.record_mission_reward(
                        session, item.id, status, reward_status, self._clock()
                    )
                done += 1

    def _view(self, session: Session, campaign_id: uuid.UUID) -> CampaignView | None:
        row = repository.campaign(session, campaign_id)
        return self._campaigns.view(row) if row is not None else None

    def _give(self, item: _Due, view: CampaignView | None) -> tuple[str, str | None]:
        member = str(item.member_id)
        status = PAID
        if item.points:
            name = view.name if view is not None else ""
            status = self._payer.pay(item.id, member, item.points, name)
        reward_status = None
        if item.reward_id:
            reward_status = self._payer.grant(
                item.id, member, item.reward_id, str(item.campaign_id)
            )
        return status, reward_status

    def _congratulate(self, item: _Due, view: CampaignView | None) -> None:
        """Once per completion (identity keeps the message id), on the channel the mission
        names, and only when all it gives was given; identity sends nothing to a member who
        did not consent to that channel."""
        mission = view.definition.mission if view is not None else None
        if view is None or mission is None or mission.congratulate is None:
            return
        with self._db.read() as session:
            member = repository.member(session, item.member_id)
        try:
            body = personal(
                mission.congratulate.template,
                view.definition,
                item.member_id,
                member,
                self._sender,
            )
        except Unrenderable as error:
            log(
                logger,
                "mission congratulation not sent: the template cannot be rendered",
                logging.ERROR,
                campaign=str(item.campaign_id),
                reason=str(error),
            )
            return
        message_id = f"mission-done:{uuid.uuid5(uuid.NAMESPACE_URL, item.id)}"
        self._sender.send(message_id, str(item.member_id), mission.congratulate.channel, body)
