"""The member's own door: log in with a code sent to the phone, then read and change only
their own data. No route here takes a member id: it always comes from the session."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, g, request

from gateway.api import operation, query_param
from gateway.auth import credential
from gateway.clients import clients
from gateway.clients.identity import CONSENT_CHANNELS
from gateway.limits import client_ip
from gateway.logins import log_in_member, log_out, send_member_code
from gateway.members import export_member, member_ledger, member_missions, member_referral
from gateway.problems import Problem
from gateway.schemas import (
    BALANCE,
    COUPON,
    COUPON_EXAMPLE,
    COUPONS,
    DRAW,
    DRAWS,
    EXPORT,
    LEDGER,
    LEDGER_QUERY,
    MEMBER,
    MESSAGES_QUERY,
    OFFER,
    POINTS,
    REWARDS,
    ledger_page_args,
    messages_page_args,
)

bp = Blueprint("me", __name__)

PHONE = {"type": "string", "minLength": 1, "maxLength": 40, "examples": ["09121234567"]}
CODE = {"type": "string", "minLength": 1, "maxLength": 12, "examples": ["123456"]}

CODE_SENT = {
    "type": "object",
    "required": ["expires_in"],
    "properties": {"expires_in": {"type": "integer", "description": "Seconds the code works"}},
}
LOGGED_IN = {
    "type": "object",
    "required": ["token", "expires_at", "member_id", "enrolled"],
    "properties": {
        "token": {"type": "string", "description": "Send as `Authorization: Bearer <token>`"},
        "expires_at": {"type": "string", "format": "date-time"},
        "member_id": {"type": "string"},
        "enrolled": {"type": "boolean", "description": "This login made the phone a member"},
    },
}
ME = {
    "type": "object",
    "required": ["member", "points"],
    "properties": {"member": MEMBER, "points": POINTS},
}
PROFILE_REQUEST = {
    "type": "object",
    "additionalProperties": True,
    "properties": {
        "first_name": {"type": "string", "maxLength": 100},
        "last_name": {"type": "string", "maxLength": 100},
        "birth_date": {"type": "string", "maxLength": 10, "description": "YYYY-MM-DD or empty"},
        "city": {"type": "string", "maxLength": 100},
        "gender": {"type": "string", "enum": ["", "female", "male", "other"]},
        "email": {
            "type": "string",
            "maxLength": 254,
            "description": "A new address is not set yet: a code is sent to it, and "
            "`POST /v1/me/email/confirm` sets it. Empty removes the address.",
        },
        "interests": {
            "type": "array",
            "maxItems": 20,
            "items": {"type": "string", "maxLength": 40},
        },
    },
}
PROFILE = {
    **MEMBER,
    "properties": {
        **MEMBER["properties"],
        "email_change": {
            "type": "object",
            "description": "Present when a code was sent to a new e-mail address",
            "required": ["email", "expires_in"],
            "properties": {
                "email": {"type": "string", "description": "Where the code went"},
                "expires_in": {"type": "integer", "description": "Seconds the code works"},
            },
        },
    },
}
EMAIL_CONFIRM_REQUEST = {
    "type": "object",
    "required": ["email", "code"],
    "properties": {"email": {"type": "string", "maxLength": 254}, "code": CODE},
}
CONSENT_REQUEST = {
    "type": "object",
    "required": ["granted"],
    "properties": {"granted": {"type": "boolean"}},
}
QR = {
    "type": "object",
    "required": ["token", "expires_at"],
    "properties": {
        "token": {"type": "string", "description": "Show as a QR code; the till scans it"},
        "expires_at": {"type": "string", "format": "date-time"},
    },
}


@operation(
    bp,
    "/v1/auth/otp",
    "POST",
    summary="Send a one-time login code to a phone",
    tag="member login",
    auth=None,
    request_schema={
        "type": "object",
        "required": ["phone"],
        "properties": {"phone": PHONE},
    },
    example={"phone": "09121234567"},
    responses={
        202: ("The code is on its way by SMS", CODE_SENT),
        422: ("Not a phone number", None),
        429: ("Too many codes for this number or from this address; see Retry-After", None),
    },
)
def send_code(body: dict):
    return {"expires_in": send_member_code(body["phone"])}, 202


@operation(
    bp,
    "/v1/auth/otp/verify",
    "POST",
    summary="Log in with the code; a new phone number is enrolled as a member",
    tag="member login",
    auth=None,
    request_schema={
        "type": "object",
        "required": ["phone", "code"],
        "properties": {
            "phone": PHONE,
            "code": CODE,
            "referral_code": {
                "type": "string",
                "maxLength": 20,
                "description": "A friend's referral code, for a phone this login enrols (an"
                " existing member's login ignores it)",
            },
        },
    },
    example={"phone": "09121234567", "code": "123456"},
    responses={
        200: ("A member session", LOGGED_IN),
        401: ("The code is wrong, expired or already used", None),
        409: ("The code was used by a request at the same moment", None),
        422: (
            "Not a phone number; or `invalid-referral-code` (unknown, or referrals are off):"
            " nobody is enrolled and the code is not used up",
            None,
        ),
        429: ("Five wrong tries: ask for a new code", None),
    },
)
def verify_code(body: dict):
    grant = log_in_member(body["phone"], body["code"], body.get("referral_code", ""))
    return {
        "token": grant.token,
        "expires_at": grant.expires_at,
        "member_id": grant.member_id,
        "enrolled": grant.enrolled,
    }


@operation(
    bp,
    "/v1/auth/logout",
    "POST",
    summary="End this session",
    tag="member login",
    auth="session",
    responses={
        200: (
            "Logged out; the token no longer works",
            {
                "type": "object",
                "required": ["logged_out"],
                "properties": {"logged_out": {"type": "boolean"}},
            },
        )
    },
)
def logout():
    log_out(credential())
    return {"logged_out": True}


@operation(
    bp,
    "/v1/me",
    "GET",
    summary="The member's profile and points",
    tag="me",
    auth="member",
    responses={200: ("Profile and points", ME), 404: ("The member was erased", None)},
)
def me():
    member = clients().identity.member(g.caller.member_id)
    return {"member": member, "points": clients().points.balance(member["id"])}


REFERRAL = {
    "type": "object",
    "required": ["code", "link", "invited", "rewarded"],
    "properties": {
        "code": {"type": "string", "description": "The member's referral code, to give friends"},
        "link": {"type": "string", "description": "The portal's login page with the code in"},
        "invited": {"type": "integer", "description": "Friends who enrolled with the code"},
        "rewarded": {
            "type": "integer",
            "description": "Friends whose first qualifying purchase rewarded the referral",
        },
    },
}


@operation(
    bp,
    "/v1/me/referral",
    "GET",
    summary="The member's referral code, its link, and the friends it brought",
    tag="me",
    auth="member",
    responses={200: ("The referral code and its friends", REFERRAL), 404: ("Erased", None)},
)
def referral():
    return member_referral(clients(), g.caller.member_id)


@operation(
    bp,
    "/v1/me",
    "PATCH",
    summary="Change profile fields; fields left out stay as they are",
    tag="me",
    auth="member",
    request_schema=PROFILE_REQUEST,
    example={"first_name": "Sara", "city": "Shiraz", "interests": ["coffee"]},
    responses={
        200: ("The profile; a new e-mail address is in `email_change` until confirmed", PROFILE),
        404: ("The member was erased", None),
        422: ("A field is not valid", None),
        429: ("Too many codes for this e-mail address or from this client; see Retry-After", None),
    },
)
def update_profile(body: dict):
    return clients().identity.update_profile(g.caller.member_id, body, client_ip())


@operation(
    bp,
    "/v1/me/email/confirm",
    "POST",
    summary="Set the new e-mail address with the code sent to it",
    tag="me",
    auth="member",
    request_schema=EMAIL_CONFIRM_REQUEST,
    example={"email": "sara@example.com", "code": "123456"},
    responses={
        200: ("The profile, with the new address", MEMBER),
        401: ("The code is wrong or expired, or was sent for another address", None),
        404: ("The member was erased", None),
        409: ("The code was just used", None),
        422: ("Not an e-mail address", None),
        429: ("Five wrong tries on the code: change the address again for a new one", None),
    },
)
def confirm_email_change(body: dict):
    return clients().identity.confirm_email_change(g.caller.member_id, body["email"], body["code"])


@operation(
    bp,
    "/v1/me/consents/<channel>",
    "PUT",
    summary="Give or withdraw consent to marketing on a channel (sms or email)",
    tag="me",
    auth="member",
    request_schema=CONSENT_REQUEST,
    example={"granted": True},
    responses={
        200: ("The profile", MEMBER),
        404: ("No such channel, or the member was erased", None),
    },
)
def set_consent(channel: str, body: dict):
    if channel not in CONSENT_CHANNELS:
        raise Problem(404, "not-found", "consent channels are sms and email")
    return clients().identity.set_consent(g.caller.member_id, channel, body["granted"])


@operation(
    bp,
    "/v1/me/ledger",
    "GET",
    summary="The member's points history, newest first",
    tag="me",
    auth="member",
    query=LEDGER_QUERY,
    responses={
        200: ("A page of entries", LEDGER),
        404: ("The member was erased", None),
        422: ("The cursor is not valid", None),
    },
)
def my_ledger():
    return member_ledger(clients(), g.caller.member_id, *ledger_page_args())


@operation(
    bp,
    "/v1/me/qr",
    "GET",
    summary="A fresh QR token for the till; ask again before it expires",
    tag="me",
    auth="member",
    responses={200: ("The token", QR), 404: ("The member was erased", None)},
)
def my_qr():
    return clients().identity.issue_qr(g.caller.member_id), 200, {"Cache-Control": "no-store"}


@operation(
    bp,
    "/v1/me/phone",
    "POST",
    summary="Start changing the phone number: codes go to the current and the new number",
    tag="me",
    auth="member",
    request_schema={"type": "object", "required": ["phone"], "properties": {"phone": PHONE}},
    example={"phone": "09351234567"},
    responses={
        202: ("Both codes are on their way", CODE_SENT),
        404: ("The member was erased", None),
        409: ("The new number belongs to another member", None),
        422: ("Not a phone number", None),
        429: ("Too many codes; see Retry-After", None),
    },
)
def start_phone_change(body: dict):
    expires_in = clients().identity.start_phone_change(
        g.caller.member_id, body["phone"], client_ip()
    )
    return {"expires_in": expires_in}, 202


@operation(
    bp,
    "/v1/me/phone/confirm",
    "POST",
    summary="Change the phone number with both codes",
    tag="me",
    auth="member",
    request_schema={
        "type": "object",
        "required": ["phone", "old_code", "new_code"],
        "properties": {"phone": PHONE, "old_code": CODE, "new_code": CODE},
    },
    example={"phone": "09351234567", "old_code": "123456", "new_code": "654321"},
    responses={
        200: ("The profile, with the new number", MEMBER),
        401: ("A code is wrong or expired", None),
        404: ("The member was erased", None),
        409: ("The new number belongs to another member, or a code was just used", None),
        422: ("Not a phone number", None),
        429: ("Five wrong tries on a code: ask for new codes", None),
    },
)
def confirm_phone_change(body: dict):
    return clients().identity.confirm_phone_change(
        g.caller.member_id, body["phone"], body["old_code"], body["new_code"]
    )


@operation(
    bp,
    "/v1/me/export",
    "GET",
    summary="Everything the club holds about the member, as one JSON document",
    tag="me",
    auth="member",
    responses={200: ("The export", EXPORT), 404: ("The member was erased", None)},
)
def my_export():
    return export_member(clients(), g.caller.member_id)


@operation(
    bp,
    "/v1/me/offers",
    "GET",
    summary="Offers the member may use now",
    tag="me",
    auth="member",
    responses={
        200: (
            "The offers; empty when campaigns cannot answer",
            {
                "type": "object",
                "required": ["offers"],
                "properties": {"offers": {"type": "array", "items": OFFER}},
            },
        )
    },
)
def my_offers():
    return {"offers": clients().campaigns.offers(g.caller.member_id)}


MISSION = {
    "type": "object",
    "required": [
        "id",
        "name",
        "metric",
        "target",
        "progress",
        "completed",
        "period_ends_at",
        "reward_points",
        "reward",
    ],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "metric": {
            "type": "string",
            "description": (
                "What counts: purchases, spend, category_purchases, feedback, referrals or"
                " profile_complete"
            ),
        },
        "target": {
            "type": "integer",
            "description": "The goal: a count, or for a spend goal an amount in minor units",
        },
        "progress": {"type": "integer", "description": "In this period, at most the target"},
        "completed": {"type": "boolean", "description": "Reached (and paid) in this period"},
        "period_ends_at": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "When this week's or month's progress starts again; null for once",
        },
        "reward_points": {"type": "integer", "description": "Points a completion gives (0: none)"},
        "reward": {
            "type": ["object", "null"],
            "description": (
                "The catalog reward a completion gives free, as a coupon (null: none); its"
                " names are null when the catalog cannot be read"
            ),
            "required": ["id", "name", "name_fa", "kind"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": ["string", "null"]},
                "name_fa": {"type": ["string", "null"]},
                "kind": {"type": ["string", "null"], "description": "coupon, partner_code or gift"},
            },
        },
    },
}


@operation(
    bp,
    "/v1/me/missions",
    "GET",
    summary="The missions the member is in, with progress in the current period",
    tag="me",
    auth="member",
    responses={
        200: (
            "The missions",
            {
                "type": "object",
                "required": ["items"],
                "properties": {"items": {"type": "array", "items": MISSION}},
            },
        )
    },
)
def my_missions():
    return {"items": member_missions(clients(), g.caller.member_id)}


MESSAGE = {
    "type": "object",
    "required": ["id", "channel", "body", "sent_at", "subject"],
    "properties": {
        "id": {"type": "string"},
        "channel": {"type": "string", "enum": ["sms", "email"]},
        "body": {"type": "string", "description": "The text as it was sent"},
        "sent_at": {"type": "string", "format": "date-time"},
        "subject": {"type": "string", "description": "The campaign's or the prize draw's name"},
    },
}


@operation(
    bp,
    "/v1/me/messages",
    "GET",
    summary="The messages the club sent the member (campaigns, prize draws), newest first",
    tag="me",
    auth="member",
    query=MESSAGES_QUERY,
    responses={
        200: (
            "A page of messages",
            {
                "type": "object",
                "required": ["items", "next_cursor"],
                "properties": {
                    "items": {"type": "array", "items": MESSAGE},
                    "next_cursor": {
                        "type": ["string", "null"],
                        "description": "null on the last page",
                    },
                },
            },
        ),
        422: ("The cursor is not valid", None),
    },
)
def my_messages():
    return clients().campaigns.member_messages(g.caller.member_id, *messages_page_args())


@operation(
    bp,
    "/v1/me/feedback",
    "POST",
    summary="Rate the club (1 to 5) with an optional comment",
    tag="me",
    auth="member",
    request_schema={
        "type": "object",
        "required": ["rating"],
        "properties": {
            "feedback_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "description": "The page's own id for this feedback: sent twice, it counts once",
            },
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "comment": {"type": "string", "maxLength": 2000},
        },
    },
    example={"feedback_id": "f-2026-11-22-1", "rating": 4, "comment": "Friendly staff"},
    responses={
        201: (
            "Thank you",
            {
                "type": "object",
                "required": ["feedback_id"],
                "properties": {"feedback_id": {"type": "string"}},
            },
        ),
        422: (
            "Not a valid rating or comment, or the feedback id was used for other feedback",
            None,
        ),
    },
)
def give_feedback(body: dict):
    feedback_id = clients().campaigns.submit_feedback(
        g.caller.member_id,
        body.get("feedback_id") or str(uuid.uuid4()),
        body["rating"],
        body.get("comment", ""),
    )
    return {"feedback_id": feedback_id}, 201


REDEEMED = {
    "type": "object",
    "required": ["coupon", "points_spent", "balance"],
    "properties": {"coupon": COUPON, "points_spent": {"type": "integer"}, "balance": BALANCE},
}
COUPON_STATUS = query_param(
    "status",
    "Only coupons of this status",
    {"type": "string", "enum": ["issued", "used", "expired", "cancelled"]},
)


@operation(
    bp,
    "/v1/me/rewards",
    "GET",
    summary="The rewards this member may see and redeem now",
    tag="me",
    auth="member",
    responses={200: ("Active rewards shown to this member, newest first", REWARDS)},
)
def my_rewards():
    return {"items": clients().rewards.rewards(g.caller.member_id)}


@operation(
    bp,
    "/v1/me/rewards/<reward_id>/redemptions",
    "POST",
    summary="Spend points on a reward: the points, the stock and the coupon move together",
    tag="me",
    auth="member",
    request_schema={
        "type": "object",
        "required": ["request_id"],
        "properties": {
            "request_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "description": "The page's own id for this redemption: sent again, it answers"
                " the same coupon and spends nothing more",
            }
        },
    },
    example={"request_id": "redeem-2026-12-03-1"},
    response_examples={
        201: {
            "coupon": COUPON_EXAMPLE,
            "points_spent": 500,
            "balance": {"available": 740, "pending": 0},
        }
    },
    responses={
        201: ("The coupon; the same request_id again answers the same", REDEEMED),
        404: ("No such reward, or not one this member may see", None),
        409: ("`out-of-stock`, or `reward-limit-reached` for this member", None),
        422: (
            "`insufficient-points`, `reward-unavailable` (paused or outside its window), or"
            " the request_id was used for another reward (`idempotency-mismatch`)",
            None,
        ),
    },
)
def redeem_reward(reward_id: str, body: dict):
    return clients().rewards.redeem(g.caller.member_id, reward_id, body["request_id"]), 201


@operation(
    bp,
    "/v1/me/coupons",
    "GET",
    summary="This member's coupons, newest first",
    tag="me",
    auth="member",
    query=[COUPON_STATUS],
    responses={200: ("The coupons", COUPONS), 422: ("Not a coupon status", None)},
)
def my_coupons():
    status = request.args.get("status", "")
    return {"items": clients().rewards.coupons(g.caller.member_id, status)}


@operation(
    bp,
    "/v1/me/draws",
    "GET",
    summary=(
        "Prize draws: the open ones the member may enter and those they hold chances in, with"
        " results"
    ),
    tag="me",
    auth="member",
    responses={200: ("The draws with the member's chances (my_chances)", DRAWS)},
)
def my_draws():
    currency = current_app.config["LOYALTY"].currency
    return {"items": clients().campaigns.draws(currency, g.caller.member_id)}


@operation(
    bp,
    "/v1/me/draws/<draw_id>/chances",
    "POST",
    summary="Buy chances in a draw with points",
    tag="me",
    auth="member",
    request_schema={
        "type": "object",
        "required": ["request_id", "chances"],
        "properties": {
            "request_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "description": "The page's own id for this purchase: sent again, it spends"
                " nothing more",
            },
            "chances": {"type": "integer", "minimum": 1, "maximum": 1000000},
        },
    },
    example={"request_id": "draw-2026-12-03-1", "chances": 2},
    responses={
        200: ("The draw with the member's chances now", DRAW),
        404: ("No such draw (`draw-not-found`)", None),
        409: ("The request_id was used for another purchase (`request-id-reused`)", None),
        422: (
            "`insufficient-points`, `draw-not-open`, `chances-not-for-sale`,"
            " `too-many-chances` (over the draw's max_per_member) or `not-eligible` (the"
            " member is outside the draw's audience; nothing is spent); not a draw id",
            None,
        ),
    },
)
def buy_draw_chances(draw_id: str, body: dict):
    currency = current_app.config["LOYALTY"].currency
    return clients().campaigns.buy_draw_chances(
        draw_id, g.caller.member_id, body["request_id"], body["chances"], currency
    )
