"""A store's POS keys: issued (shown once), listed, revoked, rotated.

Rotation issues a new key and gives the old one a grace period (`grace_seconds`, default a day),
so that both work while the tills switch over; revoking ends a key at once. A key acts only for
its own store: the transaction, refund and redemption ids it uses are its store's own, so another
store's purchase or hold is simply not found (404) through it.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g

from gateway.api import operation
from gateway.clients import clients

bp = Blueprint("pos_keys", __name__)

DEFAULT_GRACE = 24 * 3600
MAX_GRACE = 30 * 24 * 3600

WHEN = {"type": ["string", "null"], "format": "date-time"}
KEY = {
    "type": "object",
    "required": ["key_id", "status", "created_at", "revoked_at", "expires_at"],
    "properties": {
        "key_id": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["active", "expiring", "expired", "revoked"],
            "description": "`expiring`: still valid, until `expires_at` (a rotation's grace)",
        },
        "created_at": {"type": "string", "format": "date-time"},
        "revoked_at": WHEN,
        "expires_at": WHEN,
    },
}
KEYS = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": KEY}},
}
NEW_KEY = {
    "type": "object",
    "required": ["key_id", "api_key"],
    "properties": {
        "key_id": {"type": "string"},
        "api_key": {"type": "string", "description": "Shown this once; only its hash is kept"},
    },
}
ROTATED = {
    "type": "object",
    "required": ["key_id", "api_key", "replaced"],
    "properties": {**NEW_KEY["properties"], "replaced": KEY},
}
ROTATE_REQUEST = {
    "type": "object",
    "properties": {
        "grace_seconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_GRACE,
            "description": f"How long the old key keeps working (default {DEFAULT_GRACE})",
        }
    },
}


@operation(
    bp,
    "/v1/admin/stores/<store_id>/api-keys",
    "POST",
    summary="Issue a POS key for a store",
    tag="admin",
    auth="admin",
    responses={
        201: ("The key, shown once", NEW_KEY),
        404: ("No such store", None),
        422: ("`store-closed`: the store is closed", None),
    },
)
def create_api_key(store_id: str):
    return clients().identity.create_api_key(store_id, g.caller.actor), 201


@operation(
    bp,
    "/v1/admin/stores/<store_id>/api-keys",
    "GET",
    summary="A store's POS keys, newest first (never the keys themselves)",
    tag="admin",
    auth="admin",
    responses={200: ("The keys", KEYS), 404: ("No such store", None)},
)
def list_api_keys(store_id: str):
    return {"items": clients().identity.api_keys(store_id)}


@operation(
    bp,
    "/v1/admin/stores/<store_id>/api-keys/<key_id>/revoke",
    "POST",
    summary="Revoke a POS key at once (revoking again answers the same)",
    tag="admin",
    auth="admin",
    responses={200: ("The revoked key", KEY), 404: ("The store has no such key", None)},
)
def revoke_api_key(store_id: str, key_id: str):
    key, key_hash = clients().identity.revoke_api_key(store_id, key_id, g.caller.actor)
    current_app.extensions["pos_keys"].forget(key_hash)
    return key


@operation(
    bp,
    "/v1/admin/stores/<store_id>/api-keys/<key_id>/rotate",
    "POST",
    summary="Issue a new POS key; the old one keeps working for the grace period",
    tag="admin",
    auth="admin",
    request_schema=ROTATE_REQUEST,
    example={"grace_seconds": 3600},
    responses={
        201: ("The new key, shown once, and the old key's end", ROTATED),
        404: ("The store has no such key", None),
        422: ("The old key is already revoked or expired", None),
    },
)
def rotate_api_key(store_id: str, key_id: str, body: dict):
    rotated, replaced_hash = clients().identity.rotate_api_key(
        store_id, key_id, body.get("grace_seconds", DEFAULT_GRACE), g.caller.actor
    )
    current_app.extensions["pos_keys"].forget(replaced_hash)
    return rotated, 201
