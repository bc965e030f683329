"""What every call made on a service channel carries: the credential, the request id and trace
context of the call being served, a deadline, and waiting for the connection."""

from __future__ import annotations

from typing import Any

from services.runtime import tracecontext
from services.runtime.channels import ServiceChannel
from services.runtime.logs import reset_request_id, set_request_id
from services.runtime.service_auth import ServiceCredentials

SECRET = "s" * 32


class _Recorded:
    def __init__(self, calls: list[dict[str, Any]]) -> None:
        self._calls = calls

    def __call__(self, request: Any, **options: Any) -> str:
        self._calls.append({"request": request, **options})
        return "answer"

    with_call = future = __call__


class _Channel:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def unary_unary(self, method: str, *_args: Any, **_kwargs: Any) -> _Recorded:
        return _Recorded(self.calls)

    unary_stream = unary_unary


def _channel() -> tuple[ServiceChannel, _Channel, ServiceCredentials]:
    inner = _Channel()
    credentials = ServiceCredentials("gateway", SECRET)
    return ServiceChannel(inner, 2.5, credentials), inner, credentials  # type: ignore[arg-type]


def test_a_call_carries_the_credential_request_id_and_trace_with_a_deadline() -> None:
    channel, inner, credentials = _channel()
    method = channel.unary_unary("/loyalty.points.v1.PointsService/GetBalance")
    request_id = set_request_id("req-1")
    span = tracecontext.start_span(None)
    try:
        assert method("request") == "answer"
        traceparent = tracecontext.current().traceparent()  # type: ignore[union-attr]
    finally:
        tracecontext.end_span(span)
        reset_request_id(request_id)

    (call,) = inner.calls
    assert call["metadata"] == [
        ("x-loyalty-service", credentials.credential()),
        ("x-request-id", "req-1"),
        ("traceparent", traceparent),
    ]
    assert (call["timeout"], call["wait_for_ready"]) == (2.5, True)


def test_a_caller_may_set_its_own_deadline_request_id_and_fail_fast() -> None:
    channel, inner, _credentials = _channel()
    method = channel.unary_stream("/loyalty.points.v1.PointsService/ListEvents")
    token = set_request_id("req-1")
    try:
        method("request", timeout=0.5, wait_for_ready=False, metadata=[("x-request-id", "mine")])
        channel.unary_unary("/grpc.health.v1.Health/Check").future("request")
    finally:
        reset_request_id(token)

    own, future = inner.calls
    assert (own["timeout"], own["wait_for_ready"]) == (0.5, False)
    assert [value for key, value in own["metadata"] if key == "x-request-id"] == ["mine"]
    assert (future["timeout"], future["wait_for_ready"]) == (2.5, True)
