"""Start-up, health and graceful stop of a gRPC service process.

Health answers NOT_SERVING from the moment the port opens until the service's readiness check
passes (its database answers), and again as soon as a SIGTERM or SIGINT arrives; then in-flight
calls get `grace_seconds` to finish and the process exits 0. Health checks answer anyone;
every other call, reflection included, needs the suite's service credential
(services.runtime.service_auth).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.runtime import heap, interpreter, logs, metrics
from services.runtime.config import ConfigError, ServiceConfig
from services.runtime.db import Database
from services.runtime.interceptors import ServerInterceptor
from services.runtime.logs import log
from services.runtime.service_auth import ServiceCredentials

logger = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Registration:
    """One gRPC service a process offers: its full name and how to add it to a server."""

    name: str
    add: Callable[[Any, grpc.Server], None]
    servicer: Any


@dataclass
class Service:
    """What a service process is made of, built by its server.py."""

    config: ServiceConfig
    database: Database
    registrations: Sequence[Registration]
    # Signs the calls it makes, checks the calls it receives.
    credentials: ServiceCredentials
    on_stop: list[Callable[[], None]] = field(default_factory=list)

    def ready(self) -> None:
        self.database.ping()


def _wait_until_ready(service: Service, health_servicer: health.HealthServicer) -> None:
    while True:
        try:
            service.ready()
        except Exception as error:
            log(logger, "not ready", logging.WARNING, reason=type(error).__name__)
            time.sleep(0.5)
            continue
        health_servicer.set("", SERVING)
        for registration in service.registrations:
            health_servicer.set(registration.name, SERVING)
        log(logger, "serving", addr=service.config.listen_addr)
        return


def serve(service: Service) -> int:
    config = service.config
    server = grpc.server(
        ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix=config.name),
        interceptors=[ServerInterceptor(service.credentials)],
        options=[
            # Without this Linux lets a second process bind the same port and share its traffic.
            ("grpc.so_reuseport", 0),
            # Clients reconnect now and then and so find replicas started since. Calls in
            # flight on an aged connection run to their end (gRPC's default grace, no limit):
            # new calls already go to the new connection, and a long one, a batch of a member
            # import, must not be cut as a shutdown's grace would cut it.
            ("grpc.max_connection_age_ms", int(config.max_connection_age * 1000)),
        ],
    )
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_servicer.set("", NOT_SERVING)
    names = []
    for registration in service.registrations:
        registration.add(registration.servicer, server)
        health_servicer.set(registration.name, NOT_SERVING)
        names.append(registration.name)
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    try:
        server.add_insecure_port(config.listen_addr)
    except RuntimeError:
        log(logger, "cannot listen", logging.ERROR, addr=config.listen_addr)
        return 1

    stopping = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    try:
        metrics.serve(config.metrics_port)
    except OSError:
        log(logger, "cannot serve metrics", logging.ERROR, port=config.metrics_port)
        return 1

    heap.freeze_startup_objects()
    server.start()
    log(logger, "started", addr=config.listen_addr)
    threading.Thread(target=_wait_until_ready, args=(service, health_servicer), daemon=True).start()

    # Short waits, not one long one: the kernel may hand SIGTERM to any thread, and Python runs
    # the handler in the main thread only once that thread wakes up.
    while not stopping.wait(0.2):
        pass
    log(logger, "draining", grace_seconds=config.grace_seconds)
    health_servicer.enter_graceful_shutdown()
    server.stop(config.grace_seconds).wait()
    for hook in service.on_stop:
        hook()
    service.database.dispose()
    log(logger, "stopped")
    return 0


def main(
    name: str,
    build: Callable[[ServiceConfig], Service],
    migrations_dir: Path,
    commands: dict[str, Callable[[ServiceConfig], int]] | None = None,
) -> None:
    """`python -m services.<name> [serve|migrate|<command>]`."""
    commands = commands or {}
    parser = argparse.ArgumentParser(prog=f"python -m services.{name}")
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "migrate", *commands]
    )
    args = parser.parse_args()
    try:
        config = ServiceConfig.load(name)
        logs.configure(name, config.log_level)
        interpreter.take_turns_often()
        if args.command == "migrate":
            database = Database(config.database_url)
            database.migrate(migrations_dir, name)
            database.dispose()
            log(logger, "migrated")
            return
        if args.command in commands:
            sys.exit(commands[args.command](config))
        service = build(config)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    sys.exit(serve(service))
