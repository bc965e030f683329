"""The points service's settings, read once from the environment: the program's rules (parsed
by policy.py) and how this process reaches the others and runs its background work."""

from __future__ import annotations

from dataclasses import dataclass

from services.points.policy import PointsPolicy
from services.runtime.config import DEFAULT_ADDRS, Env


@dataclass(frozen=True)
class PointsSettings:
    policy: PointsPolicy
    campaigns_addr: str = DEFAULT_ADDRS["campaigns"]
    # The till never waits longer than this for a bonus: without an answer it is owed.
    campaigns_timeout: float = 0.3
    # Who may see a reward shown to segments or stages: a member's rewards page waits this long.
    audiences_timeout: float = 2.0
    identity_addr: str = DEFAULT_ADDRS["identity"]
    # Only a member points has not seen yet makes it ask identity.
    identity_timeout: float = 2.0
    job_interval: float = 60.0
    member_feed_interval: float = 1.0

    @classmethod
    def from_env(cls, env: Env) -> PointsSettings:
        return cls(
            policy=PointsPolicy.from_env(env),
            campaigns_addr=env.addr("CAMPAIGNS_ADDR", DEFAULT_ADDRS["campaigns"]),
            campaigns_timeout=env.float("POINTS_CAMPAIGNS_TIMEOUT", 0.3),
            audiences_timeout=env.float("POINTS_AUDIENCES_TIMEOUT", 2.0),
            identity_addr=env.addr("IDENTITY_ADDR", DEFAULT_ADDRS["identity"]),
            identity_timeout=env.float("POINTS_IDENTITY_TIMEOUT", 2.0),
            job_interval=env.float("POINTS_JOB_INTERVAL", 60.0),
            member_feed_interval=env.float("POINTS_MEMBER_FEED_INTERVAL", 1.0),
        )
