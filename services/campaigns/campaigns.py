"""Campaigns as marketers keep them: created as drafts, launched, paused, ended.

The stored state is draft, launched, paused or ended; a launched campaign reads as scheduled
before its start, active while it runs and ended after its end. Every change moves a generation
number in Redis, so each process drops its cached active campaigns at once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, literal, or_, true
from sqlalchemy.orm import Session

from services.campaigns import definitions, repository
from services.campaigns.definitions import Definition, Targeting
from services.campaigns.models import Campaign, Member
from services.campaigns.repository import live
from services.campaigns.segments import Segments
from services.runtime.cache import Cache
from services.runtime.db import Database, utcnow
from services.runtime.errors import Conflict, InvalidArgument, NotFound
from services.runtime.ids import parse_id
from services.runtime.logs import log

logger = logging.getLogger(__name__)

GENERATION_KEY = "generation"
# What each action does: the statuses it applies to, and the state it stores.
TRANSITIONS = {
    "launch": (frozenset({"draft", "paused"}), "launched"),
    "pause": (frozenset({"scheduled", "active"}), "paused"),
    "end": (frozenset({"draft", "scheduled", "active", "paused"}), "ended"),
}


def allowed_actions(status: str) -> tuple[str, ...]:
    """The actions a campaign in this status accepts."""
    return tuple(action for action, (sources, _) in TRANSITIONS.items() if status in sources)


def deletable(state: str) -> bool:
    """Only a draft can be deleted; a campaign that ran stays, for its report."""
    return state == "draft"


def salt_of(campaign_id: uuid.UUID) -> int:
    return int(campaign_id.hex[:8], 16) % 10000


def in_control(bucket: int, campaign_id: uuid.UUID, percent: int) -> bool:
    """Whether a member (by their bucket) is held out of a campaign: the same answer every
    time, and a different slice of members for each campaign."""
    return (bucket + salt_of(campaign_id)) % 10000 < percent * 100


def control_condition(campaign_id: uuid.UUID, percent: int) -> ColumnElement[bool]:
    """`in_control` as SQL over the members table."""
    shifted = (Member.__table__.c.bucket + salt_of(campaign_id)) % 10000
    return shifted < literal(percent * 100)


@dataclass(frozen=True)
class CampaignView:
    id: uuid.UUID
    name: str
    kind: str
    status: str
    body: dict
    definition: Definition
    awarded_points: int
    created_at: datetime
    launched_at: datetime | None
    actions: tuple[str, ...]
    deletable: bool


def status_of(state: str, definition: Definition, now: datetime) -> str:
    if state != "launched":
        return state
    schedule = definition.schedule
    if schedule.starts_at and now < schedule.starts_at:
        return "scheduled"
    if schedule.ends_at and now >= schedule.ends_at:
        return "ended"
    return "active"


class RewardCatalog(Protocol):
    def has_reward(self, reward_id: str) -> bool:
        """Whether points' catalog holds the reward; Unavailable when points cannot say."""
        ...


