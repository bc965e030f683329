"""Set-up done by the admin: stores and their POS keys."""

from __future__ import annotations

from flask import Blueprint, current_app

from gateway.api import operation
from loyalty.identity.v1 import identity_pb2
from loyalty.points.v1 import points_pb2

bp = Blueprint("admin", __name__)

STORE_REQUEST = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}},
}
STORE = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}
API_KEY = {
    "type": "object",
    "required": ["key_id", "api_key"],
    "properties": {
        "key_id": {"type": "string"},
        "api_key": {"type": "string", "description": "Shown this once; only its hash is kept"},
    },
}


@operation(
    bp,
    "/v1/admin/stores",
    "POST",
    summary="Create a store",
    tag="admin",
    auth="admin",
    request_schema=STORE_REQUEST,
    example={"name": "Tehran - Valiasr"},
    responses={201: ("The store", STORE)},
)
def create_store(body: dict):
    response = current_app.extensions["upstreams"].identity.CreateStore(
        identity_pb2.CreateStoreRequest(name=body["name"])
    )
    return {"id": response.store.id, "name": response.store.name}, 201


@operation(
    bp,
    "/v1/admin/stores/<store_id>/api-keys",
    "POST",
    summary="Issue a POS key for a store",
    tag="admin",
    auth="admin",
    responses={201: ("The key, shown once", API_KEY), 404: ("No such store", None)},
)
def create_api_key(store_id: str):
    response = current_app.extensions["upstreams"].identity.CreateApiKey(
        identity_pb2.CreateApiKeyRequest(store_id=store_id)
    )
    return {"key_id": response.key_id, "api_key": response.api_key}, 201


JOBS = {
    "type": "object",
    "properties": {
        "points_activated": {"type": "integer"},
        "points_expired": {"type": "integer"},
        "holds_expired": {"type": "integer"},
    },
}


@operation(
    bp,
    "/v1/admin/points/jobs",
    "POST",
    summary="Run the ledger jobs now: activate due pending points, expire due points and holds",
    tag="admin",
    auth="admin",
    responses={200: ("What the jobs moved", JOBS)},
)
def run_jobs():
    report = current_app.extensions["upstreams"].points.RunJobs(
        points_pb2.RunJobsRequest(), timeout=300
    )
    return {
        "points_activated": report.points_activated,
        "points_expired": report.points_expired,
        "holds_expired": report.holds_expired,
    }
