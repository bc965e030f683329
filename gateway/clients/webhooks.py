"""The webhooks service: endpoints, their delivery logs, redelivery."""

from __future__ import annotations

import grpc

from gateway.clients.calls import Service, call, iso_time
from loyalty.webhooks.v1 import webhooks_pb2 as pb
from loyalty.webhooks.v1.webhooks_pb2_grpc import WebhooksServiceStub


def endpoint_json(endpoint: pb.Endpoint) -> dict:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "personal_data": endpoint.personal_data,
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason or None,
        "created_at": iso_time(endpoint.created_at),
        "failing_since": iso_time(endpoint.failing_since),
    }


def delivery_json(delivery: pb.Delivery) -> dict:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "member_id": delivery.member_id or None,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code or None,
        "last_error": delivery.last_error or None,
        "created_at": iso_time(delivery.created_at),
        "last_attempt_at": iso_time(delivery.last_attempt_at),
        "next_attempt_at": iso_time(delivery.next_attempt_at),
        "delivered_at": iso_time(delivery.delivered_at),
    }


class WebhooksClient(Service):
    def __init__(self, channel: grpc.Channel) -> None:
        super().__init__(channel)
        self._stub = WebhooksServiceStub(channel)

    def create_endpoint(
        self, url: str, event_types: list[str], description: str, personal_data: bool
    ) -> dict:
        """The endpoint, with its signing secret (shown this once)."""
        response = call(
            self._stub.CreateEndpoint,
            pb.CreateEndpointRequest(
                url=url,
                event_types=event_types,
                description=description,
                personal_data=personal_data,
            ),
        )
        return {**endpoint_json(response.endpoint), "secret": response.secret}

    def endpoints(self) -> tuple[list[dict], list[str]]:
        """Every endpoint, and every event type one may ask for."""
        response = call(self._stub.ListEndpoints, pb.ListEndpointsRequest())
        return [endpoint_json(e) for e in response.endpoints], list(response.event_types)

    def update_endpoint(self, endpoint_id: str, changes: dict) -> dict:
        request = pb.UpdateEndpointRequest(endpoint_id=endpoint_id)
        if "event_types" in changes:
            request.event_types.names.extend(changes["event_types"])
        for name in ("description", "personal_data", "enabled"):
            if name in changes:
                setattr(request, name, changes[name])
        return endpoint_json(call(self._stub.UpdateEndpoint, request).endpoint)

    def deliveries(self, endpoint_id: str, status: str, before: str, limit: int) -> list[dict]:
        response = call(
            self._stub.ListDeliveries,
            pb.ListDeliveriesRequest(
                endpoint_id=endpoint_id, status=status, before=before, limit=limit
            ),
        )
        return [delivery_json(d) for d in response.deliveries]

    def redeliver(self, endpoint_id: str, delivery_id: str) -> dict:
        response = call(
            self._stub.Redeliver,
            pb.RedeliverRequest(endpoint_id=endpoint_id, delivery_id=delivery_id),
        )
        return delivery_json(response.delivery)
