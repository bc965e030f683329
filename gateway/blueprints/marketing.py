"""The marketer's API: segments, campaigns, their reports, members by lifecycle stage, and the
rewards catalog."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, current_app, g, request

from gateway import segment_export
from gateway.api import operation, query_param
from gateway.clients import clients
from gateway.clients.campaigns import ACTIONS, KINDS, kinds_giving
from gateway.csv_export import CSV_FILE, csv_response
from gateway.problems import Problem
from gateway.schemas import (
    DRAW,
    DRAW_ENTRIES,
    DRAW_REQUEST,
    DRAWS,
    REWARD,
    REWARD_CHANGE,
    REWARD_REQUEST,
    REWARDS,
    TARGETING,
)

bp = Blueprint("marketing", __name__)

# The admin token, or a staff session of role marketer or admin.
MARKETER = "marketing"

TAG = "marketing"
NOT_FOUND = {404: ("No such segment or campaign", None)}
REFUSED = {
    422: (
        "A value the club refuses, e.g. a bad rule (`invalid-rule`) or template"
        " (`invalid-template`)",
        None,
    )
}

RULE = {
    "type": "object",
    "description": (
        "A rule: `{and: [...]}`, `{or: [...]}`, `{not: rule}` or `{attr, op, value}` over stage,"
        " tier, city, gender, purchase_count, refund_count, points, rfm_r, rfm_f, rfm_m,"
        " days_since_last_purchase, days_since_enrolled, birthday_month, last_rating,"
        " total_spend, average_spend, consent_sms, consent_email, categories"
    ),
}
SEGMENT_REQUEST = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "rule": RULE,
        "member_ids": {
            "type": "array",
            "items": {"type": "string"},
            "maxItems": 100000,
            "description": "A static segment: these members (instead of a rule)",
        },
    },
}
SEGMENT = {
    "type": "object",
    "required": ["id", "name", "kind", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["rule", "static"]},
        "rule": {"type": ["object", "null"]},
        "created_at": {"type": "string"},
    },
}
PREVIEW_REQUEST = {"type": "object", "required": ["rule"], "properties": {"rule": RULE}}
PREVIEW = {
    "type": "object",
    "required": ["size", "fewer_than", "sample"],
    "properties": {
        "size": {
            "type": ["integer", "null"],
            "description": "How many members; null when the audience is withheld (fewer_than)",
        },
        "fewer_than": {
            "type": ["integer", "null"],
            "description": (
                "Set (to 10) when the audience is smaller than that, none included: its size"
                " and sample are then withheld, so that no preview tells about one member"
            ),
        },
        "sample": {
            "type": "array",
            "description": "Up to 20 of the members, by stage and tier only (never who)",
            "items": {
                "type": "object",
                "properties": {"stage": {"type": "string"}, "tier": {"type": "string"}},
            },
        },
    },
}
NAMES = {"type": "array", "items": {"type": "string"}}
CAMPAIGN_REQUEST = {
    "type": "object",
    "required": ["name", "kind"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "kind": {"type": "string", "enum": list(KINDS)},
        "multiplier": {
            "type": ["number", "string"],
            "description": ", ".join(kinds_giving("multiplier")),
        },
        "points": {"type": "integer", "description": ", ".join(kinds_giving("points"))},
        "categories": NAMES,
        "skus": NAMES,
        "min_spend": {
            "type": "string",
            "description": f"{', '.join(kinds_giving('min_spend'))}: the smallest amount",
        },
        "offer": {
            "type": "object",
            "required": ["title"],
            "properties": {
                "title": {"type": "string"},
                "description": {"type": "string"},
                "code": {"type": "string"},
            },
        },
        "coupon": {
            "type": "object",
            "description": (
                f"{', '.join(kinds_giving('coupon'))}: the coupon points issues to each member"
                " of the audience (the control group excepted), once"
            ),
            "required": ["type", "value"],
            "properties": {
                "type": {"type": "string", "enum": ["amount", "percent"]},
                "value": {
                    "type": ["string", "number"],
                    "description": "A percent (1-100) or an amount off, as a decimal string",
                },
                "max_discount": {"type": "string", "description": "Cap of a percent discount"},
                "min_purchase": {"type": "string"},
                "valid_days": {"type": "integer", "minimum": 1, "maximum": 3650, "default": 30},
            },
        },
        "goal": {
            "type": "object",
            "description": (
                f"{', '.join(kinds_giving('goal'))}: what a member must do within each period;"
                " a spend target is an amount, a profile_complete target is 1"
            ),
            "required": ["metric", "target"],
            "properties": {
                "metric": {
                    "type": "string",
                    "description": (
                        "purchases, spend, category_purchases, feedback, referrals or"
                        " profile_complete"
                    ),
                },
                "target": {"type": ["integer", "string"]},
                "category": {"type": "string", "description": "For category_purchases"},
            },
        },
        "period": {
            "type": "string",
            "description": (
                f"{', '.join(kinds_giving('period'))}: once, week or month (weeks start on"
                " Monday, in the schedule's time zone)"
            ),
        },
        "reward_points": {
            "type": "integer",
            "description": (
                f"{', '.join(kinds_giving('reward_points'))}: paid once per period; a mission"
                " gives reward_points, a reward_id, or both"
            ),
        },
        "reward_id": {
            "type": "string",
            "format": "uuid",
            "description": (
                "mission: a reward of the catalog given free once per period (its stock taken,"
                " no points spent); one the catalog does not hold is refused as the mission is"
                " saved; one paused, ended or out of stock at completion is recorded on the"
                " completion as failed"
            ),
        },
        "congratulate": {
            "type": "object",
            "description": (
                "mission: a message to the member once per completion, on a channel they"
                " consented to; its template as `message`'s"
            ),
            "required": ["channel", "template"],
            "properties": {
                "channel": {"type": "string", "enum": ["sms", "email"]},
                "template": {"type": "string"},
            },
        },
        "targeting": TARGETING,
        "schedule": {
            "type": "object",
            "properties": {
                "starts_at": {"type": "string", "format": "date-time"},
                "ends_at": {"type": "string", "format": "date-time"},
                "days_of_week": {"type": "array", "items": {"type": "integer"}},
                "hours": {
                    "type": "object",
                    "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
                },
                "timezone": {"type": "string"},
            },
        },
        "budget_points": {"type": ["integer", "null"]},
        "per_member_limit": {"type": ["integer", "null"], "description": "awards per member"},
        "priority": {"type": "integer"},
        "stackable": {"type": "boolean"},
        "control_percent": {"type": "integer", "minimum": 0, "maximum": 50},
        "message": {
            "type": "object",
            "required": ["channel", "template"],
            "properties": {
                "channel": {"type": "string", "enum": ["sms", "email"]},
                "template": {
                    "type": "string",
                    "description": (
                        "Text with {first_name}, {points}, {expiry}, {offer} written bare (no"
                        " format, conversion or other field); `{{` and `}}` write braces. One"
                        " that would not render, or would render blank or beyond 1000"
                        " characters, is refused (422 `invalid-template`)"
                    ),
                },
            },
        },
    },
}
CAMPAIGN_EXAMPLE = {
    "name": "Double points for the unhappy",
    "kind": "multiplier",
    "multiplier": 2,
    "targeting": {"stages": ["dissatisfied"]},
    "schedule": {"ends_at": "2026-12-31T23:59:59+03:30"},
    "budget_points": 100000,
    "per_member_limit": 3,
    "control_percent": 10,
}
CAMPAIGN = {
    "type": "object",
    "required": ["id", "name", "kind", "status", "definition", "awarded_points"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["draft", "scheduled", "active", "paused", "ended"],
        },
        "definition": {"type": "object"},
        "awarded_points": {"type": "integer"},
        "created_at": {"type": "string"},
        "launched_at": {"type": ["string", "null"]},
        "allowed_actions": {
            "type": "array",
            "items": {"type": "string", "enum": list(ACTIONS)},
            "description": "The status changes the campaign accepts now (`POST .../<action>`)",
        },
        "deletable": {"type": "boolean", "description": "Whether `DELETE` accepts it (a draft)"},
    },
}
GROUP = {
    "type": "object",
    "properties": {
        "members": {"type": "integer"},
        "buyers": {"type": "integer"},
        "visits": {"type": "integer"},
        "spend": {"type": "string"},
        "spend_per_member": {"type": "string"},
        "visits_per_member": {"type": "number"},
    },
}
REPORT = {
    "type": "object",
    "required": ["campaign_id", "status", "audience", "target", "control"],
    "properties": {
        "campaign_id": {"type": "string"},
        "status": {"type": "string"},
        "audience": {"type": "integer"},
        "reached": {"type": "integer"},
        "messages_sent": {"type": "integer"},
        "points_awarded": {"type": "integer"},
        "budget_points": {"type": ["integer", "null"]},
        "coupons_issued": {"type": "integer", "description": "A coupon campaign's coupons"},
        "coupons_used": {"type": "integer", "description": "Of those, used at a till"},
        "missions_started": {"type": "integer", "description": "A mission's members with progress"},
        "missions_completed": {
            "type": "integer",
            "description": "Members who completed a mission's period",
        },
        "mission_points_paid": {"type": "integer", "description": "Points paid for completions"},
        "currency": {"type": "string"},
        "window": {"type": "object"},
        "target": GROUP,
        "control": GROUP,
        "uplift": {
            "type": "object",
            "description": "Target minus control, per member",
            "properties": {
                "spend_per_member": {"type": "string"},
                "visits_per_member": {"type": "number"},
            },
        },
    },
}
STAGES = {
    "type": "object",
    "required": ["dissatisfied", "stages"],
    "properties": {
        "dissatisfied": {
            "type": "array",
            "description": "Dissatisfied members, most recent first",
            "items": {
                "type": "object",
                "properties": {
                    "member_id": {"type": "string"},
                    "first_name": {"type": "string"},
                    "since": {"type": ["string", "null"]},
                    "last_rating": {"type": ["integer", "null"]},
                },
            },
        },
        "stages": {"type": "object", "additionalProperties": {"type": "integer"}},
        "days": {
            "type": "array",
            "description": "Members who entered each stage per UTC day, the last 30 days",
            "items": {
                "type": "object",
                "properties": {
                    "day": {"type": "string"},
                    "stage": {"type": "string"},
                    "entered": {"type": "integer"},
                },
            },
        },
    },
}
MEMBER_VIEW = {
    "type": "object",
    "required": ["feeds"],
    "properties": {
        "feeds": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "feed": {"type": "string"},
                    "events_applied": {"type": "integer"},
                    "last_event_at": {"type": ["string", "null"]},
                    "applied_at": {"type": ["string", "null"]},
                    "pending": {"type": "integer", "description": "-1: the feed cannot be asked"},
                },
            },
        }
    },
}


def currency() -> str:
    return current_app.config["LOYALTY"].currency


@operation(
    bp,
    "/v1/marketing/segments",
    "POST",
    summary="Create a segment from a rule, or from a list of member ids",
    tag=TAG,
    auth=MARKETER,
    request_schema=SEGMENT_REQUEST,
    example={
        "name": "Unhappy in Tehran",
        "rule": {
            "and": [
                {"attr": "stage", "op": "eq", "value": "dissatisfied"},
                {"attr": "city", "op": "eq", "value": "tehran"},
            ]
        },
    },
    responses={201: ("The segment", SEGMENT), **REFUSED},
)
def create_segment(body: dict):
    return clients().campaigns.create_segment(body), 201


@operation(
    bp,
    "/v1/marketing/segments",
    "GET",
    summary="All segments",
    tag=TAG,
    auth=MARKETER,
    responses={
        200: (
            "The segments",
            {"type": "object", "properties": {"segments": {"type": "array", "items": SEGMENT}}},
        )
    },
)
def list_segments():
    return {"segments": clients().campaigns.segments()}


@operation(
    bp,
    "/v1/marketing/segments/<segment_id>",
    "GET",
    summary="One segment",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("The segment", SEGMENT), **NOT_FOUND, **REFUSED},
)
def get_segment(segment_id: str):
    return clients().campaigns.segment(segment_id)


@operation(
    bp,
    "/v1/marketing/segments/<segment_id>",
    "DELETE",
    summary=(
        "Delete a segment that no running, scheduled, paused or draft campaign and no open"
        " draw targets"
    ),
    tag=TAG,
    auth=MARKETER,
    responses={
        204: ("Deleted", None),
        409: ("A campaign or an open draw targets it (`segment-in-use`)", None),
        **NOT_FOUND,
        **REFUSED,
    },
)
def delete_segment(segment_id: str):
    clients().campaigns.delete_segment(segment_id)
    return "", 204


@operation(
    bp,
    "/v1/marketing/segments/<segment_id>/export.csv",
    "GET",
    summary="The segment's members who consented to a channel, with their phone (sms) or e-mail"
    " (email), as CSV; each export is recorded in the audit trail with who, when and how many",
    tag=TAG,
    auth=MARKETER,
    query=[
        query_param(
            "channel",
            "sms (the phone column) or email (the email column)",
            {"type": "string", "enum": list(segment_export.CHANNELS)},
            "sms",
        )
    ],
    media_type="text/csv",
    responses={
        200: (
            "member_id, first_name and the phone or email of each consented member",
            CSV_FILE,
        ),
        422: ("No such channel (`invalid-channel`)", None),
        **NOT_FOUND,
    },
)
def export_segment(segment_id: str):
    channel = request.args.get("channel", "")
    if channel not in segment_export.CHANNELS:
        raise Problem(422, "invalid-channel", "channel must be sms or email")
    rows = segment_export.contact_rows(clients(), segment_id, channel, g.caller.actor)
    return csv_response(
        segment_export.columns(channel), rows, f"segment-{segment_id}-{channel}.csv"
    )


@operation(
    bp,
    "/v1/marketing/segments/preview",
    "POST",
    summary="How many members a rule selects now, and a sample of them",
    tag=TAG,
    auth=MARKETER,
    request_schema=PREVIEW_REQUEST,
    example={"rule": {"attr": "days_since_last_purchase", "op": "gt", "value": 90}},
    responses={200: ("Size and sample", PREVIEW), **REFUSED},
)
def preview_rule(body: dict):
    return clients().campaigns.preview_rule(body["rule"])


@operation(
    bp,
    "/v1/marketing/segments/<segment_id>/preview",
    "GET",
    summary="How many members a segment holds now, and a sample of them",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("Size and sample", PREVIEW), **NOT_FOUND, **REFUSED},
)
def preview_segment(segment_id: str):
    return clients().campaigns.preview_segment(segment_id)


@operation(
    bp,
    "/v1/marketing/campaigns",
    "POST",
    summary="Create a campaign (a draft until launched)",
    tag=TAG,
    auth=MARKETER,
    request_schema=CAMPAIGN_REQUEST,
    example=CAMPAIGN_EXAMPLE,
    responses={201: ("The campaign", CAMPAIGN), **REFUSED},
)
def create_campaign(body: dict):
    return clients().campaigns.create_campaign(body), 201


@operation(
    bp,
    "/v1/marketing/campaigns",
    "GET",
    summary="All campaigns, newest first",
    tag=TAG,
    auth=MARKETER,
    responses={
        200: (
            "The campaigns",
            {"type": "object", "properties": {"campaigns": {"type": "array", "items": CAMPAIGN}}},
        )
    },
)
def list_campaigns():
    return {"campaigns": clients().campaigns.campaigns()}


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>",
    "GET",
    summary="One campaign",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("The campaign", CAMPAIGN), **NOT_FOUND, **REFUSED},
)
def get_campaign(campaign_id: str):
    return clients().campaigns.campaign(campaign_id)


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>",
    "PUT",
    summary="Replace a draft campaign's definition",
    tag=TAG,
    auth=MARKETER,
    request_schema=CAMPAIGN_REQUEST,
    example=CAMPAIGN_EXAMPLE,
    responses={
        200: ("The campaign", CAMPAIGN),
        409: ("The campaign is no longer a draft", None),
        **NOT_FOUND,
        **REFUSED,
    },
)
def update_campaign(campaign_id: str, body: dict):
    return clients().campaigns.update_campaign(campaign_id, body)


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>",
    "DELETE",
    summary="Delete a draft campaign",
    tag=TAG,
    auth=MARKETER,
    responses={
        204: ("Deleted", None),
        409: ("Only drafts can be deleted (`campaign-not-draft`)", None),
        **NOT_FOUND,
        **REFUSED,
    },
)
def delete_campaign(campaign_id: str):
    clients().campaigns.delete_campaign(campaign_id)
    return "", 204


TRANSITION_RESPONSES = {
    200: ("The campaign", CAMPAIGN),
    409: ("Not possible from the campaign's status (`campaign-<status>`)", None),
    **NOT_FOUND,
    **REFUSED,
}


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>/launch",
    "POST",
    summary="Launch a draft or paused campaign: scheduled until its start, then active",
    tag=TAG,
    auth=MARKETER,
    responses=TRANSITION_RESPONSES,
)
def launch_campaign(campaign_id: str):
    return clients().campaigns.change_status(campaign_id, "launch")


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>/pause",
    "POST",
    summary="Pause a scheduled or active campaign",
    tag=TAG,
    auth=MARKETER,
    responses=TRANSITION_RESPONSES,
)
def pause_campaign(campaign_id: str):
    return clients().campaigns.change_status(campaign_id, "pause")


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>/end",
    "POST",
    summary="End a campaign for good",
    tag=TAG,
    auth=MARKETER,
    responses=TRANSITION_RESPONSES,
)
def end_campaign(campaign_id: str):
    return clients().campaigns.change_status(campaign_id, "end")


@operation(
    bp,
    "/v1/marketing/campaigns/<campaign_id>/report",
    "GET",
    summary="Audience, reach, buyers, points against budget, and target against control",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("The report", REPORT), **NOT_FOUND, **REFUSED},
)
def campaign_report(campaign_id: str):
    return clients().campaigns.campaign_report(campaign_id, currency())


@operation(
    bp,
    "/v1/marketing/stages",
    "GET",
    summary="Dissatisfied members first (most recent first), then members per lifecycle stage",
    tag=TAG,
    auth=MARKETER,
    query=[query_param("limit", "How many dissatisfied members to list (default 100)")],
    responses={200: ("The overview", STAGES)},
)
def stages():
    raw = request.args.get("limit", "100")
    if not raw.isdecimal() or not 1 <= int(raw) <= 1000:
        raise Problem(400, "invalid-request", "limit must be 1 to 1000", field="limit")
    return clients().campaigns.stage_overview(int(raw))


@operation(
    bp,
    "/v1/marketing/member-view",
    "GET",
    summary="How far the member view has read each service's events (its lag)",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("Each feed", MEMBER_VIEW)},
)
def member_view():
    return clients().campaigns.member_view_status()


REWARD_NOT_FOUND = {404: ("No such reward (`reward-not-found`)", None)}
REWARD_REFUSED = {
    422: (
        "A value the club refuses, e.g. `invalid-coupon`, `invalid-stock`,"
        " `invalid-visibility` (an unknown tier)",
        None,
    )
}
MAX_CODES = 100_000
CODES_REQUEST = {
    "type": "object",
    "description": "The codes as a JSON list, or as CSV text (the first column of each row;"
    " a first row `code` is a header)",
    "properties": {
        "codes": {
            "type": "array",
            "maxItems": MAX_CODES,
            "items": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        "csv": {"type": "string", "maxLength": 5_000_000},
    },
}
CODES_ADDED = {
    "type": "object",
    "required": ["added", "duplicates"],
    "properties": {
        "added": {"type": "integer"},
        "duplicates": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Refused: repeated in the upload or already in the pool",
        },
    },
}


@operation(
    bp,
    "/v1/marketing/rewards",
    "POST",
    summary="Add a reward to the catalog",
    tag=TAG,
    auth=MARKETER,
    request_schema=REWARD_REQUEST,
    example={
        "name": "10% off your next basket",
        "name_fa": "۱۰٪ تخفیف خرید بعدی",
        "points_cost": 500,
        "stock": 1000,
        "per_member_limit": 2,
        "valid_days": 30,
        "coupon": {"type": "percent", "value": "10", "max_discount": "500000"},
    },
    responses={201: ("The reward", REWARD), **REWARD_REFUSED},
)
def create_reward(body: dict):
    return clients().rewards.create_reward(body, g.caller.actor), 201


@operation(
    bp,
    "/v1/marketing/rewards",
    "GET",
    summary="Every reward with its figures: issued, used, expired, points spent, stock left",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("The catalog, newest first", REWARDS)},
)
def list_rewards():
    return {"items": clients().rewards.rewards()}


@operation(
    bp,
    "/v1/marketing/rewards/<reward_id>",
    "PATCH",
    summary="Edit, restock, pause or resume a reward",
    tag=TAG,
    auth=MARKETER,
    request_schema=REWARD_CHANGE,
    example={"stock": 250, "status": "paused"},
    responses={200: ("The reward", REWARD), **REWARD_NOT_FOUND, **REWARD_REFUSED},
)
def update_reward(reward_id: str, body: dict):
    return clients().rewards.update_reward(reward_id, body, g.caller.actor)


@operation(
    bp,
    "/v1/marketing/rewards/<reward_id>/codes",
    "POST",
    summary="Upload partner codes to a partner reward's pool; duplicates are refused",
    tag=TAG,
    auth=MARKETER,
    request_schema=CODES_REQUEST,
    example={"codes": ["CINEMA-0001", "CINEMA-0002"]},
    responses={
        200: ("How many were added, and the duplicates refused", CODES_ADDED),
        **REWARD_NOT_FOUND,
        422: (
            "No codes, more than 100,000, a code too long (`invalid-codes`), or not a partner"
            " reward (`not-partner-reward`)",
            None,
        ),
    },
)
def add_codes(reward_id: str, body: dict):
    codes = list(body.get("codes", []))
    if "csv" in body:
        rows = [row for row in csv.reader(io.StringIO(body["csv"])) if row and row[0].strip()]
        if rows and rows[0][0].strip().lower() == "code":
            rows = rows[1:]
        codes += [row[0] for row in rows]
    if len(codes) > MAX_CODES:
        raise Problem(422, "invalid-codes", f"at most {MAX_CODES} codes at a time")
    return clients().rewards.add_codes(reward_id, codes)


REFERRAL_PROGRAM_REQUEST = {
    "type": "object",
    "required": ["referrer_points", "referee_points", "min_purchase", "monthly_cap"],
    "additionalProperties": False,
    "properties": {
        "referrer_points": {
            "type": "integer",
            "minimum": 0,
            "description": "Points for the member whose code the friend gave",
        },
        "referee_points": {"type": "integer", "minimum": 0, "description": "Points for the friend"},
        "min_purchase": {
            "type": ["string", "integer"],
            "description": "The friend's first purchase of at least this much rewards both",
        },
        "monthly_cap": {
            "type": "integer",
            "minimum": 0,
            "maximum": 10000,
            "description": "Friends a month (UTC) who earn the referrer their part; the friend"
            " still gets theirs",
        },
        "active": {
            "type": "boolean",
            "description": "Off: codes given at enrolment are refused (default on)",
        },
    },
}
REFERRAL_PROGRAM = {
    "type": "object",
    "required": ["referrer_points", "referee_points", "min_purchase", "monthly_cap", "active"],
    "properties": {
        **REFERRAL_PROGRAM_REQUEST["properties"],
        "currency": {"type": "string"},
        "updated_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


@operation(
    bp,
    "/v1/marketing/referral-program",
    "PUT",
    summary="Set the referral program",
    tag=TAG,
    auth=MARKETER,
    request_schema=REFERRAL_PROGRAM_REQUEST,
    example={
        "referrer_points": 500,
        "referee_points": 200,
        "min_purchase": "500000",
        "monthly_cap": 10,
        "active": True,
    },
    responses={200: ("The program", REFERRAL_PROGRAM), **REFUSED},
)
def set_referral_program(body: dict):
    return clients().points.set_referral_program(body, g.caller.actor)


@operation(
    bp,
    "/v1/marketing/referral-program",
    "GET",
    summary="The referral program",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("The program (off, with zeros, until it is set)", REFERRAL_PROGRAM)},
)
def get_referral_program():
    return clients().points.referral_program()


DRAW_NOT_FOUND = {
    404: ("No such draw (`draw-not-found`)", None),
    422: ("Not a draw id", None),
}


@operation(
    bp,
    "/v1/marketing/draws",
    "POST",
    summary="Create a prize draw; its secret seed is committed to by its published SHA-256",
    tag=TAG,
    auth=MARKETER,
    request_schema=DRAW_REQUEST,
    example={
        "name": "Yalda draw",
        "closes_at": "2026-12-21T20:30:00Z",
        "prizes": [{"name": "Tablet", "count": 1}, {"name": "Gift card", "count": 5}],
        "chances": {"per_purchase": 1, "points_per_chance": 5, "max_per_member": 50},
        "targeting": {"tiers": ["gold"]},
    },
    responses={
        201: ("The draw, open", DRAW),
        422: (
            "A value the club refuses: `invalid-name`, `invalid-closes-at`, `invalid-prizes`,"
            " `invalid-chances` or `invalid-targeting` (an unknown field or stage, a segment"
            " that does not exist)",
            None,
        ),
    },
)
def create_draw(body: dict):
    return clients().campaigns.create_draw(body, currency()), 201


@operation(
    bp,
    "/v1/marketing/draws",
    "GET",
    summary="Prize draws, newest first",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("The draws", DRAWS)},
)
def list_draws():
    return {"items": clients().campaigns.draws(currency())}


@operation(
    bp,
    "/v1/marketing/draws/<draw_id>",
    "GET",
    summary="A prize draw, with its entrants and the chances they hold",
    tag=TAG,
    auth=MARKETER,
    responses={200: ("The draw", DRAW), **DRAW_NOT_FOUND},
)
def get_draw(draw_id: str):
    return clients().campaigns.draw(draw_id, currency())


@operation(
    bp,
    "/v1/marketing/draws/<draw_id>/close",
    "POST",
    summary="Close a draw: reveal its seed and pick its winners (closing again answers the same)",
    tag=TAG,
    auth=MARKETER,
    responses={
        200: ("The closed draw with its seed and winners", DRAW),
        **DRAW_NOT_FOUND,
        422: ("The draw was cancelled (`draw-cancelled`), or it is not a draw id", None),
    },
)
def close_draw(draw_id: str):
    return clients().campaigns.close_draw(draw_id, currency())


@operation(
    bp,
    "/v1/marketing/draws/<draw_id>/cancel",
    "POST",
    summary="Cancel an open draw: the points spent on its chances are returned",
    tag=TAG,
    auth=MARKETER,
    responses={
        200: ("The cancelled draw", DRAW),
        **DRAW_NOT_FOUND,
        422: ("The draw is closed (`draw-closed`), or it is not a draw id", None),
    },
)
def cancel_draw(draw_id: str):
    return clients().campaigns.cancel_draw(draw_id, currency())


@operation(
    bp,
    "/v1/marketing/draws/<draw_id>/entries",
    "GET",
    summary="The entries a draw used (member ids and chances), to re-run it from its seed",
    tag=TAG,
    auth=MARKETER,
    responses={
        200: ("The entries, and once closed the seed and winners", DRAW_ENTRIES),
        **DRAW_NOT_FOUND,
    },
)
def draw_entries(draw_id: str):
    return clients().campaigns.draw_entries(draw_id)
