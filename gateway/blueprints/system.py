"""Liveness, readiness and the API description."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from gateway.api import operation
from gateway.clients import clients
from gateway.openapi import document

bp = Blueprint("system", __name__)

HEALTH_SCHEMA = {"type": "object", "properties": {"status": {"type": "string"}}}
READY_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ready", "not-ready"]},
        "services": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@operation(
    bp,
    "/healthz",
    "GET",
    summary="The gateway process is alive",
    tag="system",
    auth=None,
    rate_limited=False,
    responses={200: ("Alive", HEALTH_SCHEMA)},
)
def healthz():
    return jsonify(status="ok")


@operation(
    bp,
    "/readyz",
    "GET",
    summary="All four services report SERVING",
    tag="system",
    auth=None,
    rate_limited=False,
    responses={200: ("Ready", READY_SCHEMA), 503: ("Not ready", READY_SCHEMA)},
)
def readyz():
    services = clients().health()
    ready = all(status == "SERVING" for status in services.values())
    return jsonify(status="ready" if ready else "not-ready", services=services), (
        200 if ready else 503
    )


@operation(
    bp,
    "/openapi.json",
    "GET",
    summary="This API's OpenAPI 3.1 description",
    tag="system",
    auth=None,
    rate_limited=False,
    responses={200: ("The OpenAPI document", {"type": "object"})},
)
def openapi():
    return jsonify(document(current_app.config["LOYALTY"].currency))
