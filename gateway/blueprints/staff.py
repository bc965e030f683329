"""Staff accounts: created by an admin, logged in with e-mail and password, logged out.

Failed logins are throttled per account and per client IP by the identity service (counted in
its database): past `IDENTITY_STAFF_LOGIN_FAILURES_PER_MINUTE` failures in a minute every login
for that account or from that address is refused with 429 `login-throttled`, even with the right
password, until the minute ends (`Retry-After`).
"""

from __future__ import annotations

from datetime import UTC

import grpc
from flask import Blueprint, current_app, jsonify, make_response

from gateway.api import operation
from gateway.auth import clear_session_cookie, credential, set_session_cookie
from gateway.limits import client_ip
from gateway.problems import from_rpc_error
from loyalty.identity.v1 import identity_pb2

bp = Blueprint("staff", __name__)

# Argon2 is slow on purpose; on a busy host a hash may take longer than the usual deadline.
PASSWORD_RPC_TIMEOUT = 15.0

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


def staff_json(staff: identity_pb2.StaffMember) -> dict:
    return {"id": staff.id, "email": staff.email, "role": staff.role, "disabled": staff.disabled}


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
    response = current_app.extensions["upstreams"].identity.CreateStaff(
        identity_pb2.CreateStaffRequest(
            email=body["email"], password=body["password"], role=body["role"]
        ),
        timeout=PASSWORD_RPC_TIMEOUT,
    )
    return staff_json(response.staff), 201


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
    response = current_app.extensions["upstreams"].identity.SetStaffDisabled(
        identity_pb2.SetStaffDisabledRequest(staff_id=staff_id, disabled=body["disabled"])
    )
    return staff_json(response.staff)


def log_in(email: str, password: str) -> identity_pb2.LoginStaffResponse:
    """A staff session for e-mail and password (throttled by identity): the JSON login and the
    console's sign-in page both come through here."""
    try:
        return current_app.extensions["upstreams"].identity.LoginStaff(
            identity_pb2.LoginStaffRequest(
                email=email, password=password, client_address=client_ip()
            ),
            timeout=PASSWORD_RPC_TIMEOUT,
        )
    except grpc.RpcError as error:
        raise from_rpc_error(error) from None


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
    response = log_in(body["email"], body["password"])
    answer = make_response(
        jsonify(
            token=response.token,
            expires_at=response.expires_at.ToJsonString(),
            role=response.staff.role,
            staff_id=response.staff.id,
        )
    )
    set_session_cookie(answer, response.token, response.expires_at.ToDatetime(tzinfo=UTC))
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
    current_app.extensions["sessions"].revoke(credential())
    answer = make_response("", 204)
    clear_session_cookie(answer)
    return answer
