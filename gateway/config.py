"""The gateway's settings, read once from the environment."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from services.runtime.config import DEFAULT_ADDRS, ConfigError, Env, redis_url
from services.runtime.money import DISPLAY_ALIASES
from services.runtime.service_auth import load_service_secret

# The largest request body the gateway takes (a larger one is answered 413).
MAX_BODY = 2 * 1024 * 1024


@dataclass(frozen=True)
class GatewayConfig:
    port: int
    identity_addr: str
    points_addr: str
    campaigns_addr: str
    webhooks_addr: str
    admin_token: str
    # Signs the gateway's calls to the services (services.runtime.service_auth).
    service_secret: str
    currency: str
    # The currency pages show amounts in: the program's own, or toman (IRT) for a rial program.
    display_currency: str
    redis_url: str | None
    cache_prefix: str
    rpc_timeout: float
    # Seconds a client may take to send a request's head, and then its body (else 408).
    header_timeout: float
    body_timeout: float
    workers: int
    threads: int
    log_level: str
    # Signs and encrypts the web pages' cookies; the same in every gateway process.
    web_secret: str
    timezone: str
    # How many reverse proxies in front of the gateway append to X-Forwarded-For; 0 trusts none.
    proxy_hops: int
    # Requests allowed per window: each request counts against its POS key, its member, or
    # else its client IP (the admin token is not limited). Generous by default.
    rate_window_seconds: int
    rate_per_pos_key: int
    rate_per_member: int
    rate_per_ip: int
    metrics_port: int = 0

    @classmethod
    def load(cls, env: Env | None = None) -> GatewayConfig:
        env = env or Env()
        return cls(
            port=env.int("GATEWAY_PORT", 8080, minimum=0),
            identity_addr=env.target("IDENTITY_ADDR", DEFAULT_ADDRS["identity"]),
            points_addr=env.target("POINTS_ADDR", DEFAULT_ADDRS["points"]),
            campaigns_addr=env.target("CAMPAIGNS_ADDR", DEFAULT_ADDRS["campaigns"]),
            webhooks_addr=env.target("WEBHOOKS_ADDR", DEFAULT_ADDRS["webhooks"]),
            admin_token=env.str("LOYALTY_ADMIN_TOKEN"),
            service_secret=load_service_secret(env),
            currency=(currency := env.currency("LOYALTY_CURRENCY", "IRR")),
            display_currency=_display_currency(env, currency),
            redis_url=redis_url(env),
            cache_prefix=env.str("LOYALTY_CACHE_PREFIX", "loyalty"),
            rpc_timeout=env.float("GATEWAY_RPC_TIMEOUT", 3.0),
            header_timeout=env.float("GATEWAY_HEADER_TIMEOUT", 10.0),
            body_timeout=env.float("GATEWAY_BODY_TIMEOUT", 30.0),
            workers=env.int("GATEWAY_WORKERS", 2, minimum=1),
            threads=env.int("GATEWAY_THREADS", 16, minimum=1),
            log_level=env.str("LOYALTY_LOG_LEVEL", "INFO").upper(),
            web_secret=_web_secret(env),
            timezone=env.str("LOYALTY_TIMEZONE", "Asia/Tehran"),
            metrics_port=env.int("GATEWAY_METRICS_PORT", 0, minimum=0),
            proxy_hops=env.int("GATEWAY_PROXY_HOPS", 0, minimum=0),
            rate_window_seconds=env.int("GATEWAY_RATE_WINDOW_SECONDS", 60, minimum=1),
            rate_per_pos_key=env.int("GATEWAY_RATE_PER_POS_KEY", 120_000, minimum=1),
            rate_per_member=env.int("GATEWAY_RATE_PER_MEMBER", 600, minimum=1),
            rate_per_ip=env.int("GATEWAY_RATE_PER_IP", 6_000, minimum=1),
        )


def _display_currency(env: Env, currency: str) -> str:
    shown = env.currency("LOYALTY_DISPLAY_CURRENCY", currency)
    if shown not in (currency, *DISPLAY_ALIASES.get(currency, ())):
        raise ConfigError(
            f"LOYALTY_DISPLAY_CURRENCY must be {currency}"
            + "".join(f" or {alias}" for alias in DISPLAY_ALIASES.get(currency, ()))
            + f", got {shown!r}"
        )
    return shown


def _web_secret(env: Env) -> str:
    """GATEWAY_SECRET_KEY, else one derived from the admin token, so that every gateway replica
    agrees without another secret to distribute (changing the token signs web users out)."""
    explicit = env.str("GATEWAY_SECRET_KEY")
    if explicit:
        return explicit
    admin = env.str("LOYALTY_ADMIN_TOKEN")
    if admin:
        return hmac.new(admin.encode(), b"gateway web cookies", hashlib.sha256).hexdigest()
    return secrets.token_hex(32)
