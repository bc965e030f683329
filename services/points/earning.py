"""The program's base earning rule. Pure arithmetic on minor units; no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from services.runtime.config import ConfigError, Env
from services.runtime.errors import InvalidArgument
from services.runtime.money import to_minor


@dataclass(frozen=True)
class EarningRule:
    """`points` for every full `per_minor` of the purchase amount, rounded down."""

    points: int
    per_minor: int
    minimum_minor: int = 0
    # How the rule reads in a purchase's breakdown, e.g. "1 point per 10000 IRR".
    label: str = "base rate"

    def base_points(self, amount_minor: int) -> int:
        if amount_minor < self.minimum_minor:
            return 0
        return amount_minor * self.points // self.per_minor

    @classmethod
    def from_env(cls, env: Env, currency: str) -> EarningRule:
        points = env.int("POINTS_EARN_POINTS", 1, minimum=0)
        per = env.str("POINTS_EARN_PER", "10000")
        try:
            per_minor = to_minor(per, currency)
            minimum = to_minor(env.str("POINTS_MIN_PURCHASE", "0"), currency)
        except InvalidArgument as error:
            raise ConfigError(f"POINTS_EARN_PER / POINTS_MIN_PURCHASE: {error.detail}") from None
        if per_minor <= 0:
            raise ConfigError("POINTS_EARN_PER must be more than zero")
        unit = "point" if points == 1 else "points"
        return cls(points, per_minor, minimum, label=f"{points} {unit} per {per} {currency}")
