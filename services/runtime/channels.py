"""Client channels to the other services: made once per process, a deadline on every call."""

from __future__ import annotations

import grpc

from services.runtime.interceptors import ClientInterceptor
from services.runtime.service_auth import ServiceCredentials

_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.enable_retries", 1),
    # Reconnect quickly after a service restarts instead of backing off for seconds.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def open_channel(
    addr: str, credentials: ServiceCredentials, default_timeout: float = 2.0
) -> grpc.Channel:
    """A channel whose calls carry this process's service credential and time out after
    `default_timeout` seconds unless they say otherwise."""
    return grpc.intercept_channel(
        grpc.insecure_channel(addr, options=_OPTIONS),
        ClientInterceptor(default_timeout, credentials),
    )
