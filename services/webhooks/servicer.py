"""WebhooksService over gRPC: proto <-> domain mapping only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc

from loyalty.webhooks.v1 import webhooks_pb2 as pb
from loyalty.webhooks.v1 import webhooks_pb2_grpc
from services.runtime.convert import to_timestamp
from services.webhooks.catalogue import INTEGRATION_TYPES
from services.webhooks.endpoints import Changes, Endpoints
from services.webhooks.models import Delivery, Endpoint


def _stamp(target: Any, value: datetime | None) -> None:
    if value is not None:
        target.CopyFrom(to_timestamp(value))


def _endpoint(row: Endpoint) -> pb.Endpoint:
    endpoint = pb.Endpoint(
        id=str(row.id),
        url=row.url,
        description=row.description,
        event_types=list(row.event_types),
        personal_data=row.personal_data,
        status=row.status,
        disabled_reason=row.disabled_reason,
    )
    _stamp(endpoint.created_at, row.created_at)
    _stamp(endpoint.failing_since, row.failing_since)
    return endpoint


def _delivery(row: Delivery, event_type: str = "") -> pb.Delivery:
    delivery = pb.Delivery(
        id=str(row.id),
        event_id=row.event_id,
        event_type=event_type,
        member_id=row.member_id,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
    )
    _stamp(delivery.created_at, row.created_at)
    _stamp(delivery.last_attempt_at, row.last_attempt_at)
    if row.status == "pending":
        _stamp(delivery.next_attempt_at, row.next_attempt_at)
    _stamp(delivery.delivered_at, row.delivered_at)
    return delivery


class WebhooksServicer(webhooks_pb2_grpc.WebhooksServiceServicer):
    def __init__(self, endpoints: Endpoints) -> None:
        self._endpoints = endpoints

    def CreateEndpoint(self, request: Any, context: grpc.ServicerContext) -> Any:
        registered = self._endpoints.register(
            request.url, request.description, list(request.event_types), request.personal_data
        )
        return pb.CreateEndpointResponse(
            endpoint=_endpoint(registered.endpoint), secret=registered.secret
        )

    def ListEndpoints(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ListEndpointsResponse(
            endpoints=[_endpoint(row) for row in self._endpoints.all()],
            event_types=list(INTEGRATION_TYPES),
        )

    def UpdateEndpoint(self, request: Any, context: grpc.ServicerContext) -> Any:
        changes = Changes(
            event_types=list(request.event_types.names)
            if request.HasField("event_types")
            else None,
            description=request.description if request.HasField("description") else None,
            personal_data=request.personal_data if request.HasField("personal_data") else None,
            enabled=request.enabled if request.HasField("enabled") else None,
        )
        row = self._endpoints.change(request.endpoint_id, changes)
        return pb.UpdateEndpointResponse(endpoint=_endpoint(row))

    def ListDeliveries(self, request: Any, context: grpc.ServicerContext) -> Any:
        rows = self._endpoints.deliveries(
            request.endpoint_id, request.status, request.before, request.limit
        )
        types = self._endpoints.event_types_of([row.event_id for row in rows])
        return pb.ListDeliveriesResponse(
            deliveries=[_delivery(row, types.get(row.event_id, "")) for row in rows]
        )

    def Redeliver(self, request: Any, context: grpc.ServicerContext) -> Any:
        row = self._endpoints.redeliver(request.endpoint_id, request.delivery_id)
        types = self._endpoints.event_types_of([row.event_id])
        return pb.RedeliverResponse(delivery=_delivery(row, types.get(row.event_id, "")))
