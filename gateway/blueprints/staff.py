"""Staff accounts: created by an admin, logged in with e-mail and password, logged out.

Failed logins are throttled per account and per client IP by the identity service (counted in
its database): past `IDENTITY_STAFF_LOGIN_FAILURES_PER_MINUTE` failures in a minute every login
for that account or from that address is refused with 429 `login-throttled`, even with the right
password, until the minute ends (`Retry-After`).
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, make_response

from gateway.api import operation
from gateway.auth import clear_session_cookie, credential, set_session_cookie
from gateway.clients import clients
from gateway.logins import log_in_staff, log_out

bp = Blueprint("staff", __name__)

ROLE = {"type": "string", "enum": ["admin", "marketer", "support"]}
STAFF_REQUEST = {
    "type": "object",
    "required": ["email", "password", "role"],
    "properties": {
        "email": {"type": "string", "minLength": 3, "maxLength": 254},
        "password": {"type": "string", "minLength": 10, "maxLength": 200},
        "role": ROLE,
    },
}
STAFF = {
    "type": "object",
    "required": ["id", "email", "role", "disabled"],
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "role": ROLE,
        "disabled": {"type": "boolean"},
    },
}
LOGIN_REQUEST = {
    "type": "object",
    "required": ["email", "password"],
    "properties": {
        "email": {"type": "string", "maxLength": 254},
        "password": {"type": "string", "maxLength": 1000},
    },
}
LOGIN = {
    "type": "object",
    "required": ["token", "expires_at", "role"],
    "properties": {
        "token": {"type": "string", "description": "Send as `Authorization: Bearer <token>`"},
        "expires_at": {"type": "string", "format": "date-time"},
        "role": ROLE,
        "staff_id": {"type": "string"},
    },
}
DISABLED_REQUEST = {
    "type": "object",
    "required": ["disabled"],
    "properties": {"disabled": {"type": "boolean"}},
}


@operation(
    bp,
    "/v1/admin/staff",
    "POST",
    summary="Create a staff account",
    tag="staff",
    auth="admin",
    request_schema=STAFF_REQUEST,
    example={"email": "maryam@example.com", "password": "a long passphrase", "role": "marketer"},
    responses={
        201: ("The account", STAFF),
        409: ("An account has this e-mail", None),
        422: ("The e-mail is not an address, or the password is too short", None),
    },
)
def create_staff(body: dict):
    return (
        clients().identity.create_staff(
            body["email"], body["password"], body["role"], g.caller.actor
        ),
        201,
    )


@operation(
    bp,
    "/v1/admin/staff/<staff_id>/disabled",
    "PUT",
    summary="Disable (ending every session at once) or enable a staff account",
    tag="staff",
    auth="admin",
    request_schema=DISABLED_REQUEST,
    example={"disabled": True},
    responses={200: ("The account", STAFF), 404: ("No such account", None)},
)
def set_disabled(staff_id: str, body: dict):
    return clients().identity.set_staff_disabled(staff_id, body["disabled"], g.caller.actor)


STAFF_LIST = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": STAFF}},
}
ROLE_REQUEST = {"type": "object", "required": ["role"], "properties": {"role": ROLE}}
PASSWORD_REQUEST = {
    "type": "object",
    "required": ["password"],
    "properties": {"password": STAFF_REQUEST["properties"]["password"]},
}


@operation(
    bp,
    "/v1/admin/staff",
    "GET",
    summary="Every staff account, by e-mail",
    tag="staff",
    auth="admin",
    responses={200: ("The accounts", STAFF_LIST)},
)
def list_staff():
    return {"items": clients().identity.staff()}


@operation(
    bp,
    "/v1/admin/staff/<staff_id>/role",
    "PUT",
    summary="Give a staff account another role; its sessions end, so the next sign-in has it",
    tag="staff",
    auth="admin",
    request_schema=ROLE_REQUEST,
    example={"role": "support"},
    responses={200: ("The account", STAFF), 404: ("No such account", None)},
)
def set_role(staff_id: str, body: dict):
    return clients().identity.change_staff(staff_id, g.caller.actor, role=body["role"])


@operation(
    bp,
    "/v1/admin/staff/<staff_id>/password",
    "PUT",
    summary="Set a new password for a staff account; its sessions end",
    tag="staff",
    auth="admin",
    request_schema=PASSWORD_REQUEST,
    example={"password": "another long passphrase"},
    responses={
        200: ("The account", STAFF),
        404: ("No such account", None),
        422: ("The password is too short", None),
    },
)
def reset_password(staff_id: str, body: dict):
    return clients().identity.change_staff(staff_id, g.caller.actor, password=body["password"])


@operation(
    bp,
    "/v1/admin/staff/<staff_id>/sign-out",
    "POST",
    summary="End every session of a staff account at once",
    tag="staff",
    auth="admin",
    responses={200: ("The account", STAFF), 404: ("No such account", None)},
)
def sign_out_everywhere(staff_id: str):
    return clients().identity.change_staff(staff_id, g.caller.actor, sign_out=True)


@operation(
    bp,
    "/v1/staff/login",
    "POST",
    summary="Log in with e-mail and password; the session token is also set as a cookie",
    tag="staff",
    auth=None,
    request_schema=LOGIN_REQUEST,
    example={"email": "maryam@example.com", "password": "a long passphrase"},
    responses={
        200: ("A staff session", LOGIN),
        401: ("Wrong e-mail or password, or the account is disabled", None),
        429: ("Too many failed logins for this account or from this address", None),
    },
)
def login(body: dict):
    grant = log_in_staff(body["email"], body["password"])
    answer = make_response(
        jsonify(
            token=grant.token,
            expires_at=grant.expires_at,
            role=grant.role,
            staff_id=grant.staff_id,
        )
    )
    set_session_cookie(answer, grant.token, grant.ends)
    return answer


@operation(
    bp,
    "/v1/staff/logout",
    "POST",
    summary="End this staff session (the token or the cookie) at once",
    tag="staff",
    auth="staff",
    responses={204: ("Logged out", None)},
)
def logout():
    log_out(credential())
    answer = make_response("", 204)
    clear_session_cookie(answer)
    return answer
