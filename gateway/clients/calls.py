"""One call to a service, its failure raised as the problem the gateway's caller sees."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.problems import from_rpc_error
from services.runtime.convert import from_timestamp
from services.runtime.logs import log

logger = logging.getLogger(__name__)
T = TypeVar("T")


def call(method: Callable[..., T], request: Any, **options: Any) -> T:
    """`method(request, **options)`; a failed call raises its `Problem` (gateway.problems),
    caused by the call's own error."""
    try:
        return method(request, **options)
    except grpc.RpcError as error:
        problem = from_rpc_error(error)
        if problem.status >= 500:
            log(logger, "upstream failed", logging.WARNING, status=error.code().name)
        raise problem from error


def iso_time(stamp: Any) -> str | None:
    """A timestamp as ISO 8601 JSON; None when unset."""
    moment = from_timestamp(stamp)
    return moment.isoformat() if moment else None


class Service:
    """What every client has: its channel, and the service's health."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._channel = channel
        self._health = health_pb2_grpc.HealthStub(channel)

    def health(self, timeout: float = 1.0) -> str:
        """The service's health status name (SERVING, NOT_SERVING, or why it did not answer)."""
        try:
            response = self._health.Check(
                health_pb2.HealthCheckRequest(), timeout=timeout, wait_for_ready=False
            )
        except grpc.RpcError as error:
            return error.code().name
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def close(self) -> None:
        self._channel.close()
