"""The rewards catalog: what members may spend their points on, who may see each reward, and
the partner-code pools behind partner rewards. Marketers create, edit, restock and pause
rewards; staff see each one's figures; a member sees the active rewards shown to them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from services.points import repository
from services.points.coupon_codes import normalise
from services.points.coupon_terms import Terms, checked
from services.points.members import Members
from services.points.models import Reward
from services.points.policy import PointsPolicy
from services.runtime.db import Database, utcnow
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from services.runtime.ids import parse_id
from services.runtime.points_limits import MAX_POINTS

COUPON = "coupon"
PARTNER_CODE = "partner_code"
GIFT = "gift"
KINDS = (COUPON, PARTNER_CODE, GIFT)
STATUSES = ("active", "paused")
MAX_VALID_DAYS = 3650
MAX_AUDIENCES = 50
MAX_CODES = 100_000
MAX_CODE_LENGTH = 200


class Audiences(Protocol):
    def match(
        self, member_id: uuid.UUID, segment_ids: set[str], stages: set[str]
    ) -> tuple[set[str], set[str]]:
        """Of these segments and stages, those the member is in. Raises Unavailable."""


@dataclass(frozen=True)
class Visibility:
    """Empty everywhere: every member; else a member in any one of them."""

    tiers: tuple[str, ...] = ()
    segment_ids: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {"tiers": self.tiers, "segment_ids": self.segment_ids, "stages": self.stages}
        )

    @classmethod
    def from_json(cls, text: str) -> Visibility:
        data = json.loads(text or "{}")
        return cls(*(tuple(data.get(name, ())) for name in ("tiers", "segment_ids", "stages")))

    @property
    def everyone(self) -> bool:
        return not (self.tiers or self.segment_ids or self.stages)


@dataclass(frozen=True)
class RewardSpec:
    """A reward as a marketer describes it."""

    kind: str
    name: str
    points_cost: int
    description: str = ""
    name_fa: str = ""
    description_fa: str = ""
    stock: int | None = None
    per_member_limit: int = 0
    valid_days: int = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    visibility: Visibility = field(default_factory=Visibility)
    terms: Terms | None = None
    status: str = "active"
    refund_on_cancel: bool = False


@dataclass(frozen=True)
class Figures:
    issued: int
    used: int
    expired: int
    cancelled: int
    points_spent: int
    codes_left: int


@dataclass(frozen=True)
class RewardView:
    id: str
    spec: RewardSpec
    created_at: datetime
    # Staff listings only.
    figures: Figures | None = None
    # A member's listing only: how many more times they may redeem it (None: no limit).
    remaining: int | None = None


def spec_of(reward: Reward) -> RewardSpec:
    return RewardSpec(
        kind=reward.kind,
        name=reward.name,
        points_cost=reward.points_cost,
        description=reward.description,
        name_fa=reward.name_fa,
        description_fa=reward.description_fa,
        stock=reward.stock,
        per_member_limit=reward.per_member_limit,
        valid_days=reward.valid_days,
        starts_at=reward.starts_at,
        ends_at=reward.ends_at,
        visibility=Visibility.from_json(reward.visibility),
        terms=Terms.from_json(reward.terms),
        status=reward.status,
        refund_on_cancel=reward.refund_on_cancel,
    )


def reward_id_of(reward_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(reward_id)
    except ValueError:
        raise NotFound("no reward with this id", code="reward-not-found") from None


def load(session: Session, reward_id: uuid.UUID, lock: bool = False) -> Reward:
    reward = repository.reward(session, reward_id, lock)
    if reward is None:
        raise NotFound("no reward with this id", code="reward-not-found")
    return reward


def is_active(reward: Reward, now: datetime) -> bool:
    return (
        reward.status == "active"
        and (reward.starts_at is None or reward.starts_at <= now)
        and (reward.ends_at is None or reward.ends_at > now)
    )


class Catalog:
    def __init__(
        self,
        database: Database,
        policy: PointsPolicy,
        members: Members,
        audiences: Audiences,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._policy = policy
        self._members = members
        self._audiences = audiences
        self._clock = clock

    def create(self, spec: RewardSpec, actor: str) -> RewardView:
        spec = self._checked(spec)
        now = self._clock()
        reward = Reward(
            kind=spec.kind,
            created_by=actor[:100],
            created_at=now,
            updated_at=now,
            **_columns(spec),
        )
        with self._db.write() as session:
            repository.add(session, reward)
            return self._staff_view(session, reward, now)

    def update(self, reward_id: str, changes: dict[str, Any]) -> RewardView:
        """Changes the fields named in `changes` (as RewardSpec names them); the kind stays."""
        parsed = reward_id_of(reward_id)
        now = self._clock()
        with self._db.write() as session:
            reward = load(session, parsed, lock=True)
            spec = self._checked(replace(spec_of(reward), **changes))
            for name, value in _columns(spec).items():
                setattr(reward, name, value)
            reward.updated_at = now
            session.flush()
            return self._staff_view(session, reward, now)

    def staff_list(self) -> list[RewardView]:
        """Every reward, newest first, with its figures."""
        now = self._clock()
        with self._db.read() as session:
            rewards = repository.rewards(session)
            figures = repository.coupon_figures(session, now)
            codes = repository.free_partner_codes(session)
        return [
            _view(reward, figures.get(reward.id, {}), codes.get(reward.id, 0)) for reward in rewards
        ]

    def member_list(self, member_id: str) -> list[RewardView]:
        """The active rewards the member may see, with how many more times they may redeem
        each."""
        owner = self._members.owner(parse_id(member_id, "member"))
        now = self._clock()
        with self._db.read() as session:
            rewards = repository.rewards(session, active_at=now)
            tier = repository.member_tier(session, owner)
            counts = repository.member_coupon_counts(session, owner)
        visible = self._visible(owner, tier, rewards)
        return [
            RewardView(
                id=str(reward.id),
                spec=spec_of(reward),
                created_at=reward.created_at,
                remaining=(
                    max(reward.per_member_limit - counts.get(reward.id, 0), 0)
                    if reward.per_member_limit
                    else None
                ),
            )
            for reward in rewards
            if reward.id in visible
        ]

    def check_visible(self, member_id: uuid.UUID, reward: Reward) -> None:
        """Refused with reward-not-found when the member may not see the reward."""
        with self._db.read() as session:
            tier = repository.member_tier(session, member_id)
        if reward.id not in self._visible(member_id, tier, [reward]):
            raise NotFound("no reward with this id", code="reward-not-found")

    def _visible(
        self, member_id: uuid.UUID, tier: str | None, rewards: list[Reward]
    ) -> set[uuid.UUID]:
        tier = tier or self._policy.ladder.lowest.name
        shown = {reward.id: Visibility.from_json(reward.visibility) for reward in rewards}
        segments = {s for v in shown.values() for s in v.segment_ids}
        stages = {s for v in shown.values() for s in v.stages}
        if segments or stages:
            segments, stages = self._audiences.match(member_id, segments, stages)
        return {
            reward_id
            for reward_id, v in shown.items()
            if v.everyone
            or tier in v.tiers
            or segments.intersection(v.segment_ids)
            or stages.intersection(v.stages)
        }

    def add_codes(self, reward_id: str, codes: list[str]) -> tuple[int, list[str]]:
        """Adds partner codes to the reward's pool. Returns how many were added and the codes
        refused: repeated within the upload or already in the pool."""
        parsed = reward_id_of(reward_id)
        if not codes or len(codes) > MAX_CODES:
            raise InvalidArgument(f"send 1 to {MAX_CODES} codes", code="invalid-codes")
        # By key (however it is typed), the code as the partner wrote it.
        cleaned: dict[str, str] = {}
        duplicates: list[str] = []
        for typed in codes:
            code, key = typed.strip(), normalise(typed)
            if not key or len(code) > MAX_CODE_LENGTH:
                raise InvalidArgument(
                    f"a code is 1 to {MAX_CODE_LENGTH} characters", code="invalid-codes"
                )
            if key in cleaned:
                duplicates.append(code)
            else:
                cleaned[key] = code
        with self._db.write() as session:
            reward = load(session, parsed, lock=True)
            if reward.kind != PARTNER_CODE:
                raise FailedPrecondition(
                    "only a partner-code reward has a pool of codes", code="not-partner-reward"
                )
            existing = repository.add_partner_codes(session, parsed, cleaned)
        duplicates.extend(code for key, code in cleaned.items() if key in existing)
        return len(cleaned) - len(existing), duplicates

    def _staff_view(self, session: Session, reward: Reward, now: datetime) -> RewardView:
        figures = repository.coupon_figures(session, now).get(reward.id, {})
        codes = repository.free_partner_codes(session).get(reward.id, 0)
        return _view(reward, figures, codes)

    def _checked(self, spec: RewardSpec) -> RewardSpec:
        if spec.kind not in KINDS:
            raise InvalidArgument(f"kind must be one of {', '.join(KINDS)}", code="invalid-kind")
        if not spec.name.strip() or len(spec.name) > 200 or len(spec.name_fa) > 200:
            raise InvalidArgument("name must be 1 to 200 characters", code="invalid-name")
        if len(spec.description) > 2000 or len(spec.description_fa) > 2000:
            raise InvalidArgument(
                "a description is at most 2000 characters", code="invalid-description"
            )
        if not 0 < spec.points_cost <= MAX_POINTS:
            raise InvalidArgument(
                f"points_cost must be 1 to {MAX_POINTS}", code="invalid-points-cost"
            )
        if spec.stock is not None and not 0 <= spec.stock <= MAX_POINTS:
            raise InvalidArgument("stock cannot be negative", code="invalid-stock")
        if not 0 <= spec.per_member_limit <= 1_000_000:
            raise InvalidArgument(
                "per_member_limit must be 0 (none) or more", code="invalid-per-member-limit"
            )
        if not 0 <= spec.valid_days <= MAX_VALID_DAYS:
            raise InvalidArgument(
                f"valid_days must be 0 (no expiry) to {MAX_VALID_DAYS}", code="invalid-valid-days"
            )
        if spec.starts_at and spec.ends_at and spec.ends_at <= spec.starts_at:
            raise InvalidArgument("ends_at must be after starts_at", code="invalid-window")
        if spec.status not in STATUSES:
            raise InvalidArgument('status must be "active" or "paused"', code="invalid-status")
        self._check_visibility(spec.visibility)
        if spec.kind == COUPON:
            if spec.terms is None:
                raise InvalidArgument("a coupon reward needs its coupon", code="invalid-coupon")
            return replace(spec, terms=checked(spec.terms))
        if spec.terms is not None:
            raise InvalidArgument(
                "only a coupon reward has a coupon discount", code="invalid-coupon"
            )
        return spec

    def _check_visibility(self, visibility: Visibility) -> None:
        tiers = {tier.name for tier in self._policy.ladder.tiers}
        unknown = set(visibility.tiers) - tiers
        if unknown:
            raise InvalidArgument(
                f"no tier named {sorted(unknown)[0]!r}", code="invalid-visibility"
            )
        lists = (visibility.tiers, visibility.segment_ids, visibility.stages)
        if any(len(names) > MAX_AUDIENCES for names in lists):
            raise InvalidArgument(
                f"at most {MAX_AUDIENCES} tiers, segments or stages", code="invalid-visibility"
            )
        if any(not name or len(name) > 100 for names in lists for name in names):
            raise InvalidArgument(
                "a tier, segment or stage is 1 to 100 characters", code="invalid-visibility"
            )


def _columns(spec: RewardSpec) -> dict[str, Any]:
    """The reward's columns a marketer sets (all but its kind)."""
    return {
        "name": spec.name.strip(),
        "description": spec.description,
        "name_fa": spec.name_fa,
        "description_fa": spec.description_fa,
        "points_cost": spec.points_cost,
        "stock": spec.stock,
        "per_member_limit": spec.per_member_limit,
        "valid_days": spec.valid_days,
        "starts_at": spec.starts_at,
        "ends_at": spec.ends_at,
        "visibility": spec.visibility.to_json(),
        "terms": spec.terms.to_json() if spec.terms else "",
        "status": spec.status,
        "refund_on_cancel": spec.refund_on_cancel,
    }


def _view(reward: Reward, figures: dict[str, int], codes_left: int) -> RewardView:
    return RewardView(
        id=str(reward.id),
        spec=spec_of(reward),
        created_at=reward.created_at,
        figures=Figures(
            issued=sum(figures.get(s, 0) for s in ("issued", "used", "expired", "cancelled")),
            used=figures.get("used", 0),
            expired=figures.get("expired", 0),
            cancelled=figures.get("cancelled", 0),
            points_spent=figures.get("points_spent", 0),
            codes_left=codes_left,
        ),
    )
