"""Client channels to the other services: made once per process, a deadline on every call,
calls spread round robin over every replica of the service.

Every unary call (unary-unary and unary-stream) carries this process's service credential, the
request id and the trace context of the call being served, and a deadline, and waits for the
connection (within its deadline) rather than failing at once while a service restarts; a caller
that wants to fail fast, like a health probe, says so per call (`wait_for_ready=False`).

These options are added by a thin wrapper around each method of the channel, made once per
stub method, rather than by a gRPC client interceptor: an intercepted call builds a new
multicallable and wraps its answer in an outcome object on every call, which costs a busy
gateway more than the call's own Python side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc

from services.runtime import tracecontext
from services.runtime.logs import REQUEST_ID_HEADER, current_request_id
from services.runtime.service_auth import CREDENTIAL_HEADER, ServiceCredentials

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

Metadata = Sequence[tuple[str, str | bytes]]


def grpc_target(addr: str) -> str:
    """The gRPC target of a configured address (services.runtime.config.Env.target): a list of
    replicas as gRPC's static ipv4 resolver reads it, anything else as it is (DNS)."""
    return f"ipv4:{addr}" if "," in addr else addr


def open_channel(
    addr: str, credentials: ServiceCredentials, default_timeout: float = 2.0
) -> grpc.Channel:
    """A channel whose calls carry this process's service credential and time out after
    `default_timeout` seconds unless they say otherwise."""
    return ServiceChannel(
        grpc.insecure_channel(grpc_target(addr), options=_OPTIONS), default_timeout, credentials
    )


class ServiceChannel(grpc.Channel):
    """`channel`, with the suite's options added to each unary call (see the module's doc)."""

    def __init__(
        self, channel: grpc.Channel, timeout: float, credentials: ServiceCredentials
    ) -> None:
        self._channel = channel
        self._timeout = timeout
        self._credentials = credentials

    def options(
        self, metadata: Metadata | None, timeout: float | None, wait_for_ready: bool | None
    ) -> dict[str, Any]:
        """The keyword arguments of one call: `metadata` with the credential, the request id
        (unless the caller sent one) and the trace context added; the default deadline unless
        `timeout` is given; waiting for the connection unless `wait_for_ready` says not to."""
        outgoing = list(metadata) if metadata else []
        outgoing.append((CREDENTIAL_HEADER, self._credentials.credential()))
        request_id = current_request_id()
        if request_id and not any(key == REQUEST_ID_HEADER for key, _ in outgoing):
            outgoing.append((REQUEST_ID_HEADER, request_id))
        span = tracecontext.current()
        if span is not None:
            outgoing.append((tracecontext.TRACEPARENT_HEADER, span.traceparent()))
        return {
            "metadata": outgoing,
            "timeout": self._timeout if timeout is None else timeout,
            "wait_for_ready": True if wait_for_ready is None else wait_for_ready,
        }

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> grpc.UnaryUnaryMultiCallable:
        return _UnaryUnary(self._channel.unary_unary(method, *args, **kwargs), self.options)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> grpc.UnaryStreamMultiCallable:
        return _UnaryStream(self._channel.unary_stream(method, *args, **kwargs), self.options)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> grpc.StreamUnaryMultiCallable:
        return self._channel.stream_unary(method, *args, **kwargs)

    def stream_stream(
        self, method: str, *args: Any, **kwargs: Any
    ) -> grpc.StreamStreamMultiCallable:
        return self._channel.stream_stream(method, *args, **kwargs)

    def subscribe(self, callback: Callable[..., Any], try_to_connect: bool = False) -> None:
        self._channel.subscribe(callback, try_to_connect=try_to_connect)

    def unsubscribe(self, callback: Callable[..., Any]) -> None:
        self._channel.unsubscribe(callback)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> ServiceChannel:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


Options = Callable[[Metadata | None, float | None, bool | None], dict[str, Any]]


class _UnaryUnary(grpc.UnaryUnaryMultiCallable):
    def __init__(self, inner: grpc.UnaryUnaryMultiCallable, options: Options) -> None:
        self._inner = inner
        self._options = options

    def __call__(  # type: ignore[override]
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        return self._inner(
            request,
            credentials=credentials,
            compression=compression,
            **self._options(metadata, timeout, wait_for_ready),
        )

    def with_call(  # type: ignore[override]
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        return self._inner.with_call(
            request,
            credentials=credentials,
            compression=compression,
            **self._options(metadata, timeout, wait_for_ready),
        )

    def future(  # type: ignore[override]
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        return self._inner.future(
            request,
            credentials=credentials,
            compression=compression,
            **self._options(metadata, timeout, wait_for_ready),
        )


class _UnaryStream(grpc.UnaryStreamMultiCallable):
    def __init__(self, inner: grpc.UnaryStreamMultiCallable, options: Options) -> None:
        self._inner = inner
        self._options = options

    def __call__(  # type: ignore[override]
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        return self._inner(
            request,
            credentials=credentials,
            compression=compression,
            **self._options(metadata, timeout, wait_for_ready),
        )
