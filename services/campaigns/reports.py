"""What campaigns achieved, and how members are spread over the lifecycle: counted in SQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, literal, select, union
from sqlalchemy.orm import Session

from services.campaigns.campaigns import Campaigns, control_condition
from services.campaigns.lifecycle import STAGES
from services.campaigns.models import Award, Member, MemberPurchase, Message, StageChange
from services.campaigns.segments import live
from services.runtime.db import Database, UtcDateTime, utcnow


@dataclass(frozen=True)
class GroupFigures:
    members: int
    buyers: int
    visits: int
    spend_minor: int

    @property
    def spend_per_member_minor(self) -> int:
        return self.spend_minor // self.members if self.members else 0

    @property
    def visits_per_member(self) -> float:
        return round(self.visits / self.members, 4) if self.members else 0.0


@dataclass(frozen=True)
class CampaignReport:
    campaign_id: str
    status: str
    audience: int
    reached: int
    messages_sent: int
    points_awarded: int
    budget_points: int | None
    window_start: datetime | None
    window_end: datetime
    target: GroupFigures
    control: GroupFigures


@dataclass(frozen=True)
class DissatisfiedMember:
    member_id: str
    first_name: str
    since: datetime | None
    last_rating: int | None


@dataclass(frozen=True)
class StageDay:
    day: date
    stage: str
    # Members who entered the stage that day (UTC).
    entered: int


@dataclass(frozen=True)
class StageOverview:
    counts: dict[str, int]
    dissatisfied: list[DissatisfiedMember]
    days: list[StageDay]


class Reports:
    def __init__(
        self, database: Database, campaigns: Campaigns, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = database
        self._campaigns = campaigns
        self._clock = clock

    def campaign(self, campaign_id: str) -> CampaignReport:
        view = self._campaigns.get(campaign_id)
        definition = view.definition
        now = self._clock()
        start = definition.schedule.starts_at or view.launched_at
        end = min(definition.schedule.ends_at or now, now)
        with self._db.read() as session:
            audience = live(self._campaigns.audience(session, definition))
            groups = self._groups(
                session, view.id, definition.control_percent, audience, start, end
            )
            awarded = select(Award.member_id).where(Award.campaign_id == view.id)
            messaged = select(Message.member_id).where(
                Message.campaign_id == view.id, Message.status == "sent"
            )
            reached = session.execute(
                select(func.count()).select_from(union(awarded, messaged).subquery())
            ).scalar_one()
            sent = session.execute(
                select(func.count()).select_from(messaged.subquery())
            ).scalar_one()
        target = groups.get("target", GroupFigures(0, 0, 0, 0))
        control = groups.get("control", GroupFigures(0, 0, 0, 0))
        return CampaignReport(
            campaign_id=str(view.id),
            status=view.status,
            audience=target.members + control.members,
            reached=int(reached),
            messages_sent=int(sent),
            points_awarded=view.awarded_points,
            budget_points=definition.budget_points,
            window_start=start,
            window_end=end,
            target=target,
            control=control,
        )

    def _groups(self, session: Session, campaign_id, percent, audience, start, end):
        p = MemberPurchase.__table__.c
        window = [p.occurred_at <= literal(end, UtcDateTime())]
        if start is not None:
            window.append(p.occurred_at >= literal(start, UtcDateTime()))
        bought = (
            select(
                p.member_id,
                func.count().label("visits"),
                func.sum(p.amount_minor - p.refunded_minor).label("spend"),
            )
            .where(and_(*window))
            .group_by(p.member_id)
            .subquery()
        )
        m = Member.__table__.c
        group = case((control_condition(campaign_id, percent), "control"), else_="target")
        rows = session.execute(
            select(
                group.label("grp"),
                func.count(),
                func.count(bought.c.member_id),
                func.coalesce(func.sum(bought.c.visits), 0),
                func.coalesce(func.sum(bought.c.spend), 0),
            )
            .select_from(Member)
            .outerjoin(bought, bought.c.member_id == m.member_id)
            .where(audience)
            .group_by(group)
        ).all()
        return {
            row[0]: GroupFigures(int(row[1]), int(row[2]), int(row[3]), int(row[4])) for row in rows
        }

    def stages(self, limit: int = 100, days: int = 30) -> StageOverview:
        m = Member.__table__.c
        c = StageChange.__table__.c
        since = literal(self._clock() - timedelta(days=days), UtcDateTime())
        day = func.date(c.changed_at)
        with self._db.read() as session:
            entered = session.execute(
                select(day, c.to_stage, func.count())
                .where(c.changed_at >= since)
                .group_by(day, c.to_stage)
                .order_by(day, c.to_stage)
            ).all()
            counted = dict(
                session.execute(
                    select(m.stage, func.count()).where(live(literal(True))).group_by(m.stage)
                ).all()
            )
            unhappy = session.execute(
                select(m.member_id, m.first_name, m.stage_since, m.last_rating)
                .where(live(m.stage == "dissatisfied"))
                .order_by(m.stage_since.desc())
                .limit(limit)
            ).all()
        return StageOverview(
            counts={stage: int(counted.get(stage, 0)) for stage in STAGES},
            dissatisfied=[
                DissatisfiedMember(
                    str(r.member_id), r.first_name or "", r.stage_since, r.last_rating
                )
                for r in unhappy
            ],
            days=[
                StageDay(
                    d if isinstance(d, date) else date.fromisoformat(str(d)[:10]), stage, int(n)
                )
                for d, stage, n in entered
            ],
        )
