"""The campaigns service's settings, read once from the environment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.runtime.config import DEFAULT_ADDRS, ConfigError, Env


@dataclass(frozen=True)
class Lifecycle:
    """Thresholds of the lifecycle stages."""

    lapsed_days: int = 180
    loyal_purchases: int = 3
    loyal_window_days: int = 90
    dissatisfied_rating: int = 2
    satisfied_rating: int = 4
    # How long a low rating or a refund keeps a member dissatisfied (unless a better rating
    # comes after it).
    signal_days: int = 90


@dataclass(frozen=True)
class QuietHours:
    """A daily span (in the program's time zone) in which no message is sent."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class CampaignsSettings:
    currency: str = "IRR"
    timezone: str = "Asia/Tehran"
    lifecycle: Lifecycle = Lifecycle()
    quiet_hours: QuietHours | None = None
    feed_interval: float = 0.25
    stages_interval: float = 3600.0
    refresh_seconds: float = 2.0
    dispatch_interval: float = 2.0
    identity_addr: str = DEFAULT_ADDRS["identity"]
    points_addr: str = DEFAULT_ADDRS["points"]

    @classmethod
    def from_env(cls, env: Env) -> CampaignsSettings:
        zone = env.str("CAMPAIGNS_TIMEZONE", "Asia/Tehran")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"CAMPAIGNS_TIMEZONE is not a known time zone: {zone!r}") from None
        return cls(
            currency=env.currency("LOYALTY_CURRENCY", "IRR"),
            timezone=zone,
            lifecycle=Lifecycle(
                lapsed_days=env.int("CAMPAIGNS_LAPSED_DAYS", 180, minimum=1),
                loyal_purchases=env.int("CAMPAIGNS_LOYAL_PURCHASES", 3, minimum=2),
                loyal_window_days=env.int("CAMPAIGNS_LOYAL_WINDOW_DAYS", 90, minimum=1),
                dissatisfied_rating=env.int("CAMPAIGNS_DISSATISFIED_RATING", 2, minimum=1),
                satisfied_rating=env.int("CAMPAIGNS_SATISFIED_RATING", 4, minimum=1),
                signal_days=env.int("CAMPAIGNS_SIGNAL_DAYS", 90, minimum=1),
            ),
            quiet_hours=quiet_hours(env.str("CAMPAIGNS_QUIET_HOURS", "21:00-09:00")),
            feed_interval=env.float("CAMPAIGNS_FEED_INTERVAL", 0.25),
            stages_interval=env.float("CAMPAIGNS_STAGES_INTERVAL", 3600.0),
            refresh_seconds=env.float("CAMPAIGNS_REFRESH_SECONDS", 2.0),
            dispatch_interval=env.float("CAMPAIGNS_DISPATCH_INTERVAL", 2.0),
            identity_addr=env.target("IDENTITY_ADDR", DEFAULT_ADDRS["identity"]),
            points_addr=env.target("POINTS_ADDR", DEFAULT_ADDRS["points"]),
        )


def quiet_hours(value: str) -> QuietHours | None:
    """`"21:00-09:00"`, or empty for none."""
    if not value:
        return None
    match = re.fullmatch(r"(\d{1,2}):([0-5]\d)-(\d{1,2}):([0-5]\d)", value)
    if not match or int(match[1]) > 23 or int(match[3]) > 23:
        raise ConfigError(f"CAMPAIGNS_QUIET_HOURS must look like 21:00-09:00, got {value!r}")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    return QuietHours(time(h1, m1), time(h2, m2))
