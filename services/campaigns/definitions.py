"""What a campaign is: its kind and the rules of that kind, who it targets, when it runs, and
what it may send. Parsed and checked once, from the marketer's JSON; bad values are refused
with the path of the culprit (`schedule.hours.from`)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loyalty.campaigns.v1 import campaigns_pb2
from services.campaigns import templates
from services.campaigns.lifecycle import STAGES
from services.runtime.errors import InvalidArgument
from services.runtime.money import to_minor


def _kinds() -> dict[str, tuple[str, ...]]:
    """Each kind and the fields it must give, as the campaigns proto's CampaignKind lists them."""
    return {
        value.name.removeprefix("CAMPAIGN_KIND_").lower(): tuple(
            value.GetOptions().Extensions[campaigns_pb2.kind_fields]
        )
        for value in campaigns_pb2.CampaignKind.DESCRIPTOR.values
        if value.number
    }


KIND_FIELDS = _kinds()
KINDS = tuple(KIND_FIELDS)
MAX_POINTS = 10**9
# Each segment's rule is bounded (rules.MAX_VALUES); so many of them OR-ed into one audience
# still fit in one SQL statement.
MAX_SEGMENTS = 10


def _bad(path: str, detail: str) -> InvalidArgument:
    return InvalidArgument(f"{path}: {detail}", code="invalid-campaign")


@dataclass(frozen=True)
class Targeting:
    everyone: bool = True
    segments: tuple[uuid.UUID, ...] = ()
    stages: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()

    def shown(self) -> dict[str, Any]:
        """As a marketer writes it: `everyone: true`, or the lists that narrow it."""
        if self.everyone:
            return {"everyone": True}
        named = {
            "segments": [str(s) for s in self.segments],
            "stages": list(self.stages),
            "tiers": list(self.tiers),
            "stores": list(self.stores),
        }
        return {key: values for key, values in named.items() if values}


@dataclass(frozen=True)
class Schedule:
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    days_of_week: tuple[int, ...] = ()
    hours: tuple[time, time] | None = None
    timezone: str = "UTC"

    def allows(self, moment: datetime) -> bool:
        if self.starts_at and moment < self.starts_at:
            return False
        if self.ends_at and moment >= self.ends_at:
            return False
        local = moment.astimezone(ZoneInfo(self.timezone))
        if self.days_of_week and local.isoweekday() not in self.days_of_week:
            return False
        if self.hours:
            start, end = self.hours
            now = local.time()
            inside = start <= now < end if start <= end else (now >= start or now < end)
            if not inside:
                return False
        return True


@dataclass(frozen=True)
class Offer:
    title: str
    description: str = ""
    code: str = ""

    def shown(self) -> str:
        """The offer as a message's `{offer}` shows it."""
        return f"{self.title} ({self.code})" if self.code else self.title


@dataclass(frozen=True)
class CouponTerms:
    """What a coupon campaign's coupon gives: `percent` (1-100) or `amount` off a purchase."""

    type: str
    # A percent ("20"), or an amount in minor units.
    value: Decimal
    max_discount_minor: int = 0
    min_purchase_minor: int = 0
    valid_days: int = 30


MISSION_METRICS = (
    "purchases",
    "spend",
    "category_purchases",
    "feedback",
    "referrals",
    "profile_complete",
)
MISSION_PERIODS = ("once", "week", "month")


@dataclass(frozen=True)
class MessagePlan:
    channel: str
    template: str


@dataclass(frozen=True)
class Mission:
    """A mission's goal: `target` of `metric` (spend in minor units) within each `period`,
    rewarded with points, a catalog reward of points' (`reward_id`), or both, and perhaps
    congratulated with a message."""

    metric: str
    target: int
    period: str
    reward_points: int
    category: str = ""
    reward_id: str = ""
    congratulate: MessagePlan | None = None


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str
    multiplier: Decimal = Decimal(1)
    points: int = 0
    categories: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    min_spend_minor: int = 0
    offer: Offer | None = None
    targeting: Targeting = field(default_factory=Targeting)
    schedule: Schedule = field(default_factory=Schedule)
    budget_points: int | None = None
    per_member_limit: int | None = None
    priority: int = 0
    stackable: bool = True
    control_percent: int = 0
    message: MessagePlan | None = None
    coupon: CouponTerms | None = None
    mission: Mission | None = None


