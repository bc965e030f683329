"""The logged-in caller's own session: who it is and until when."""

from __future__ import annotations

from flask import Blueprint, g

from gateway.api import operation

bp = Blueprint("sessions", __name__)

SESSION = {
    "type": "object",
    "required": ["kind", "expires_at"],
    "properties": {
        "kind": {"type": "string", "enum": ["member", "staff"]},
        "member_id": {"type": "string", "description": "Member sessions"},
        "staff_id": {"type": "string", "description": "Staff sessions"},
        "role": {"type": "string", "enum": ["admin", "marketer", "support"]},
        "expires_at": {"type": "string", "format": "date-time"},
    },
}


@operation(
    bp,
    "/v1/session",
    "GET",
    summary="The session this token (or the session cookie) belongs to",
    tag="sessions",
    auth="session",
    responses={200: ("The session", SESSION)},
)
def current_session():
    caller = g.caller
    answer: dict = {"kind": caller.kind}
    if caller.kind == "member":
        answer["member_id"] = caller.member_id
    else:
        answer["staff_id"] = caller.staff_id
        answer["role"] = caller.role
    answer["expires_at"] = caller.expires_at.isoformat().replace("+00:00", "Z")
    return answer
