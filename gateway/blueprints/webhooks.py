"""Webhook endpoints, set up by the admin: registered (the signing secret shown once), listed,
changed or switched off, their delivery log read and a delivery sent again.

What an endpoint receives and how to check its signature is in README.md ("Webhooks") and
docs/api.md.
"""

from __future__ import annotations

from flask import Blueprint, request

from gateway.api import operation, query_param
from gateway.clients import clients

bp = Blueprint("webhooks", __name__)

WHEN = {"type": ["string", "null"], "format": "date-time"}
EVENT_TYPES = {
    "type": "array",
    "minItems": 1,
    "maxItems": 20,
    "items": {"type": "string", "minLength": 1, "maxLength": 60},
    "description": "Integration event types (see `event_types` of the list), or `*` for all",
}
ENDPOINT = {
    "type": "object",
    "required": ["id", "url", "event_types", "personal_data", "status", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "url": {"type": "string"},
        "description": {"type": "string"},
        "event_types": {"type": "array", "items": {"type": "string"}},
        "personal_data": {
            "type": "boolean",
            "description": "Whether events carry the member's names, birth date, city, ...",
        },
        "status": {"type": "string", "enum": ["active", "disabled"]},
        "disabled_reason": {"type": ["string", "null"], "enum": ["by-admin", "failing", None]},
        "created_at": {"type": "string", "format": "date-time"},
        "failing_since": WHEN,
    },
}
NEW_ENDPOINT = {
    "type": "object",
    "required": [*ENDPOINT["required"], "secret"],
    "properties": {
        **ENDPOINT["properties"],
        "secret": {
            "type": "string",
            "description": "Signs every delivery; shown this once, never answered again",
        },
    },
}
ENDPOINTS = {
    "type": "object",
    "required": ["items", "event_types"],
    "properties": {
        "items": {"type": "array", "items": ENDPOINT},
        "event_types": {"type": "array", "items": {"type": "string"}},
    },
}
CREATE_REQUEST = {
    "type": "object",
    "required": ["url", "event_types"],
    "properties": {
        "url": {"type": "string", "minLength": 1, "maxLength": 500},
        "event_types": EVENT_TYPES,
        "description": {"type": "string", "maxLength": 200},
        "personal_data": {"type": "boolean"},
    },
}
UPDATE_REQUEST = {
    "type": "object",
    "properties": {
        "event_types": EVENT_TYPES,
        "description": {"type": "string", "maxLength": 200},
        "personal_data": {"type": "boolean"},
        "enabled": {"type": "boolean", "description": "false switches it off, true back on"},
    },
}
DELIVERY = {
    "type": "object",
    "required": ["id", "event_id", "event_type", "status", "attempts", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "event_id": {"type": "string", "description": "The same on every delivery of the event"},
        "event_type": {"type": "string"},
        "member_id": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
        "attempts": {"type": "integer"},
        "last_status_code": {"type": ["integer", "null"]},
        "last_error": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "last_attempt_at": WHEN,
        "next_attempt_at": WHEN,
        "delivered_at": WHEN,
    },
}
DELIVERIES = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": DELIVERY}},
}


@operation(
    bp,
    "/v1/admin/webhooks",
    "POST",
    summary="Register a webhook endpoint; its signing secret is shown once",
    tag="admin",
    auth="admin",
    request_schema=CREATE_REQUEST,
    example={"url": "https://crm.example.com/loyalty", "event_types": ["purchase.recorded"]},
    responses={
        201: ("The endpoint and its secret", NEW_ENDPOINT),
        422: ("Not an http(s) URL, or an unknown event type", None),
    },
)
def create_endpoint(body: dict):
    created = clients().webhooks.create_endpoint(
        body["url"],
        body["event_types"],
        body.get("description", ""),
        body.get("personal_data", False),
    )
    return created, 201


@operation(
    bp,
    "/v1/admin/webhooks",
    "GET",
    summary="Every webhook endpoint (never its secret), and the event types one may ask for",
    tag="admin",
    auth="admin",
    responses={200: ("The endpoints", ENDPOINTS)},
)
def list_endpoints():
    items, event_types = clients().webhooks.endpoints()
    return {"items": items, "event_types": event_types}


@operation(
    bp,
    "/v1/admin/webhooks/<endpoint_id>",
    "PATCH",
    summary="Change an endpoint's events, description or personal data, or switch it off or on",
    tag="admin",
    auth="admin",
    request_schema=UPDATE_REQUEST,
    example={"event_types": ["*"], "enabled": True},
    responses={
        200: ("The endpoint", ENDPOINT),
        404: ("No such endpoint", None),
        422: ("An unknown event type", None),
    },
)
def update_endpoint(endpoint_id: str, body: dict):
    return clients().webhooks.update_endpoint(endpoint_id, body)


@operation(
    bp,
    "/v1/admin/webhooks/<endpoint_id>/deliveries",
    "GET",
    summary="An endpoint's delivery log, the newest first",
    tag="admin",
    auth="admin",
    query=[
        query_param(
            "status",
            "Only deliveries in this status",
            {"type": "string", "enum": ["pending", "delivered", "failed"]},
        ),
        query_param("before", "Deliveries older than this delivery id (the next page)"),
        query_param("limit", "At most this many (1-200, default 50)", {"type": "integer"}),
    ],
    responses={
        200: ("The deliveries", DELIVERIES),
        404: ("No such endpoint", None),
        422: ("A query parameter or the endpoint id is not valid", None),
    },
)
def list_deliveries(endpoint_id: str):
    limit = request.args.get("limit", "")
    return {
        "items": clients().webhooks.deliveries(
            endpoint_id,
            request.args.get("status", ""),
            request.args.get("before", ""),
            # Only ASCII digits are a number here ("²" is a digit to str.isdigit); the
            # service takes at most 200 anyway.
            min(int(limit), 200) if limit.isascii() and limit.isdigit() else 0,
        )
    }


@operation(
    bp,
    "/v1/admin/webhooks/<endpoint_id>/deliveries/<delivery_id>/redeliver",
    "POST",
    summary="Send a delivery's event again (same event id), after the member's earlier ones",
    tag="admin",
    auth="admin",
    responses={
        202: ("The delivery that will carry it (one already waiting, or a new one)", DELIVERY),
        404: ("No such endpoint or delivery", None),
        422: ("Not an endpoint or delivery id", None),
    },
)
def redeliver(endpoint_id: str, delivery_id: str):
    return clients().webhooks.redeliver(endpoint_id, delivery_id), 202
