"""Typed configuration read once from environment variables; a bad value stops start-up."""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ADDRS = {
    "identity": "127.0.0.1:50051",
    "points": "127.0.0.1:50052",
    "campaigns": "127.0.0.1:50053",
    "webhooks": "127.0.0.1:50054",
}
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class ConfigError(ValueError):
    """A configuration value is missing or malformed."""


class Env:
    """Reads and checks variables from one environment mapping (os.environ by default)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def has(self, name: str) -> bool:
        return name in self._environ

    def str(self, name: str, default: str = "") -> str:
        return self._environ.get(name, default).strip()

    def int(self, name: str, default: int, minimum: int | None = None) -> int:
        raw = self.str(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value

    def float(self, name: str, default: float) -> float:
        raw = self.str(name)
        if not raw:
            return default
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None

    def addr(self, name: str, default: str) -> str:
        value = self.str(name, default)
        if not re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}", value):
            raise ConfigError(f"{name} must be host:port, got {value!r}")
        return value

    def currency(self, name: str, default: str) -> str:
        value = self.str(name, default).upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ConfigError(f"{name} must be an ISO 4217 code such as IRR, got {value!r}")
        return value


def data_dir(env: Env) -> Path:
    return Path(env.str("LOYALTY_DATA_DIR", ".data")).resolve()


def database_url(env: Env, service: str) -> str:
    """`<SVC>_DATABASE_URL`, else a SQLite file of the service's own under the data dir."""
    url = env.str(f"{service.upper()}_DATABASE_URL")
    if not url:
        return f"sqlite:///{data_dir(env) / f'{service}.db'}"
    if url.startswith(("postgresql://", "postgres://")):
        # Plain URLs are accepted; the driver we ship is psycopg 3.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith(("sqlite:", "postgresql+")):
        raise ConfigError(f"{service.upper()}_DATABASE_URL must be a sqlite or postgresql URL")
    return url


def redis_url(env: Env) -> str | None:
    """`REDIS_URL`; an empty value means run without the cache."""
    value = env.str("REDIS_URL") if env.has("REDIS_URL") else DEFAULT_REDIS_URL
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"REDIS_URL must be a redis:// URL, got {value!r}")
    return value or None


def load_or_create_secret(env: Env, name: str, filename: str) -> str:
    """A secret from the environment, else one kept in the data dir (created on first use)."""
    value = env.str(name)
    if value:
        return value
    path = data_dir(env) / filename
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        time.sleep(0.1)
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


@dataclass(frozen=True)
class ServiceConfig:
    """What every gRPC service needs."""

    name: str
    listen_addr: str
    database_url: str
    redis_url: str | None
    cache_prefix: str
    workers: int
    grace_seconds: float
    log_level: str
    # Where /metrics is served; 0: nowhere.
    metrics_port: int = 0

    @classmethod
    def load(cls, name: str, env: Env | None = None) -> ServiceConfig:
        env = env or Env()
        prefix = name.upper()
        return cls(
            name=name,
            listen_addr=env.addr(f"{prefix}_ADDR", DEFAULT_ADDRS[name]),
            database_url=database_url(env, name),
            redis_url=redis_url(env),
            cache_prefix=env.str("LOYALTY_CACHE_PREFIX", "loyalty"),
            workers=env.int(f"{prefix}_WORKERS", 16, minimum=1),
            grace_seconds=env.float(f"{prefix}_GRACE_SECONDS", 10.0),
            log_level=env.str("LOYALTY_LOG_LEVEL", "INFO").upper(),
            metrics_port=env.int(f"{prefix}_METRICS_PORT", 0, minimum=0),
        )
