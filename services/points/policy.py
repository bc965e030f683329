"""The program's points rules, read once from the environment. Pure: no I/O, no clock.

Earning: `POINTS_EARN_POINTS` per full `POINTS_EARN_PER` of the amount, rounded down, with
per-category and per-SKU rate multipliers (0 excludes an item). Lots stay pending for
`POINTS_PENDING_DAYS`, then are spendable until they expire under `POINTS_EXPIRY`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from services.points.tiers import Tier, TierLadder
from services.runtime.config import ConfigError, Env
from services.runtime.errors import InvalidArgument
from services.runtime.money import to_minor


@dataclass(frozen=True)
class Line:
    """A purchase line as the rules see it: what it cost and what it is."""

    sku: str
    category: str
    total_minor: int


@dataclass(frozen=True)
class Expiry:
    """When a lot earned at a given time expires: never, N days later, or at a year's end."""

    mode: str = "never"  # never | days | year-end
    count: int = 0

    def expires_at(self, earned_at: datetime) -> datetime | None:
        if self.mode == "days":
            return earned_at + timedelta(days=self.count)
        if self.mode == "year-end":
            return datetime(earned_at.year + self.count + 1, 1, 1, tzinfo=UTC)
        return None

    @classmethod
    def parse(cls, text: str) -> Expiry:
        """`never`, `days:365` or `year-end:1` (the end of the year after the one earned in)."""
        if text in ("", "never"):
            return cls()
        match = re.fullmatch(r"(days|year-end):(\d{1,5})", text)
        if not match or (match[1] == "days" and int(match[2]) == 0):
            raise ConfigError(
                f"POINTS_EXPIRY must be never, days:N (N > 0) or year-end:N, got {text!r}"
            )
        return cls(match[1], int(match[2]))


def _rates(env: Env, name: str) -> dict[str, Decimal]:
    raw = env.str(name)
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        rates = {str(key): Decimal(str(value)) for key, value in data.items()}
    except (ValueError, AttributeError, InvalidOperation):
        raise ConfigError(f'{name} must be a JSON object such as {{"dairy": 2}}') from None
    if any(rate < 0 for rate in rates.values()):
        raise ConfigError(f"{name} rates must not be negative")
    return rates


@dataclass(frozen=True)
class PointsPolicy:
    currency: str
    points: int = 1
    per_minor: int = 1_000_000
    minimum_minor: int = 0
    label: str = "base rate"
    category_rates: dict[str, Decimal] = field(default_factory=dict)
    sku_rates: dict[str, Decimal] = field(default_factory=dict)
    pending: timedelta = timedelta(0)
    expiry: Expiry = Expiry()
    hold_for: timedelta = timedelta(minutes=15)
    # What one point is worth to the club, in minor units, for the liability report.
    point_value_minor: int = 0
    ladder: TierLadder = field(default_factory=lambda: TierLadder((Tier("member", 0, Decimal(1)),)))

    def base_points(self, amount_minor: int, lines: tuple[Line, ...] = ()) -> int:
        """Points the program itself gives for a purchase of `amount_minor`.

        With lines and rates, the amount is weighted by each line's rate (a SKU rate wins over
        its category's); lines are scaled to the amount paid, so discounts count in proportion.
        """
        if amount_minor < self.minimum_minor:
            return 0
        weighted = Decimal(amount_minor)
        line_total = sum(line.total_minor for line in lines)
        if line_total > 0 and (self.category_rates or self.sku_rates):
            rated = sum(Decimal(line.total_minor) * self.rate_of(line) for line in lines)
            weighted = Decimal(amount_minor) * rated / line_total
        return int(weighted * self.points // self.per_minor)

    def rate_of(self, line: Line) -> Decimal:
        if line.sku in self.sku_rates:
            return self.sku_rates[line.sku]
        return self.category_rates.get(line.category, Decimal(1))

    @classmethod
    def from_env(cls, env: Env) -> PointsPolicy:
        currency = env.currency("LOYALTY_CURRENCY", "IRR")
        points = env.int("POINTS_EARN_POINTS", 1, minimum=0)
        per = env.str("POINTS_EARN_PER", "10000")
        try:
            per_minor = to_minor(per, currency)
            minimum = to_minor(env.str("POINTS_MIN_PURCHASE", "0"), currency)
            point_value = to_minor(env.str("POINTS_VALUE", "100"), currency, "POINTS_VALUE")
        except InvalidArgument as error:
            raise ConfigError(
                f"POINTS_EARN_PER / POINTS_MIN_PURCHASE / POINTS_VALUE: {error.detail}"
            ) from None
        if per_minor <= 0:
            raise ConfigError("POINTS_EARN_PER must be more than zero")
        unit = "point" if points == 1 else "points"
        return cls(
            currency=currency,
            points=points,
            per_minor=per_minor,
            minimum_minor=minimum,
            label=f"{points} {unit} per {per} {currency}",
            category_rates=_rates(env, "POINTS_CATEGORY_RATES"),
            sku_rates=_rates(env, "POINTS_SKU_RATES"),
            pending=timedelta(days=env.int("POINTS_PENDING_DAYS", 0, minimum=0)),
            expiry=Expiry.parse(env.str("POINTS_EXPIRY", "never")),
            hold_for=timedelta(minutes=env.int("POINTS_HOLD_MINUTES", 15, minimum=1)),
            ladder=TierLadder.from_env(env, currency),
            point_value_minor=point_value,
        )