class Campaigns:
    def __init__(
        self,
        database: Database,
        segments: Segments,
        cache: Cache,
        currency: str,
        timezone: str,
        clock: Callable[[], datetime] = utcnow,
        rewards: RewardCatalog | None = None,
    ) -> None:
        self._db = database
        self.segments = segments
        self._cache = cache
        self._currency = currency
        self._timezone = timezone
        self._clock = clock
        # None where no catalog runs beside campaigns (some tests and benches): not checked.
        self._rewards = rewards
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        self._cache.incr_many(GENERATION_KEY)
        for listener in self._listeners:
            listener()

    def parse(self, body: Any) -> Definition:
        return definitions.parse(body, self._currency, self._timezone)

    def view(self, row: Campaign, awarded: int = 0) -> CampaignView:
        """The campaign as marketers see it; `awarded` is what it awarded (see `_shown`), which
        only the views shown to them need."""
        body = json.loads(row.definition)
        definition = self.parse(body)
        status = status_of(row.state, definition, self._clock())
        return CampaignView(
            id=row.id,
            name=row.name,
            kind=row.kind,
            status=status,
            body=body,
            definition=definition,
            awarded_points=awarded,
            created_at=row.created_at,
            launched_at=row.launched_at,
            actions=allowed_actions(status),
            deletable=deletable(row.state),
        )

    def _parse_new(self, body: Any) -> Definition:
        """A definition to save; asks points, before any transaction opens, whether the catalog
        holds the reward a mission names (else its completions would give nothing)."""
        definition = self.parse(body)
        definitions.check_new(definition)
        reward_id = definition.mission.reward_id if definition.mission is not None else ""
        if reward_id and self._rewards is not None and not self._rewards.has_reward(reward_id):
            raise InvalidArgument(
                "reward_id: no reward of the catalog has this id", code="invalid-campaign"
            )
        return definition

    def create(self, body: Any) -> CampaignView:
        definition = self._parse_new(body)
        now = self._clock()
        with self._db.write() as session:
            self.check_segments(session, definition.targeting)
            row = Campaign(
                id=uuid.uuid4(),
                name=definition.name,
                kind=definition.kind,
                definition=json.dumps(body),
                state="draft",
                priority=definition.priority,
                stackable=definition.stackable,
                budget_points=definition.budget_points,
                awarded_points=0,
                per_member_limit=definition.per_member_limit,
                control_percent=definition.control_percent,
                starts_at=definition.schedule.starts_at,
                ends_at=definition.schedule.ends_at,
                created_at=now,
                updated_at=now,
            )
            repository.add(session, row)
            return self.view(row)

    def update(self, campaign_id: str, body: Any) -> CampaignView:
        """Replaces a draft's definition; a launched campaign cannot be rewritten."""
        definition = self._parse_new(body)
        with self._db.write() as session:
            row = self._load(session, campaign_id, lock=True)
            if row.state != "draft":
                raise Conflict("only a draft can be changed", code="campaign-not-draft")
            self.check_segments(session, definition.targeting)
            row.name, row.kind, row.definition = definition.name, definition.kind, json.dumps(body)
            row.priority, row.stackable = definition.priority, definition.stackable
            row.budget_points, row.per_member_limit = (
                definition.budget_points,
                definition.per_member_limit,
            )
            row.control_percent = definition.control_percent
            row.starts_at, row.ends_at = definition.schedule.starts_at, definition.schedule.ends_at
            row.updated_at = self._clock()
            return self.view(row)

    def check_segments(self, session: Session, targeting: Targeting) -> None:
        """Every segment a targeting names exists."""
        for i, segment_id in enumerate(targeting.segments):
            try:
                self.segments.condition(session, segment_id)
            except NotFound:
                raise InvalidArgument(
                    f"targeting.segments[{i}]: no such segment", code="invalid-campaign"
                ) from None

    def _load(self, session: Session, campaign_id: str, lock: bool = False) -> Campaign:
        row = repository.campaign(session, parse_id(campaign_id, "campaign"), lock)
        if row is None:
            raise NotFound("no such campaign", code="campaign-not-found")
        return row

    def _shown(self, session: Session, rows: list[Campaign]) -> list[CampaignView]:
        awarded = repository.awarded_points(session, [row.id for row in rows])
        return [self.view(row, awarded.get(row.id, 0)) for row in rows]

    def get(self, campaign_id: str) -> CampaignView:
        with self._db.read() as session:
            return self._shown(session, [self._load(session, campaign_id)])[0]

    def list(self) -> list[CampaignView]:
        with self._db.read() as session:
            return self._shown(session, repository.campaigns(session))

    def count_awards(self) -> int:
        """Counts the awards made since the last pass into their campaigns' awarded points (a
        campaign with a budget counts each as it makes it); returns how many."""
        with self._db.write() as session:
            return repository.count_uncounted_awards(session)

    def delete(self, campaign_id: str) -> None:
        with self._db.write() as session:
            row = self._load(session, campaign_id, lock=True)
            if not deletable(row.state):
                raise Conflict("only a draft can be deleted", code="campaign-not-draft")
            repository.remove(session, row)

    def delete_segment(self, segment_id: str) -> None:
        """Deletes a segment unless a campaign that has not ended or an open draw targets it."""
        with self._db.write() as session:
            segment = repository.segment(session, parse_id(segment_id, "segment"), lock=True)
            if segment is None:
                raise NotFound("no such segment", code="segment-not-found")
            for row in repository.unended_campaigns(session):
                view = self.view(row)
                if view.status != "ended" and segment.id in view.definition.targeting.segments:
                    raise Conflict(f"campaign {row.id} targets this segment", code="segment-in-use")
            for draw_id, stored in repository.open_draw_targetings(session):
                if segment.id in definitions.parse_targeting(json.loads(stored)).segments:
                    raise Conflict(f"draw {draw_id} targets this segment", code="segment-in-use")
            repository.delete_segment(session, segment)

    def transition(self, campaign_id: str, action: str) -> CampaignView:
        """One of TRANSITIONS: launch, pause or end."""
        now = self._clock()
        sources, state = TRANSITIONS[action]
        with self._db.write() as session:
            row = self._load(session, campaign_id, lock=True)
            status = status_of(row.state, self.parse(json.loads(row.definition)), now)
            if status not in sources:
                raise Conflict(
                    f"a campaign that is {status} cannot be {action}ed", code=f"campaign-{status}"
                )
            row.state = state
            if action == "launch" and row.launched_at is None:
                row.launched_at = now
            row.updated_at = now
            view = self._shown(session, [row])[0]
        self._changed()
        return view

    def launched(self, session: Session) -> list[Campaign]:
        """Campaigns that are or will be active: launched and not past their end."""
        return repository.launched_campaigns(session, self._clock())

    def audience(self, session: Session, targeting: Targeting) -> ColumnElement[bool]:
        """Who a targeting (a campaign's, a draw's) reaches, as SQL over the member view
        (stores by where they enrolled)."""
        if targeting.everyone:
            return true()
        c = Member.__table__.c
        condition: ColumnElement[bool] = true()
        if targeting.segments:
            condition = condition & or_(
                *(self.segments.condition(session, s) for s in targeting.segments)
            )
        if targeting.stages:
            condition = condition & c.stage.in_(targeting.stages)
        if targeting.tiers:
            condition = condition & c.tier.in_(targeting.tiers)
        if targeting.stores:
            condition = condition & c.enrolled_store_id.in_(targeting.stores)
        return condition

    def target_group(
        self, session: Session, campaign_id: uuid.UUID, definition: Definition
    ) -> ColumnElement[bool]:
        """The members a campaign reaches: its live audience less its control group."""
        condition = live(self.audience(session, definition.targeting))
        if definition.control_percent:
            condition = condition & ~control_condition(campaign_id, definition.control_percent)
        return condition

    def target_group_for(
        self, session: Session, view: CampaignView, work: str
    ) -> ColumnElement[bool] | None:
        """The campaign's target group, or None when a stored rule cannot be evaluated: that is
        logged, the campaign's `work` is skipped, and no other campaign is held up."""
        try:
            return self.target_group(session, view.id, view.definition)
        except InvalidArgument as error:
            log(
                logger,
                f"{work}: the audience cannot be computed",
                logging.ERROR,
                campaign=str(view.id),
                reason=error.detail,
            )
            return None

    def newly_active(
        self, waiting: list[uuid.UUID], done_column: str
    ) -> Iterator[tuple[Session, Campaign, CampaignView]]:
        """Each of the `waiting` campaigns that is active now and whose `done_column` (when its
        messages or coupons were queued) is still empty, locked in a transaction of its own
        that sets the column once the caller has queued its work: so it is queued once, even
        by two processes at the same moment."""
        for campaign_id in waiting:
            with self._db.write() as session:
                row = repository.campaign(session, campaign_id, lock=True)
                if row is None or getattr(row, done_column) is not None:
                    continue
                view = self.view(row)
                if view.status != "active":
                    continue
                yield session, row, view
                setattr(row, done_column, self._clock())
