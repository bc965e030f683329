"""What campaigns achieved, and how members are spread over the lifecycle: counted in SQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case

from services.campaigns import repository
from services.campaigns.campaigns import Campaigns, control_condition
from services.campaigns.lifecycle import STAGES
from services.campaigns.repository import live
from services.runtime.db import Database, utcnow
from services.runtime.errors import InvalidArgument


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
    coupons_issued: int = 0
    coupons_used: int = 0
    missions_started: int = 0
    missions_completed: int = 0
    mission_points_paid: int = 0


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


# The stages the dashboard follows members into, week by week.
WATCHED_STAGES = ("customer", "loyal", "dissatisfied", "lapsed")
MAX_WEEKS = 53


@dataclass(frozen=True)
class ClubWeek:
    starts_at: datetime
    new_members: int
    # Members who entered each of WATCHED_STAGES that week.
    entered: dict[str, int]


@dataclass(frozen=True)
class ClubFigures:
    members: int
    active_30_days: int
    active_90_days: int
    buyers: int
    repeat_buyers: int
    visits: int
    spend_minor: int
    weeks: list[ClubWeek]


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
            audience = live(self._campaigns.audience(session, definition.targeting))
            group = case(
                (control_condition(view.id, definition.control_percent), "control"),
                else_="target",
            )
            groups = {
                row[0]: GroupFigures(int(row[1]), int(row[2]), int(row[3]), int(row[4]))
                for row in repository.group_figures(session, group, audience, start, end)
            }
            reached, sent = repository.reach(session, view.id)
            issued, used = repository.coupon_counts(session, view.id)
            started, completed, paid = repository.mission_counts(session, view.id)
        target = groups.get("target", GroupFigures(0, 0, 0, 0))
        control = groups.get("control", GroupFigures(0, 0, 0, 0))
        return CampaignReport(
            campaign_id=str(view.id),
            status=view.status,
            audience=target.members + control.members,
            reached=reached,
            messages_sent=sent,
            points_awarded=view.awarded_points,
            budget_points=definition.budget_points,
            window_start=start,
            window_end=end,
            target=target,
            control=control,
            coupons_issued=issued,
            coupons_used=used,
            missions_started=started,
            missions_completed=completed,
            mission_points_paid=paid,
        )

    def club(self, first_week_starts_at: datetime, weeks: int) -> ClubFigures:
        """The club at a glance, with `weeks` weeks of 7 days from `first_week_starts_at`."""
        if not 1 <= weeks <= MAX_WEEKS:
            raise InvalidArgument(f"weeks must be 1 to {MAX_WEEKS}", code="invalid-period")
        starts = [first_week_starts_at + timedelta(days=7 * n) for n in range(weeks)]
        with self._db.read() as session:
            totals = repository.club_totals(session, self._clock(), starts)
            entered = repository.stage_entries_by_week(session, WATCHED_STAGES, starts)
        return ClubFigures(
            members=int(totals.members),
            active_30_days=int(totals.active_30),
            active_90_days=int(totals.active_90),
            buyers=int(totals.buyers),
            repeat_buyers=int(totals.repeat_buyers),
            visits=int(totals.visits),
            spend_minor=int(totals.spend),
            weeks=[
                ClubWeek(
                    starts_at=start,
                    new_members=int(getattr(totals, f"new_{n}")),
                    entered={stage: entered[stage][n] for stage in WATCHED_STAGES},
                )
                for n, start in enumerate(starts)
            ],
        )

    def stages(self, limit: int = 100, days: int = 30) -> StageOverview:
        since = self._clock() - timedelta(days=days)
        with self._db.read() as session:
            entered = repository.stage_entries(session, since)
            counted = repository.stage_counts(session)
            unhappy = repository.dissatisfied_members(session, limit)
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
