"""Cases for support staff: record a member's contact, list the open ones, resolve one."""

from __future__ import annotations

from flask import Blueprint, g, request

from gateway.api import operation, query_param
from gateway.clients import clients
from gateway.problems import Problem
from gateway.schemas import CASE_CHANNELS, CASE_KINDS

bp = Blueprint("cases", __name__)

LISTED_MAX = 500
CASE = {
    "type": "object",
    "required": ["case_id", "member_id", "kind", "channel", "status", "opened_at"],
    "properties": {
        "case_id": {"type": "string"},
        "member_id": {"type": "string"},
        "kind": {"type": "string", "enum": list(CASE_KINDS)},
        "channel": {"type": "string", "enum": list(CASE_CHANNELS)},
        "category": {"type": "string"},
        "text": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "resolved"]},
        "opened_by": {"type": "string", "description": "`staff:<id>` or `admin-token`"},
        "opened_at": {"type": "string", "format": "date-time"},
        "resolved_by": {"type": "string"},
        "resolved_at": {"type": ["string", "null"], "format": "date-time"},
        "resolution": {"type": "string"},
        "follow_up": {
            "type": "string",
            "description": "The follow-up rating request's message status (`sent`,"
            " `skipped-no-consent`, ...); empty until resolved",
        },
    },
}
CASES = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": CASE}},
}
OPEN_CASE = {
    "type": "object",
    "required": ["case_id", "kind", "channel", "category", "text"],
    "properties": {
        "case_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "Your own id: a retry with the same id records the contact once",
        },
        "kind": {"type": "string", "enum": list(CASE_KINDS)},
        "channel": {"type": "string", "enum": list(CASE_CHANNELS)},
        "category": {"type": "string", "minLength": 1, "maxLength": 60},
        "text": {"type": "string", "minLength": 1, "maxLength": 2000},
    },
}
RESOLUTION = {
    "type": "object",
    "required": ["resolution"],
    "properties": {"resolution": {"type": "string", "maxLength": 2000}},
}


@operation(
    bp,
    "/v1/support/members/<member_id>/cases",
    "POST",
    summary="Record a member's contact: an open complaint makes the member dissatisfied at once",
    tag="member care",
    auth="support",
    request_schema=OPEN_CASE,
    example={
        "case_id": "CASE-1",
        "kind": "complaint",
        "channel": "phone",
        "category": "Cashier",
        "text": "Rude at the till",
    },
    responses={
        201: ("The case; a retry with the same case_id gets the same answer", CASE),
        404: ("No such member", None),
        422: ("The member id is not valid, or the case_id names another member's case", None),
    },
)
def open_case(member_id: str, body: dict):
    survivor = clients().identity.member(member_id)["id"]
    details = {key: body[key] for key in ("kind", "channel", "category", "text")}
    return clients().campaigns.open_case(body["case_id"], survivor, details, g.caller.actor), 201


@operation(
    bp,
    "/v1/support/cases",
    "GET",
    summary="Cases oldest first (the queue), or a member's newest first",
    tag="member care",
    auth="support",
    query=[
        query_param(
            "status", "Only cases in this status", {"type": "string", "enum": ["open", "resolved"]}
        ),
        query_param("member_id", "Only this member's cases, newest first"),
        query_param(
            "limit", f"Cases to list (1-{LISTED_MAX}, default 50)", {"type": "integer"}, 50
        ),
    ],
    responses={
        200: ("The cases", CASES),
        400: ("A query parameter is not valid", None),
        404: ("member_id names no member", None),
        422: ("member_id is not a member id", None),
    },
)
def listed():
    status = request.args.get("status", "")
    if status not in ("", "open", "resolved"):
        raise Problem(400, "invalid-request", "status must be open or resolved")
    raw = request.args.get("limit", "50")
    if not raw.isdecimal() or not 1 <= int(raw) <= LISTED_MAX:
        raise Problem(
            400, "invalid-request", f"limit must be a whole number from 1 to {LISTED_MAX}"
        )
    member_id = request.args.get("member_id", "")
    if member_id:
        member_id = clients().identity.member(member_id)["id"]
    return {"items": clients().campaigns.cases(member_id, status, int(raw))}


@operation(
    bp,
    "/v1/support/cases/<case_id>/resolution",
    "POST",
    summary="Resolve a case: a resolved complaint asks the member for a follow-up rating, once",
    tag="member care",
    auth="support",
    request_schema=RESOLUTION,
    example={"resolution": "Apologised and credited 200 points"},
    responses={
        200: ("The resolved case (again: the first resolution)", CASE),
        404: ("No such case (`case-not-found`)", None),
    },
)
def resolve(case_id: str, body: dict):
    return clients().campaigns.resolve_case(case_id, body["resolution"], g.caller.actor)
