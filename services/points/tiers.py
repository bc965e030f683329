"""Tiers: levels members reach by their qualifying spend (purchases less refunds) over a
rolling window. An upgrade applies at once; a tier is kept until its review date, when it
becomes whatever the spend of the last window earns. Pure rules, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from services.runtime.config import ConfigError, Env
from services.runtime.errors import InvalidArgument
from services.runtime.money import to_minor

DEFAULT_TIERS = (
    '[{"name": "member", "min_spend": "0", "multiplier": 1,'
    ' "title": "Member", "title_fa": "عضو"},'
    ' {"name": "silver", "min_spend": "50000000", "multiplier": 1.25,'
    ' "title": "Silver", "title_fa": "نقره‌ای"},'
    ' {"name": "gold", "min_spend": "200000000", "multiplier": 1.5,'
    ' "title": "Gold", "title_fa": "طلایی"}]'
)
MAX_TITLE = 40


@dataclass(frozen=True)
class Tier:
    # What rules, segments and reports name it by; never shown to members as such.
    name: str
    min_spend_minor: int
    multiplier: Decimal
    # What members read: in English (else the name) and in Persian (else the English).
    title: str = ""
    title_fa: str = ""

    @property
    def shown(self) -> tuple[str, str]:
        """(English title, Persian title), each falling back as above."""
        title = self.title or self.name
        return title, self.title_fa or title

    def bonus(self, base_points: int) -> int:
        """Extra points the tier adds to the base, rounded down."""
        return int(base_points * (self.multiplier - 1))


@dataclass(frozen=True)
class TierLadder:
    tiers: tuple[Tier, ...]
    window: timedelta = timedelta(days=365)

    @property
    def lowest(self) -> Tier:
        return self.tiers[0]

    def named(self, name: str) -> Tier:
        return next((tier for tier in self.tiers if tier.name == name), self.lowest)

    def earned_by(self, spend_minor: int) -> Tier:
        return [tier for tier in self.tiers if tier.min_spend_minor <= spend_minor][-1]

    def above(self, tier: Tier) -> Tier | None:
        index = self.tiers.index(tier)
        return self.tiers[index + 1] if index + 1 < len(self.tiers) else None

    def rank(self, tier: Tier) -> int:
        return self.tiers.index(tier)

    @classmethod
    def from_env(cls, env: Env, currency: str) -> TierLadder:
        raw = env.str("POINTS_TIERS", DEFAULT_TIERS)
        try:
            tiers = tuple(
                Tier(
                    name=str(item["name"]),
                    min_spend_minor=to_minor(str(item["min_spend"]), currency, "min_spend"),
                    multiplier=Decimal(str(item.get("multiplier", 1))),
                    title=" ".join(str(item.get("title", "")).split())[:MAX_TITLE],
                    title_fa=" ".join(str(item.get("title_fa", "")).split())[:MAX_TITLE],
                )
                for item in json.loads(raw)
            )
        except (ValueError, KeyError, TypeError, InvalidOperation, InvalidArgument):
            raise ConfigError(
                'POINTS_TIERS must be a JSON list like [{"name": "member", "min_spend": "0",'
                ' "multiplier": 1, "title": "Member", "title_fa": "عضو"}, ...]'
            ) from None
        tiers = tuple(sorted(tiers, key=lambda tier: tier.min_spend_minor))
        if not tiers or tiers[0].min_spend_minor != 0:
            raise ConfigError("POINTS_TIERS needs a first tier with min_spend 0")
        if len({tier.name for tier in tiers}) != len(tiers):
            raise ConfigError("POINTS_TIERS names must differ")
        if any(tier.multiplier < 1 for tier in tiers):
            raise ConfigError("POINTS_TIERS multipliers must be at least 1")
        window = timedelta(days=env.int("POINTS_TIER_WINDOW_DAYS", 365, minimum=1))
        return cls(tiers, window)
