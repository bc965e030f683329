"""The gateway's clients of the services.

Every call the gateway makes to a service, and every mapping between that service's messages and
the JSON the gateway answers, is in that service's module here (`identity`, `points` and
`rewards` for the points service's catalog and coupons, `campaigns`, `webhooks`). A failed call
is raised as the `Problem` its caller would see (`calls.call`), so routes and pages never handle
gRPC errors. `create_app(config, clients)` takes any object of this shape, so tests can pass
fakes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from flask import current_app

from gateway.clients.campaigns import CampaignsClient
from gateway.clients.identity import IdentityClient
from gateway.clients.points import PointsClient
from gateway.clients.rewards import RewardsClient
from gateway.clients.webhooks import WebhooksClient
from gateway.config import GatewayConfig
from services.runtime.cache import Cache
from services.runtime.channels import open_channel
from services.runtime.published_balances import PublishedBalances
from services.runtime.service_auth import GATEWAY, ServiceCredentials


class Checked(Protocol):
    def health(self) -> str: ...


@dataclass
class Clients:
    identity: IdentityClient
    points: PointsClient
    campaigns: CampaignsClient
    # The points service's rewards catalog and coupons, on the points channel.
    rewards: RewardsClient
    webhooks: WebhooksClient
    # For calls a request makes side by side: pooled threads cost far less than a gRPC future,
    # which starts a thread of its own for every call.
    side_calls: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=32, thread_name_prefix="side-call")
    )

    def health(self) -> dict[str, str]:
        """Each service's health status name, asked of all at once."""
        services: dict[str, Checked] = {
            "identity": self.identity,
            "points": self.points,
            "campaigns": self.campaigns,
            "webhooks": self.webhooks,
        }
        futures = {name: self.side_calls.submit(c.health) for name, c in services.items()}
        return {name: future.result() for name, future in futures.items()}

    def close(self) -> None:
        for client in (self.identity, self.points, self.campaigns, self.webhooks):
            close = getattr(client, "close", None)
            if close is not None:
                close()
        self.side_calls.shutdown(wait=False)


def connect(config: GatewayConfig) -> Clients:
    """One channel to each service for this process."""
    credentials = ServiceCredentials(GATEWAY, config.service_secret)

    def channel(addr: str):
        return open_channel(addr, credentials, config.rpc_timeout)

    points = channel(config.points_addr)
    return Clients(
        identity=IdentityClient(channel(config.identity_addr)),
        points=PointsClient(
            points,
            config.currency,
            PublishedBalances(Cache(config.redis_url, f"{config.cache_prefix}:points")),
        ),
        campaigns=CampaignsClient(channel(config.campaigns_addr)),
        rewards=RewardsClient(points, config.currency),
        webhooks=WebhooksClient(channel(config.webhooks_addr)),
    )


def clients() -> Clients:
    """The clients of the running app."""
    return current_app.extensions["clients"]