def _text(value: Any, path: str, limit: int = 200, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise _bad(path, f"must be text of 1 to {limit} characters")
    return value.strip()


def _int(value: Any, path: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(path, f"must be a whole number from {low} to {high}")
    return value


def _moment(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _bad(path, "must be an ISO 8601 date-time with its offset") from None
    if moment.tzinfo is None:
        raise _bad(path, "must carry its UTC offset, e.g. 2026-12-01T00:00:00+03:30")
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise _bad(path, "is beyond the last moment a date can hold") from None
    return moment


def _clock(value: Any, path: str) -> time:
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise _bad(path, "must be HH:MM")
    return time.fromisoformat(value)


def _names(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 1000:
        raise _bad(path, "must be a list of at most 1000 names")
    return tuple(_text(v, f"{path}[{i}]", 100) for i, v in enumerate(value))


def parse_targeting(value: Any) -> Targeting:
    """Who is reached: `everyone: true`, or segments, stages, tiers and stores that must all
    match; absent means everyone."""
    if value is None:
        return Targeting()
    if not isinstance(value, dict):
        raise _bad("targeting", "must be an object")
    unknown = set(value) - {"everyone", "segments", "stages", "tiers", "stores"}
    if unknown:
        raise _bad(f"targeting.{sorted(unknown)[0]}", "unknown field")
    segments = []
    for i, item in enumerate(value.get("segments") or []):
        try:
            segments.append(uuid.UUID(str(item)))
        except ValueError:
            raise _bad(f"targeting.segments[{i}]", "is not a segment id") from None
    stages = _names(value.get("stages"), "targeting.stages")
    for i, stage in enumerate(stages):
        if stage not in STAGES:
            raise _bad(f"targeting.stages[{i}]", f"unknown stage; one of {', '.join(STAGES)}")
    targeting = Targeting(
        everyone=bool(value.get("everyone", False)),
        segments=tuple(segments),
        stages=stages,
        tiers=_names(value.get("tiers"), "targeting.tiers"),
        stores=_names(value.get("stores"), "targeting.stores"),
    )
    narrowed = targeting.segments or targeting.stages or targeting.tiers or targeting.stores
    if targeting.everyone and narrowed:
        raise _bad("targeting.everyone", "cannot be combined with segments, stages, tiers, stores")
    if not targeting.everyone and not narrowed:
        raise _bad("targeting", "say everyone: true, or name segments, stages, tiers or stores")
    return targeting


def check_new_targeting(targeting: Targeting) -> None:
    """What a targeting being saved must also pass."""
    if len(targeting.segments) > MAX_SEGMENTS:
        raise _bad("targeting.segments", f"at most {MAX_SEGMENTS} segments")


def _schedule(value: Any, default_zone: str) -> Schedule:
    if value is None:
        return Schedule(timezone=default_zone)
    if not isinstance(value, dict):
        raise _bad("schedule", "must be an object")
    unknown = set(value) - {"starts_at", "ends_at", "days_of_week", "hours", "timezone"}
    if unknown:
        raise _bad(f"schedule.{sorted(unknown)[0]}", "unknown field")
    zone = value.get("timezone") or default_zone
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad("schedule.timezone", f"unknown time zone {zone!r}") from None
    days = value.get("days_of_week") or []
    if not isinstance(days, list):
        raise _bad("schedule.days_of_week", "must be a list of 1 (Monday) to 7 (Sunday)")
    hours = value.get("hours")
    span = None
    if hours is not None:
        if not isinstance(hours, dict) or set(hours) != {"from", "to"}:
            raise _bad("schedule.hours", 'must be {"from": "HH:MM", "to": "HH:MM"}')
        span = (
            _clock(hours["from"], "schedule.hours.from"),
            _clock(hours["to"], "schedule.hours.to"),
        )
    schedule = Schedule(
        starts_at=_moment(value.get("starts_at"), "schedule.starts_at"),
        ends_at=_moment(value.get("ends_at"), "schedule.ends_at"),
        days_of_week=tuple(
            _int(d, f"schedule.days_of_week[{i}]", 1, 7) for i, d in enumerate(days)
        ),
        hours=span,
        timezone=str(zone),
    )
    if schedule.starts_at and schedule.ends_at and schedule.ends_at <= schedule.starts_at:
        raise _bad("schedule.ends_at", "must be after starts_at")
    return schedule


def _minor(value: Any, currency: str, path: str, required: bool = False) -> int:
    if value is None and not required:
        return 0
    try:
        return to_minor(value, currency, path)
    except InvalidArgument as error:
        raise _bad(path, error.detail) from None


def _coupon(value: Any, currency: str) -> CouponTerms | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad("coupon", "must be an object")
    unknown = set(value) - {"type", "value", "max_discount", "min_purchase", "valid_days"}
    if unknown:
        raise _bad(f"coupon.{sorted(unknown)[0]}", "unknown field")
    kind = value.get("type")
    if kind == "percent":
        try:
            amount = Decimal(str(value.get("value")))
        except InvalidOperation:
            raise _bad("coupon.value", "must be a percent such as 20") from None
        if not Decimal(0) < amount <= Decimal(100):
            raise _bad("coupon.value", "must be more than 0 and at most 100")
    elif kind == "amount":
        amount = Decimal(_minor(value.get("value"), currency, "coupon.value", required=True))
        if amount <= 0:
            raise _bad("coupon.value", "must be more than 0")
    else:
        raise _bad("coupon.type", "must be amount or percent")
    return CouponTerms(
        type=kind,
        value=amount,
        max_discount_minor=_minor(value.get("max_discount"), currency, "coupon.max_discount"),
        min_purchase_minor=_minor(value.get("min_purchase"), currency, "coupon.min_purchase"),
        valid_days=_int(value.get("valid_days", 30), "coupon.valid_days", 1, 3650),
    )


def _mission(body: dict[str, Any], currency: str) -> Mission:
    goal = body.get("goal")
    if not isinstance(goal, dict):
        raise _bad("goal", "a mission needs its goal: {metric, target, category?}")
    unknown = set(goal) - {"metric", "target", "category"}
    if unknown:
        raise _bad(f"goal.{sorted(unknown)[0]}", "unknown field")
    metric = goal.get("metric")
    if metric not in MISSION_METRICS:
        raise _bad("goal.metric", f"must be one of {', '.join(MISSION_METRICS)}")
    if metric == "spend":
        target = _minor(goal.get("target"), currency, "goal.target", required=True)
        if not 0 < target <= 10**15:
            raise _bad("goal.target", "must be more than 0")
    elif metric == "profile_complete":
        target = _int(goal.get("target", 1), "goal.target", 1, 1)
    else:
        target = _int(goal.get("target"), "goal.target", 1, 10**6)
    category = ""
    if metric == "category_purchases":
        category = _text(goal.get("category"), "goal.category", 100).lower()
    elif goal.get("category") is not None:
        raise _bad("goal.category", "only a category_purchases goal names a category")
    period = body.get("period")
    if period not in MISSION_PERIODS:
        raise _bad("period", f"must be one of {', '.join(MISSION_PERIODS)}")
    reward_id = ""
    if body.get("reward_id") is not None:
        reward_id = _text(body.get("reward_id"), "reward_id", 36)
        try:
            reward_id = str(uuid.UUID(reward_id))
        except ValueError:
            raise _bad("reward_id", "must be the id of a reward of the catalog") from None
    points = body.get("reward_points")
    if points is None and not reward_id:
        raise _bad("reward_points", "a mission gives reward_points, a reward_id, or both")
    return Mission(
        metric=metric,
        target=target,
        period=period,
        reward_points=0 if points is None else _int(points, "reward_points", 1, MAX_POINTS),
        category=category,
        reward_id=reward_id,
        congratulate=_message(body.get("congratulate"), "congratulate"),
    )


def _message(value: Any, path: str = "message") -> MessagePlan | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(path, "must be an object")
    channel = value.get("channel")
    if channel not in ("sms", "email"):
        raise _bad(f"{path}.channel", "must be sms or email")
    template = _text(value.get("template"), f"{path}.template", templates.MAX_BODY)
    return MessagePlan(channel=channel, template=template)


def parse(body: Any, currency: str, default_zone: str) -> Definition:
    """A checked Definition from the marketer's JSON object."""
    if not isinstance(body, dict):
        raise _bad("campaign", "must be an object")
    kind = body.get("kind")
    if kind not in KINDS:
        raise _bad("kind", f"must be one of {', '.join(KINDS)}")
    fields = KIND_FIELDS[kind]
    multiplier = Decimal(1)
    if "multiplier" in fields:
        try:
            multiplier = Decimal(str(body.get("multiplier")))
        except InvalidOperation:
            raise _bad("multiplier", "must be a number such as 2 or 1.5") from None
        if not (Decimal(1) < multiplier <= Decimal(100)):
            raise _bad("multiplier", "must be more than 1 and at most 100")
    points = 0
    if "points" in fields:
        points = _int(body.get("points"), "points", 1, MAX_POINTS)
    min_spend = 0
    if "min_spend" in fields:
        min_spend = _minor(body.get("min_spend"), currency, "min_spend", required=True)
    categories = tuple(c.lower() for c in _names(body.get("categories"), "categories"))
    skus = _names(body.get("skus"), "skus")
    if "categories" in fields and not (categories or skus):
        raise _bad("categories", "a category bonus names categories or skus")
    offer = None
    if body.get("offer") is not None:
        raw = body["offer"]
        if not isinstance(raw, dict):
            raise _bad("offer", "must be an object")
        offer = Offer(
            title=_text(raw.get("title"), "offer.title"),
            description=_text(raw.get("description"), "offer.description", 1000, False),
            code=_text(raw.get("code"), "offer.code", 50, False),
        )
    if "offer" in fields and offer is None:
        raise _bad("offer", "an offer campaign needs its offer: {title, description?, code?}")
    coupon = _coupon(body.get("coupon"), currency) if "coupon" in fields else None
    if "coupon" in fields and coupon is None:
        raise _bad("coupon", "a coupon campaign needs its coupon: {type, value, valid_days?, …}")
    mission = _mission(body, currency) if "goal" in fields else None
    budget = body.get("budget_points")
    limit = body.get("per_member_limit")
    return Definition(
        name=_text(body.get("name"), "name"),
        kind=kind,
        multiplier=multiplier,
        points=points,
        categories=categories,
        skus=skus,
        min_spend_minor=min_spend,
        offer=offer,
        targeting=parse_targeting(body.get("targeting")),
        schedule=_schedule(body.get("schedule"), default_zone),
        budget_points=None if budget is None else _int(budget, "budget_points", 1, 10**12),
        per_member_limit=None if limit is None else _int(limit, "per_member_limit", 1, 10**6),
        priority=_int(body.get("priority", 0), "priority", -1000, 1000),
        stackable=_flag(body.get("stackable", True), "stackable"),
        control_percent=_int(body.get("control_percent", 0), "control_percent", 0, 50),
        message=_message(body.get("message")),
        coupon=coupon,
        mission=mission,
    )


def check_new(definition: Definition) -> None:
    """What a definition being saved must also pass. A campaign stored before these checks
    still loads; where it is used, what it cannot do is skipped and logged."""
    check_new_targeting(definition.targeting)
    offer = definition.offer.shown() if definition.offer else ""
    if definition.message is not None:
        templates.check(definition.message.template, offer, "message.template")
    mission = definition.mission
    if mission is not None and mission.congratulate is not None:
        templates.check(mission.congratulate.template, offer, "congratulate.template")


def _flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(path, "must be true or false")
    return value
