"""Member care for admins and support staff: duplicates and merges, erasure, data export."""

from __future__ import annotations

from flask import Blueprint, g, request

from gateway.api import operation, query_param
from gateway.clients import clients
from gateway.members import export_member
from gateway.problems import Problem
from gateway.schemas import COUPON, COUPONS, EXPORT, MEMBER

bp = Blueprint("member_care", __name__)

DUPLICATES = {
    "type": "object",
    "required": ["pairs"],
    "properties": {
        "pairs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["first", "second", "reason"],
                "properties": {
                    "first": MEMBER,
                    "second": MEMBER,
                    "reason": {"type": "string", "enum": ["email", "name-and-birth-date"]},
                },
            },
        }
    },
}
MERGE_REQUEST = {
    "type": "object",
    "required": ["survivor_id", "duplicate_id"],
    "properties": {
        "survivor_id": {"type": "string", "maxLength": 64},
        "duplicate_id": {"type": "string", "maxLength": 64},
    },
}
MERGED = {
    "type": "object",
    "required": ["survivor", "available_points"],
    "properties": {"survivor": MEMBER, "available_points": {"type": "integer"}},
}
ERASED = {
    "type": "object",
    "required": ["member_id", "erased_at"],
    "properties": {
        "member_id": {"type": "string"},
        "erased_at": {"type": "string", "format": "date-time"},
    },
}


@operation(
    bp,
    "/v1/support/members/duplicates",
    "GET",
    summary="Likely duplicate members: the same e-mail, or the same name and birth date",
    tag="member care",
    auth="support",
    query=[
        query_param("limit", "Pairs to list (1-500, default 50)", {"type": "integer", "minimum": 1})
    ],
    responses={200: ("Pairs of members", DUPLICATES)},
)
def duplicates():
    raw = request.args.get("limit", "50")
    if not raw.isdecimal() or not 1 <= int(raw) <= 500:
        raise Problem(400, "invalid-request", "limit must be a whole number from 1 to 500")
    return {"pairs": clients().identity.duplicates(int(raw))}


@operation(
    bp,
    "/v1/support/members/merges",
    "POST",
    summary="Merge a duplicate into a survivor: points, identifiers and profile move",
    tag="member care",
    auth="support",
    request_schema=MERGE_REQUEST,
    example={
        "survivor_id": "6f1c2a8e-0d5b-4c1e-9a57-3f2b8d9e4c10",
        "duplicate_id": "0b7d6c7e-2f0a-4c9b-8e51-1d2f3a4b5c6d",
    },
    responses={
        200: ("Merged; the duplicate's id, card and phone now find the survivor", MERGED),
        404: ("No such member", None),
        409: ("`merge-in-progress`: one of the members is in another merge under way", None),
        422: ("Same member, already merged, erased, or points on hold", None),
    },
)
def merge(body: dict):
    return clients().identity.merge(body["survivor_id"], body["duplicate_id"], g.caller.actor)


@operation(
    bp,
    "/v1/support/members/<member_id>/erasure",
    "POST",
    summary="Erase a member's personal data on their request; the ledger keeps balancing",
    tag="member care",
    auth="support",
    responses={
        200: ("Erased (again: the first erasure's time)", ERASED),
        404: ("No such member", None),
        422: ("The member id is not valid", None),
    },
)
def erase(member_id: str):
    erased_at = clients().identity.erase(member_id, g.caller.actor)
    return {"member_id": member_id, "erased_at": erased_at}


@operation(
    bp,
    "/v1/support/members/<member_id>/export",
    "GET",
    summary="Everything the club holds about a member, for a data request",
    tag="member care",
    auth="support",
    responses={
        200: ("The export", EXPORT),
        404: ("No such member", None),
        422: ("The member id is not valid", None),
    },
)
def export(member_id: str):
    return export_member(clients(), member_id, g.caller.actor)


@operation(
    bp,
    "/v1/support/members/<member_id>/coupons",
    "GET",
    summary="A member's coupons, newest first",
    tag="member care",
    auth="support",
    responses={200: ("The coupons", COUPONS), 422: ("The member id is not valid", None)},
)
def member_coupons(member_id: str):
    return {"items": clients().rewards.coupons(member_id)}


@operation(
    bp,
    "/v1/support/coupons/<code>/cancellation",
    "POST",
    summary="Cancel an unused coupon; its points go back when the reward says so",
    tag="member care",
    auth="support",
    request_schema={
        "type": "object",
        "required": ["reason"],
        "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 200}},
    },
    example={"reason": "The member redeemed the wrong reward"},
    responses={
        200: (
            "Cancelled (again: the same answer)",
            {
                "type": "object",
                "required": ["coupon", "points_returned"],
                "properties": {"coupon": COUPON, "points_returned": {"type": "integer"}},
            },
        ),
        404: ("No coupon with this code (`coupon-not-found`)", None),
        409: ("The coupon was used (`coupon-used`) or has expired (`coupon-expired`)", None),
    },
)
def cancel_coupon(code: str, body: dict):
    return clients().rewards.cancel(code, g.caller.actor, body["reason"])
