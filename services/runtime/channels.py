"""Client channels to the other services: made once per process, a deadline on every call,
calls spread round robin over every replica of the service."""

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
    # One connection to every address the target names, each call to the next one; the
    # default (pick_first) would send everything to one replica.
    ("grpc.lb_policy_name", "round_robin"),
]


def grpc_target(addr: str) -> str:
    """The gRPC target of a configured address (services.runtime.config.Env.target): a list of
    replicas as gRPC's static ipv4 resolver reads it, anything else as it is (DNS)."""
    return f"ipv4:{addr}" if "," in addr else addr


def open_channel(
    addr: str, credentials: ServiceCredentials, default_timeout: float = 2.0
) -> grpc.Channel:
    """A channel whose calls carry this process's service credential and time out after
    `default_timeout` seconds unless they say otherwise."""
    return grpc.intercept_channel(
        grpc.insecure_channel(grpc_target(addr), options=_OPTIONS),
        ClientInterceptor(default_timeout, credentials),
    )
