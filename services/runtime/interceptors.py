"""The gRPC server interceptor: the suite's service credential checked, request ids and trace
context in, JSON access logs and metrics, domain errors out as precise statuses. (What every
outgoing call carries is added by services.runtime.channels.)"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import grpc

from services.runtime import errors, metrics, tracecontext
from services.runtime.logs import (
    REQUEST_ID_HEADER,
    access_level,
    clean_request_id,
    log,
    reset_request_id,
    set_request_id,
    start_access,
)
from services.runtime.service_auth import (
    CREDENTIAL_HEADER,
    SERVICE_NOT_ALLOWED,
    SERVICE_UNAUTHENTICATED,
    ServiceCredentials,
)

logger = logging.getLogger("access")

STATUS_OF: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.Conflict: grpc.StatusCode.ABORTED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def status_of(error: errors.DomainError) -> grpc.StatusCode:
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return grpc.StatusCode.INVALID_ARGUMENT


HEALTH_METHODS = "/grpc.health.v1.Health/"


class ServerInterceptor(grpc.ServerInterceptor):
    """Refuses every call without a credential of a caller allowed to make it, except health
    checks; wraps the product's own unary RPCs."""

    def __init__(self, credentials: ServiceCredentials) -> None:
        self._credentials = credentials

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        if handler is None or method.startswith(HEALTH_METHODS):
            return handler
        credential = ""
        for key, value in handler_call_details.invocation_metadata:  # type: ignore[attr-defined]
            if key == CREDENTIAL_HEADER:
                credential = value
        try:
            self._credentials.check(credential, method)
        except errors.DomainError as error:
            return _refusal(handler, method, error)
        if not method.startswith("/loyalty.") or handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            self._wrap(handler.unary_unary, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    @staticmethod
    def _wrap(behavior: Callable[[Any, grpc.ServicerContext], Any], method: str) -> Callable:
        def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
            metadata = dict(context.invocation_metadata())
            token = set_request_id(clean_request_id(metadata.get(REQUEST_ID_HEADER)))
            span = tracecontext.start_span(metadata.get(tracecontext.TRACEPARENT_HEADER))
            access = start_access()
            started = time.perf_counter()
            status = grpc.StatusCode.OK
            error_code = ""
            try:
                return behavior(request, context)
            except errors.DomainError as error:
                status, error_code = status_of(error), error.code
                trailer = [(errors.ERROR_CODE_METADATA_KEY, error.code)]
                if isinstance(error, errors.ResourceExhausted):
                    trailer.append((errors.RETRY_AFTER_METADATA_KEY, str(error.retry_after)))
                context.set_trailing_metadata(tuple(trailer))
                context.abort(status, error.detail)
            except Exception:
                if context.code() not in (None, grpc.StatusCode.OK):
                    status = context.code()
                    raise
                status, error_code = grpc.StatusCode.INTERNAL, "internal"
                logger.exception("unhandled error", extra={"fields": {"method": method}})
                context.set_trailing_metadata(((errors.ERROR_CODE_METADATA_KEY, "internal"),))
                context.abort(status, "internal error")
            finally:
                seconds = time.perf_counter() - started
                metrics.observe_rpc(method, status.name, seconds)
                fields: dict[str, Any] = {
                    "method": method,
                    "status": status.name,
                    "duration_ms": round(seconds * 1000, 2),
                }
                if error_code:
                    fields["code"] = error_code
                level = access_level(access)
                if status != grpc.StatusCode.OK:
                    level = logging.INFO
                log(logger, "rpc", level, **fields)
                tracecontext.end_span(span)
                reset_request_id(token)

        return wrapped


def _refusal(
    handler: grpc.RpcMethodHandler, method: str, error: errors.DomainError
) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that refuses the call unread."""
    status = status_of(error)
    metrics.observe_rpc(method, status.name, 0.0)
    log(logger, "rpc refused", logging.WARNING, method=method, status=status.name, code=error.code)

    def refuse(_request: Any, context: grpc.ServicerContext) -> Any:
        context.set_trailing_metadata(((errors.ERROR_CODE_METADATA_KEY, error.code),))
        context.abort(status, error.detail)

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse)
    return grpc.unary_unary_rpc_method_handler(refuse)


def _error_code(error: grpc.RpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == errors.ERROR_CODE_METADATA_KEY:
            return value
    return ""


def refused_service_credential(error: grpc.RpcError) -> bool:
    """Whether a service turned this process's own credential away: the suite is misconfigured
    (secrets that differ), which no caller of ours can fix."""
    return _error_code(error) in (SERVICE_UNAUTHENTICATED, SERVICE_NOT_ALLOWED)


# Statuses of a call that may well succeed later: a background sender tries again next round.
TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)


def worth_retrying(error: grpc.RpcError) -> bool:
    """Whether a failed call should be tried again later rather than recorded as refused."""
    return error.code() in TRANSIENT or refused_service_credential(error)


def domain_error_of(error: grpc.RpcError) -> errors.DomainError:
    """Another service's refusal as our own domain error, so it travels on with its code."""
    code = _error_code(error)
    kind = next((k for k, s in STATUS_OF.items() if s == error.code()), errors.Unavailable)
    if kind is errors.ResourceExhausted:
        return errors.ResourceExhausted(error.details() or "try again later", 1, code or None)
    if (
        kind is errors.Unavailable
        or error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        or refused_service_credential(error)
    ):
        return errors.Unavailable("a service the change needs is unavailable, try again")
    return kind(error.details() or "refused", code or None)
