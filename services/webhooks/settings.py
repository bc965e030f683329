"""The webhooks service's settings, read once from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from services.runtime.config import DEFAULT_ADDRS, Env, load_or_create_secret


@dataclass(frozen=True)
class DeliveryPolicy:
    """How deliveries are made and retried."""

    # Seconds to wait for an endpoint's answer.
    timeout: float = 10.0
    # The pause after the first failure; it doubles after each one, up to `retry_max`.
    retry_base: float = 30.0
    retry_max: float = 3600.0
    # A delivery failing this long is given up; an endpoint failing this long is switched off.
    retry_for: float = 86400.0
    disable_after: float = 86400.0
    # Requests in flight at once, in all, and to one endpoint.
    workers: int = 8
    per_endpoint: int = 4


@dataclass(frozen=True)
class WebhooksSettings:
    # Encrypts the endpoints' signing secrets at rest.
    secret_key: str
    identity_addr: str = DEFAULT_ADDRS["identity"]
    points_addr: str = DEFAULT_ADDRS["points"]
    # Seconds between reads of the other services' events, and between looks for due deliveries.
    feed_interval: float = 1.0
    delivery_interval: float = 0.5
    delivery: DeliveryPolicy = DeliveryPolicy()
    # Days a finished delivery stays in the log (and its event, for a redelivery).
    keep_days: int = 30

    @classmethod
    def from_env(cls, env: Env) -> WebhooksSettings:
        return cls(
            secret_key=load_or_create_secret(env, "WEBHOOKS_SECRET_KEY", "webhooks-secret.key"),
            identity_addr=env.addr("IDENTITY_ADDR", DEFAULT_ADDRS["identity"]),
            points_addr=env.addr("POINTS_ADDR", DEFAULT_ADDRS["points"]),
            feed_interval=env.float("WEBHOOKS_FEED_INTERVAL", 1.0),
            delivery_interval=env.float("WEBHOOKS_DELIVERY_INTERVAL", 0.5),
            keep_days=env.int("WEBHOOKS_KEEP_DAYS", 30, minimum=1),
            delivery=DeliveryPolicy(
                timeout=env.float("WEBHOOKS_TIMEOUT", 10.0),
                retry_base=env.float("WEBHOOKS_RETRY_BASE", 30.0),
                retry_max=env.float("WEBHOOKS_RETRY_MAX", 3600.0),
                retry_for=env.float("WEBHOOKS_RETRY_FOR", 86400.0),
                disable_after=env.float("WEBHOOKS_DISABLE_AFTER", 86400.0),
                workers=env.int("WEBHOOKS_DELIVERY_WORKERS", 8, minimum=1),
                per_endpoint=env.int("WEBHOOKS_PER_ENDPOINT", 4, minimum=1),
            ),
        )
